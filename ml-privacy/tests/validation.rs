//! Property tests of the privacy parameters' one validation: every budget,
//! bound and accountant input is taken exactly when it is in its domain,
//! and a refusal quotes the value as given (short, however large).

use ml_privacy::aggregates::{Bounds, NoiseSpec};
use ml_privacy::{PldAccountant, RdpAccountant};
use proptest::prelude::*;

fn special() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        prop::sample::select(vec![
            0.0,
            -0.0,
            -1.0,
            1e-300,
            1e308,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            1.0
        ]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn budgets_are_taken_exactly_in_their_domain(epsilon in special(), delta in special()) {
        let laplace = NoiseSpec::Laplace { epsilon }.validate();
        prop_assert_eq!(laplace.is_ok(), epsilon > 0.0 && epsilon.is_finite());
        if let Err(e) = laplace {
            let text = e.to_string();
            prop_assert!(text.len() < 120, "{text}");
            prop_assert!(text.contains(&ml_core::limits::readable(epsilon)), "{text}");
        }
        let gaussian = NoiseSpec::Gaussian { epsilon, delta }.validate();
        prop_assert_eq!(gaussian.is_ok(), epsilon > 0.0 && epsilon.is_finite() && delta > 0.0 && delta < 1.0);
    }

    #[test]
    fn bounds_are_finite_and_ordered(lo in special(), hi in special()) {
        let b = Bounds::new(lo, hi);
        prop_assert_eq!(b.is_ok(), lo.is_finite() && hi.is_finite() && lo <= hi);
        if let Err(e) = b {
            prop_assert!(e.to_string().len() < 160, "{e}");
        }
    }

    #[test]
    fn accountants_refuse_rather_than_panic(
        sigma in special(),
        q in special(),
        steps in prop_oneof![0u64..10, any::<u64>()],
        delta in special(),
    ) {
        let mut rdp = RdpAccountant::new();
        if rdp.compose_poisson_subsampled_gaussian(sigma, q, steps).is_ok() {
            let _ = rdp.epsilon(delta);
        }
        // A coarse grid keeps each case short; the bounds hold at any width.
        let pld = PldAccountant { discretization: 0.05 };
        let _ = pld.epsilon(sigma, q, steps.min(1_000_000), delta);
    }
}
