//! Exact arithmetic on the values of `f64`s, for privacy maps and the
//! budget ledger: every finite double is `m * 2^e` exactly, so sums,
//! products and comparisons of them can be done without rounding, and a
//! result handed back as a double is rounded toward the safe side.

use num_bigint::BigUint;

use crate::{Error, Result};

/// A non-negative exact rational `num / den`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ratio {
    pub num: BigUint,
    pub den: BigUint,
}

impl Ratio {
    pub fn integer(n: u128) -> Self {
        Ratio {
            num: BigUint::from(n),
            den: BigUint::from(1u8),
        }
    }

    pub fn new(num: impl Into<BigUint>, den: impl Into<BigUint>) -> Self {
        Ratio {
            num: num.into(),
            den: den.into(),
        }
    }

    /// The exact value of a finite, non-negative double.
    pub fn from_f64(x: f64, what: &str) -> Result<Self> {
        if !x.is_finite() || x < 0.0 {
            return Err(Error::InvalidParameter(format!(
                "{what} must be finite and >= 0, got {x}"
            )));
        }
        let (m, e) = decompose(x);
        Ok(if e >= 0 {
            Ratio::new(BigUint::from(m) << e as usize, 1u8)
        } else {
            Ratio::new(m, BigUint::from(1u8) << (-e) as usize)
        })
    }

    pub fn mul(&self, o: &Ratio) -> Ratio {
        Ratio::new(&self.num * &o.num, &self.den * &o.den)
    }

    pub fn add(&self, o: &Ratio) -> Ratio {
        Ratio::new(&self.num * &o.den + &o.num * &self.den, &self.den * &o.den)
    }

    /// `self <= o`, exactly.
    pub fn le(&self, o: &Ratio) -> bool {
        &self.num * &o.den <= &o.num * &self.den
    }

    /// The smallest integer `>= self`.
    pub fn ceil(&self) -> BigUint {
        (&self.num + &self.den - 1u8) / &self.den
    }

    /// The smallest double `>= self` (`inf` if none is).
    pub fn to_f64_up(&self) -> f64 {
        let mut f = approx(&self.num, &self.den);
        // The approximation is within a few ulps; step to the exact answer.
        while f.is_finite() && !self.le_f64(f) {
            f = f.next_up();
        }
        while f > 0.0 && self.le_f64(f.next_down()) {
            f = f.next_down();
        }
        f
    }

    fn le_f64(&self, f: f64) -> bool {
        Ratio::from_f64(f, "bound").is_ok_and(|r| self.le(&r))
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
    u128::try_from(r.ceil()).map_err(|_| Error::Overflow(format!("{what} does not fit 128 bits")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_directed_and_tight() {
        let third = Ratio::new(1u8, 3u8);
        let up = third.to_f64_up();
        assert!(third.le(&Ratio::from_f64(up, "x").unwrap()));
        assert!(!third.le(&Ratio::from_f64(up.next_down(), "x").unwrap()));
        assert_eq!(Ratio::from_f64(0.1, "x").unwrap().to_f64_up(), 0.1);
        assert_eq!(Ratio::integer(0).to_f64_up(), 0.0);
    }

    #[test]
    fn sums_of_doubles_are_exact() {
        // 0.1 + 0.4 + 0.5 as doubles is 1 + 2^-55.
        let s = [0.1, 0.4, 0.5]
            .iter()
            .map(|&x| Ratio::from_f64(x, "x").unwrap())
            .fold(Ratio::integer(0), |a, b| a.add(&b));
        assert!(!s.le(&Ratio::integer(1)));
        assert!(s.to_f64_up() > 1.0);
        assert!(Ratio::from_f64(-1.0, "x").is_err());
        assert!(Ratio::from_f64(f64::NAN, "x").is_err());
        assert_eq!(decompose(5e-324), (1, -1074));
    }
}
