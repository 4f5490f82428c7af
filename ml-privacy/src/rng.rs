//! Randomness for mechanisms: a cryptographically secure generator by
//! default, a seeded one only where a test asks for it by name.
//!
//! Every sampler in this crate draws only uniform bits from [`DpRng`] and
//! turns them into noise with exact integer arithmetic; no sampler reads a
//! float from the generator.

use rand::rngs::{ChaCha20Rng, SysRng};
use rand::{Rng, SeedableRng};

use crate::{Error, Result};

/// The generator every mechanism draws from: ChaCha20 keyed from the
/// operating system's generator ([`DpRng::secure`]). The seeded constructor
/// exists for reproducible tests and says so in its name: a seed an adversary
/// can learn or guess voids every privacy guarantee. Not `Clone`: a copy
/// would repeat the same noise.
#[derive(Debug)]
pub struct DpRng {
    inner: ChaCha20Rng,
}

impl DpRng {
    /// ChaCha20 keyed with 256 bits from the operating system.
    ///
    /// # Errors
    /// [`Error::Randomness`] when the operating system's generator fails.
    pub fn secure() -> Result<Self> {
        let inner = ChaCha20Rng::try_from_rng(&mut SysRng)
            .map_err(|e| Error::Randomness(format!("operating system generator: {e}")))?;
        Ok(DpRng { inner })
    }

    /// A deterministic generator for tests and reproducible examples. It
    /// gives no privacy: anyone who knows the seed can subtract the noise.
    pub fn insecure_seeded_for_tests(seed: u64) -> Self {
        DpRng {
            inner: ChaCha20Rng::seed_from_u64(seed),
        }
    }

    /// 64 uniform bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// A uniform integer in `0..bound` (`bound > 0`), by rejection on the
    /// smallest covering power of two, so the result has no modulo bias.
    #[inline]
    pub fn below(&mut self, bound: u128) -> u128 {
        debug_assert!(bound > 0);
        if bound <= 1 {
            return 0;
        }
        let bits = 128 - (bound - 1).leading_zeros();
        if bits <= 64 {
            let mask = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
            loop {
                let x = u128::from(self.next_u64() & mask);
                if x < bound {
                    return x;
                }
            }
        }
        let mask = if bits == 128 { u128::MAX } else { (1u128 << bits) - 1 };
        loop {
            let x = ((u128::from(self.next_u64()) << 64) | u128::from(self.next_u64())) & mask;
            if x < bound {
                return x;
            }
        }
    }

    /// A fair coin.
    #[inline]
    pub fn coin(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }
}
