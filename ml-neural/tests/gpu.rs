#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
//! The wgpu backend against the CPU backend: the same network, seed and
//! data give the same training and the same predictions within single
//! precision's tolerance. Runs on any wgpu adapter, Mesa's lavapipe
//! included (`scripts/setup-vulkan.sh`); `scripts/test-gpu.sh` runs it,
//! then runs `without_an_adapter_training_is_an_error` with every driver
//! hidden.

use ml_core::{Dataset, train_test_split};
use ml_neural::{BackendKind, NetTrainer, Optimizer, Sequential};

fn trainer(backend: BackendKind) -> NetTrainer {
    NetTrainer {
        architecture: Sequential::new().dense(32).relu().dense(16).tanh(),
        epochs: 3,
        batch_size: 64,
        optimizer: Optimizer::adam(),
        seed: 7,
        backend,
        ..NetTrainer::default()
    }
}

fn data() -> (Dataset, Dataset) {
    let data = ml_datasets::digits().unwrap();
    train_test_split(&data, 0.25, 0, true).unwrap()
}

fn adapter_or_skip() -> bool {
    match BackendKind::Wgpu.device() {
        Ok(_) => true,
        Err(e) => {
            assert!(matches!(e, ml_core::Error::Unsupported(_)), "{e}");
            if std::env::var_os("MLSDK_REQUIRE_GPU").is_some() {
                panic!("MLSDK_REQUIRE_GPU is set but {e}");
            }
            eprintln!("skipped: {e}");
            false
        }
    }
}

#[test]
fn wgpu_trains_like_the_cpu_backend() {
    if !adapter_or_skip() {
        return;
    }
    let (train, test) = data();
    let mut cpu_seconds = Vec::new();
    let cpu = trainer(BackendKind::Cpu)
        .fit_network(&train, &mut |e| cpu_seconds.push(e.seconds))
        .unwrap();
    let mut gpu_seconds = Vec::new();
    let gpu = trainer(BackendKind::Wgpu)
        .fit_network(&train, &mut |e| gpu_seconds.push(e.seconds))
        .unwrap();
    // Same initial weights and batches; only the order of floating-point
    // reductions differs between backends, and three epochs of Adam keep
    // that at rounding size.
    let (a, b) = (cpu.history(), gpu.history());
    for (x, y) in a.epochs.iter().zip(&b.epochs) {
        assert!(
            (x.loss - y.loss).abs() < 1e-3 * x.loss.abs().max(1.0),
            "epoch loss {} vs {}",
            x.loss,
            y.loss
        );
    }
    let pc = cpu.raw_outputs_on(test.features(), BackendKind::Cpu).unwrap();
    let pg = gpu.raw_outputs_on(test.features(), BackendKind::Cpu).unwrap();
    let worst = pc.iter().zip(&pg).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max);
    let ms = |s: &[f64]| 1e3 * s.iter().sum::<f64>() / s.len() as f64;
    eprintln!(
        "wgpu vs cpu after 3 epochs: largest output difference {worst:.2e}; {:.1} ms an epoch on wgpu, {:.1} on the cpu",
        ms(&gpu_seconds),
        ms(&cpu_seconds)
    );
    assert!(worst < 1e-3, "outputs differ by {worst}");
    let argmax = |row: ndarray::ArrayView1<'_, f64>| {
        row.iter()
            .enumerate()
            .fold(0, |best, (j, v)| if *v > row[best] { j } else { best })
    };
    let same = pc
        .rows()
        .into_iter()
        .zip(pg.rows())
        .filter(|(p, q)| argmax(*p) == argmax(*q))
        .count();
    assert!(
        same + 2 >= test.n_samples(),
        "{same} of {} labels agree",
        test.n_samples()
    );
}

#[test]
fn wgpu_inference_equals_cpu_inference() {
    if !adapter_or_skip() {
        return;
    }
    let (train, test) = data();
    let cnn = NetTrainer {
        architecture: Sequential::new()
            .reshape(1, 8, 8)
            .conv2d(8, 3)
            .relu()
            .max_pool2d(2)
            .flatten()
            .dense(16)
            .relu(),
        epochs: 1,
        seed: 3,
        ..NetTrainer::default()
    }
    .fit_network(&train, &mut |_| {})
    .unwrap();
    let cpu = cnn.raw_outputs_on(test.features(), BackendKind::Cpu).unwrap();
    let gpu = cnn.raw_outputs_on(test.features(), BackendKind::Wgpu).unwrap();
    let worst = cpu.iter().zip(&gpu).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-4, "outputs differ by {worst}");
}

/// With no adapter at all (the drivers hidden by `scripts/test-gpu.sh`,
/// which sets `MLSDK_EXPECT_NO_GPU`), asking for the wgpu backend is a typed
/// error, never burn's panic in a worker thread.
#[test]
fn without_an_adapter_training_is_an_error() {
    if std::env::var_os("MLSDK_EXPECT_NO_GPU").is_none() {
        eprintln!("skipped: runs with MLSDK_EXPECT_NO_GPU and the drivers hidden");
        return;
    }
    let err = BackendKind::Wgpu.device().unwrap_err();
    assert!(matches!(err, ml_core::Error::Unsupported(_)), "{err}");
    let (train, _) = data();
    let err = trainer(BackendKind::Wgpu).fit_network(&train, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("no GPU adapter"), "{err}");
}
