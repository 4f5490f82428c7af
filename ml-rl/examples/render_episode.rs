//! Play one episode of a classic-control task with a simple controller
//! and write it as an animated GIF and a PNG strip.
//!
//! `cargo run --release -p ml-rl --example render_episode [ENV] [OUT_DIR]`

use ml_rl::{Action, Env, RecordFrames, make, write_gif, write_png_strip};

fn controller(id: &str, obs: &[f32]) -> Action {
    match id {
        "CartPole-v1" => Action::Discrete(i64::from(obs[2] + 0.5 * obs[3] > 0.0)),
        "MountainCar-v0" => Action::Discrete(if obs[1] >= 0.0 { 2 } else { 0 }),
        "MountainCarContinuous-v0" => Action::Continuous(vec![if obs[1] >= 0.0 { 1.0 } else { -1.0 }]),
        "Acrobot-v1" => Action::Discrete(if obs[5] >= 0.0 { 2 } else { 0 }),
        _ => Action::Continuous(vec![(-2.0 * obs[2]).clamp(-2.0, 2.0)]),
    }
}

fn main() -> ml_core::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let id = args.get(1).map_or("CartPole-v1", String::as_str);
    let out = std::path::PathBuf::from(args.get(2).map_or(".", String::as_str));
    let mut env = RecordFrames::new(make(id)?);
    let (mut obs, _) = env.reset(Some(0))?;
    let mut total = 0.0;
    loop {
        let s = env.step(&controller(id, &obs))?;
        total += s.reward;
        obs = s.obs;
        if s.terminated || s.truncated {
            break;
        }
    }
    let gif = out.join(format!("{id}.gif"));
    write_gif(&env.frames, 30, &gif)?;
    // Every tenth frame, at most twelve, in a strip.
    let picks: Vec<_> = env.frames.iter().step_by(10).take(12).cloned().collect();
    let png = out.join(format!("{id}.png"));
    write_png_strip(&picks, 4, &png)?;
    println!(
        "{id}: return {total}, {} frames -> {} and {}",
        env.frames.len(),
        gif.display(),
        png.display()
    );
    Ok(())
}
