#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
//! Spaces, errors, wrappers and rendering.

use ml_rl::{
    Action, Env, FrameStack, NormalizeObservation, NormalizeReward, NumpyRng, RecordEpisodeStatistics, RecordFrames,
    RunningMeanStd, Space, TimeLimit, make, make_unwrapped, write_gif, write_png_strip,
};

#[test]
fn spaces_sample_what_they_contain_and_parse_actions() {
    let mut rng = NumpyRng::new(0);
    for id in ml_rl::REGISTRY.map(|s| s.id) {
        let env = make(id).unwrap();
        for _ in 0..200 {
            let a = env.action_space().sample(&mut rng);
            assert!(env.action_space().contains(&a), "{id}: {a:?}");
        }
    }
    let d = Space::Discrete { n: 3, start: -1 };
    assert!(d.contains(&Action::Discrete(-1)) && d.contains(&Action::Discrete(1)) && !d.contains(&Action::Discrete(2)));
    let b = Space::boxed(vec![-1.0, f32::NEG_INFINITY], vec![1.0, 0.0]);
    let mut rng = NumpyRng::new(1);
    for _ in 0..100 {
        let Action::Continuous(v) = b.sample(&mut rng) else {
            panic!()
        };
        assert!((-1.0..=1.0).contains(&v[0]) && v[1] <= 0.0);
    }
    let m = Space::MultiDiscrete { nvec: vec![2, 3] };
    assert!(m.contains(&Action::MultiDiscrete(vec![1, 2])) && !m.contains(&Action::MultiDiscrete(vec![2, 0])));
    assert_eq!(Action::parse(" 1 ", &Space::discrete(2)).unwrap(), Action::Discrete(1));
    assert_eq!(
        Action::parse("0.5, -1", &b).unwrap(),
        Action::Continuous(vec![0.5, -1.0])
    );
    // Out of bounds is the environment's to clip, as in Gymnasium.
    assert_eq!(
        Action::parse("5", &Space::boxed(vec![-1.0], vec![1.0])).unwrap(),
        Action::Continuous(vec![5.0])
    );
    for (text, space) in [
        ("2", Space::discrete(2)),
        ("x", Space::discrete(2)),
        ("0.5", b.clone()),
        ("1,3", m),
    ] {
        let err = Action::parse(text, &space).unwrap_err().to_string();
        assert!(err.contains("action"), "{text}: {err}");
    }
}

#[test]
fn wrong_use_is_an_error_not_a_panic() {
    for id in ml_rl::REGISTRY.map(|s| s.id) {
        let mut env = make(id).unwrap();
        let a = env.action_space().sample(&mut NumpyRng::new(0));
        let err = env.step(&a).unwrap_err().to_string();
        assert!(err.contains("reset"), "{id}: {err}");
        assert!(env.render().is_err());
        env.reset(Some(0)).unwrap();
        for bad in [
            Action::Discrete(7),
            Action::Continuous(vec![0.0; 3]),
            Action::Continuous(vec![f32::NAN]),
        ] {
            assert!(env.step(&bad).is_err(), "{id}: {bad:?}");
        }
    }
    let err = make("LunarLander-v3").err().unwrap().to_string();
    assert!(err.contains("CartPole-v1"), "{err}");
}

#[test]
fn reset_without_a_seed_goes_on_and_with_one_repeats() {
    let mut env = make_unwrapped("CartPole-v1").unwrap();
    let (a, _) = env.reset(Some(3)).unwrap();
    let (b, _) = env.reset(None).unwrap();
    let (c, _) = env.reset(Some(3)).unwrap();
    assert_eq!(a, c);
    assert_ne!(a, b);
}

#[test]
fn time_limit_and_episode_statistics() {
    let mut env = RecordEpisodeStatistics::new(TimeLimit::new(make_unwrapped("Pendulum-v1").unwrap(), 7), 2);
    for episode in 0..3 {
        env.reset(Some(episode)).unwrap();
        let mut total = 0.0;
        for t in 0..7 {
            let s = env.step(&Action::Continuous(vec![0.5])).unwrap();
            total += s.reward;
            assert_eq!(s.truncated, t == 6);
            if s.truncated {
                assert_eq!(s.info["episode_length"], 7.0);
                assert!((s.info["episode_return"] - total).abs() < 1e-12);
            } else {
                assert!(s.info.is_empty());
            }
        }
    }
    assert_eq!(env.lengths.len(), 2, "the buffer keeps the last two episodes");
}

#[test]
fn running_statistics_match_the_batch_formula() {
    let xs: Vec<Vec<f64>> = (0..50).map(|i| vec![f64::from(i).sin() * 3.0 + 1.0]).collect();
    let mut one = RunningMeanStd::new(1);
    for x in &xs {
        one.update(std::slice::from_ref(x));
    }
    let mut all = RunningMeanStd::new(1);
    all.update(&xs);
    assert!((one.mean[0] - all.mean[0]).abs() < 1e-12 && (one.var[0] - all.var[0]).abs() < 1e-12);
    let mean = xs.iter().map(|x| x[0]).sum::<f64>() / 50.0;
    let var = xs.iter().map(|x| (x[0] - mean).powi(2)).sum::<f64>() / 50.0;
    // The prior count of 1e-4 (mean 0, variance 1) barely moves them.
    assert!((all.mean[0] - mean).abs() < 1e-5 && (all.var[0] - var).abs() < 1e-4);
}

#[test]
fn normalizing_wrappers_standardize() {
    let mut env = NormalizeObservation::new(make("MountainCar-v0").unwrap());
    env.reset(Some(0)).unwrap();
    let mut last = Vec::new();
    for t in 0..150 {
        last = env
            .step(&Action::Discrete(if t % 40 < 20 { 0 } else { 2 }))
            .unwrap()
            .obs;
    }
    assert!(last.iter().all(|v| v.abs() < 5.0), "{last:?}");
    assert!((env.stats.count - 151.0).abs() < 1e-3);
    env.training = false;
    let before = env.stats.clone();
    env.step(&Action::Discrete(1)).unwrap();
    assert_eq!(env.stats, before, "frozen statistics");

    let mut env = NormalizeReward::new(make("CartPole-v1").unwrap(), 0.99);
    env.reset(Some(0)).unwrap();
    let r = env.step(&Action::Discrete(0)).unwrap().reward;
    assert!(r > 0.0 && r.is_finite());
}

#[test]
fn frame_stack_keeps_the_last_observations() {
    let mut env = FrameStack::new(make("CartPole-v1").unwrap(), 3);
    assert_eq!(env.observation_space().flat_dim(), 12);
    let (o, _) = env.reset(Some(1)).unwrap();
    assert_eq!(&o[0..4], &o[4..8]);
    assert_eq!(&o[4..8], &o[8..12]);
    let s1 = env.step(&Action::Discrete(1)).unwrap().obs;
    let s2 = env.step(&Action::Discrete(0)).unwrap().obs;
    assert_eq!(&s2[0..4], &o[0..4]);
    assert_eq!(&s2[4..8], &s1[8..12]);
}

#[test]
fn episodes_render_to_gif_and_png() {
    let dir = tempfile::tempdir().unwrap();
    for id in ml_rl::REGISTRY.map(|s| s.id) {
        let mut env = RecordFrames::new(make(id).unwrap());
        env.reset(Some(0)).unwrap();
        let mut rng = NumpyRng::new(2);
        for _ in 0..5 {
            let a = env.action_space().sample(&mut rng);
            env.step(&a).unwrap();
        }
        assert_eq!(env.frames.len(), 6);
        let f = &env.frames[0];
        // Something is drawn on the white background.
        let ink = f.rgb.chunks(3).filter(|p| p != &[255, 255, 255]).count();
        assert!(ink > 500, "{id}: {ink} coloured pixels");
        assert_ne!(env.frames[0], env.frames[5], "{id}: the picture moves");
        let gif = dir.path().join(format!("{id}.gif"));
        write_gif(&env.frames, 30, &gif).unwrap();
        let mut decoder = gif::DecodeOptions::new();
        decoder.set_color_output(gif::ColorOutput::RGBA);
        let mut d = decoder.read_info(std::fs::File::open(&gif).unwrap()).unwrap();
        let mut n = 0;
        while let Some(frame) = d.read_next_frame().unwrap() {
            assert_eq!(
                (usize::from(frame.width), usize::from(frame.height)),
                (f.width, f.height)
            );
            n += 1;
        }
        assert_eq!(n, 6, "{id}");
        let png = dir.path().join(format!("{id}.png"));
        write_png_strip(&env.frames, 3, &png).unwrap();
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
        let reader = decoder.read_info().unwrap();
        assert_eq!(
            (reader.info().width as usize, reader.info().height as usize),
            (3 * f.width, 2 * f.height)
        );
    }
    assert!(write_gif(&[], 30, &dir.path().join("none.gif")).is_err());
    assert!(!dir.path().join("none.gif").exists());
}
