//! The accountants against Google's dp-accounting (`scripts/gen_privacy.py`,
//! version in `testdata/privacy/accounting.json`). `MLSDK_PRIVACY_FIXTURES`
//! points the tests at a freshly generated file instead of the committed one.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use ml_privacy::{PldAccountant, RdpAccountant};
use serde_json::Value;

fn fixtures() -> Value {
    let dir = std::env::var_os("MLSDK_PRIVACY_FIXTURES").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/privacy"),
        std::path::PathBuf::from,
    );
    let text = std::fs::read_to_string(dir.join("accounting.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn f(case: &Value, k: &str) -> f64 {
    case[k].as_f64().unwrap_or_else(|| panic!("{k} in {case}"))
}

#[test]
fn rdp_epsilon_equals_dp_accounting() {
    let fx = fixtures();
    let cases = fx["rdp"].as_array().unwrap();
    assert!(cases.len() >= 200);
    let mut worst = 0f64;
    for case in cases {
        let mut acc = RdpAccountant::new();
        acc.compose_poisson_subsampled_gaussian(
            f(case, "noise_multiplier"),
            f(case, "sampling_rate"),
            case["steps"].as_u64().unwrap(),
        )
        .unwrap();
        let (eps, order) = acc.epsilon(f(case, "delta")).unwrap();
        let want = f(case, "epsilon");
        let rel = if want == 0.0 {
            eps.abs()
        } else {
            (eps - want).abs() / want
        };
        worst = worst.max(rel);
        assert!(rel <= 1e-6, "{case}: epsilon {eps} (order {order})");
        assert_eq!(order, f(case, "order"), "{case}: optimal order");
    }
    println!("{} RDP cases, worst relative difference {worst:e}", cases.len());
}

#[test]
fn pld_epsilon_equals_dp_accounting() {
    let fx = fixtures();
    let cases = fx["pld"].as_array().unwrap();
    assert!(cases.len() >= 5);
    let acc = PldAccountant::default();
    for case in cases {
        let eps = acc
            .epsilon(
                f(case, "noise_multiplier"),
                f(case, "sampling_rate"),
                case["steps"].as_u64().unwrap(),
                f(case, "delta"),
            )
            .unwrap();
        let want = f(case, "epsilon");
        // The issue asks for 1%; the same construction agrees far closer.
        assert!((eps - want).abs() <= 1e-6 * want, "{case}: epsilon {eps}");
    }
}
