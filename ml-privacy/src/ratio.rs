//! Exact arithmetic on the values of `f64`s, for privacy maps and the
//! budget ledger: every finite double is `m * 2^e` exactly, so sums,
//! products and comparisons of them can be done without rounding, and a
//! result handed back as a double is rounded toward the safe side.

use num_bigint::BigUint;

use crate::{Error, Result};

/// A non-negative exact rational, kept in lowest terms (num-rational
/// reduces after every operation, so a running total grows only as far as
/// its value needs).
pub type Ratio = num_rational::Ratio<BigUint>;

/// An integer as a [`Ratio`].
pub fn integer(n: u128) -> Ratio {
    Ratio::from_integer(BigUint::from(n))
}

/// The exact value of a finite, non-negative double.
pub fn exact(x: f64, what: &str) -> Result<Ratio> {
    if !x.is_finite() || x < 0.0 {
        return Err(Error::param(
            what,
            format!("must be finite and >= 0, got {}", ml_core::limits::readable(x)),
        ));
    }
    let (m, e) = decompose(x);
    Ok(if e >= 0 {
        Ratio::from_integer(BigUint::from(m) << e as usize)
    } else {
        Ratio::new(BigUint::from(m), BigUint::from(1u8) << (-e) as usize)
    })
}

/// Rounding an exact value to a double toward the safe side.
pub trait RoundUp {
    /// The smallest double `>= self` (`inf` if none is).
    fn to_f64_up(&self) -> f64;
}

impl RoundUp for Ratio {
    fn to_f64_up(&self) -> f64 {
        let le = |f: f64| exact(f, "bound").is_ok_and(|r| *self <= r);
        let mut f = approx(self.numer(), self.denom());
        // The approximation is within a few ulps; step to the exact answer.
        while f.is_finite() && !le(f) {
            f = f.next_up();
        }
        while f > 0.0 && le(f.next_down()) {
            f = f.next_down();
        }
        f
    }
}

/// `x = m * 2^e` with `m` an integer (`x` finite, non-negative).
pub fn decompose(x: f64) -> (u64, i32) {
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7FF) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp - 1075)
    }
}

fn approx(num: &BigUint, den: &BigUint) -> f64 {
    // Scale both to at most 64 significant bits before dividing.
    let shift = |b: &BigUint| b.bits().saturating_sub(64);
    let (sn, sd) = (shift(num), shift(den));
    let n = u64::try_from(num >> sn).unwrap_or(u64::MAX) as f64;
    let d = u64::try_from(den >> sd).unwrap_or(u64::MAX) as f64;
    if d == 0.0 {
        return f64::INFINITY;
    }
    let e = sn as i64 - sd as i64;
    (n / d) * 2f64.powi(e.clamp(-2000, 2000) as i32)
}

/// `ceil(num / den)` as a `u128`, or an overflow error naming `what`.
pub fn ceil_u128(r: &Ratio, what: &str) -> Result<u128> {
    u128::try_from(r.ceil().to_integer()).map_err(|_| Error::overflow(format!("{what} does not fit 128 bits")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_directed_and_tight() {
        let third = Ratio::new(1u8.into(), 3u8.into());
        let up = third.to_f64_up();
        assert!(third <= exact(up, "x").unwrap());
        assert!(third > exact(up.next_down(), "x").unwrap());
        assert_eq!(exact(0.1, "x").unwrap().to_f64_up(), 0.1);
        assert_eq!(integer(0).to_f64_up(), 0.0);
    }

    #[test]
    fn sums_of_doubles_are_exact() {
        // 0.1 + 0.4 + 0.5 as doubles is 1 + 2^-55.
        let s = [0.1, 0.4, 0.5]
            .iter()
            .map(|&x| exact(x, "x").unwrap())
            .fold(integer(0), |a, b| a + b);
        assert!(s > integer(1));
        assert!(s.to_f64_up() > 1.0);
        assert!(exact(-1.0, "x").is_err());
        assert!(exact(f64::NAN, "x").is_err());
        assert_eq!(decompose(5e-324), (1, -1074));
    }

    #[test]
    fn a_running_total_stays_in_lowest_terms() {
        // 1000 charges of 2^-10 sum to 1000/1024 = 125/128: the total's
        // denominator stays 128 instead of growing to 2^10000.
        let total = (0..1000).fold(integer(0), |t, _| t + exact(2f64.powi(-10), "x").unwrap());
        assert_eq!(total, Ratio::new(125u8.into(), 128u8.into()));
        assert_eq!(total.denom(), &BigUint::from(128u8));
    }
}
