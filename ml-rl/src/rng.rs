//! NumPy's default generator, bit for bit: `SeedSequence` feeding `PCG64`,
//! and `Generator.uniform`. Gymnasium seeds every environment with
//! `np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))`, so
//! the same seed gives the same initial states here as there.

/// SeedSequence's hashing constants (NumPy's `bit_generator.pyx`).
const INIT_A: u32 = 0x43b0_d7e5;
const MULT_A: u32 = 0x931e_8875;
const INIT_B: u32 = 0x8b51_f9dd;
const MULT_B: u32 = 0x58f3_8ded;
const MIX_MULT_L: u32 = 0xca01_f9dd;
const MIX_MULT_R: u32 = 0x4973_f715;
const XSHIFT: u32 = 16;
const POOL_SIZE: usize = 4;

/// PCG's default 128-bit multiplier.
const PCG_MULT: u128 = 0x2360_ed05_1fc6_5da4_4385_df64_9fcc_f645;

fn hashmix(value: u32, hash_const: &mut u32) -> u32 {
    let mut v = value ^ *hash_const;
    *hash_const = hash_const.wrapping_mul(MULT_A);
    v = v.wrapping_mul(*hash_const);
    v ^ (v >> XSHIFT)
}

fn mix(x: u32, y: u32) -> u32 {
    let r = MIX_MULT_L.wrapping_mul(x).wrapping_sub(MIX_MULT_R.wrapping_mul(y));
    r ^ (r >> XSHIFT)
}

/// `SeedSequence(seed).generate_state(n, uint32)`.
fn seed_sequence_words(seed: u128, n: usize) -> Vec<u32> {
    // The seed as 32-bit words, least significant first (0 is one word).
    let mut entropy = Vec::new();
    let mut s = seed;
    loop {
        entropy.push(s as u32);
        s >>= 32;
        if s == 0 {
            break;
        }
    }
    let mut pool = [0u32; POOL_SIZE];
    let mut hc = INIT_A;
    for (i, slot) in pool.iter_mut().enumerate() {
        *slot = hashmix(entropy.get(i).copied().unwrap_or(0), &mut hc);
    }
    for src in 0..POOL_SIZE {
        for dst in 0..POOL_SIZE {
            if src != dst {
                let h = hashmix(pool[src], &mut hc);
                pool[dst] = mix(pool[dst], h);
            }
        }
    }
    for &word in entropy.iter().skip(POOL_SIZE) {
        for slot in &mut pool {
            let h = hashmix(word, &mut hc);
            *slot = mix(*slot, h);
        }
    }
    let mut hc = INIT_B;
    (0..n)
        .map(|i| {
            let mut v = pool[i % POOL_SIZE] ^ hc;
            hc = hc.wrapping_mul(MULT_B);
            v = v.wrapping_mul(hc);
            v ^ (v >> XSHIFT)
        })
        .collect()
}

/// NumPy's `PCG64` (XSL-RR output of a 128-bit LCG), seeded as NumPy seeds
/// it from a `SeedSequence`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumpyRng {
    state: u128,
    inc: u128,
}

impl NumpyRng {
    /// `np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))`
    /// for a non-negative integer seed below 2¹²⁸.
    pub fn new(seed: u128) -> Self {
        let w = seed_sequence_words(seed, 8);
        let word = |i: usize| u64::from(w[2 * i]) | (u64::from(w[2 * i + 1]) << 32);
        let initstate = (u128::from(word(0)) << 64) | u128::from(word(1));
        let initseq = (u128::from(word(2)) << 64) | u128::from(word(3));
        let mut rng = Self {
            state: 0,
            inc: (initseq << 1) | 1,
        };
        rng.step();
        rng.state = rng.state.wrapping_add(initstate);
        rng.step();
        rng
    }

    /// A generator seeded from the operating system's entropy, as
    /// Gymnasium seeds an environment reset without a seed.
    pub fn from_entropy() -> Self {
        Self::new(rand::random::<u128>())
    }

    fn step(&mut self) {
        self.state = self.state.wrapping_mul(PCG_MULT).wrapping_add(self.inc);
    }

    /// The next 64 random bits (`PCG64.random_raw()`).
    pub fn next_u64(&mut self) -> u64 {
        self.step();
        let s = self.state;
        let x = ((s >> 64) as u64) ^ (s as u64);
        x.rotate_right((s >> 122) as u32)
    }

    /// A double in [0, 1) (`Generator.random()`).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `Generator.uniform(low, high)`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.next_f64()
    }

    /// An integer in `0..n` (n ≥ 1), for sampling discrete spaces. Not
    /// NumPy's bounded-integer algorithm: only initial states are meant to
    /// match Gymnasium's.
    pub fn below(&mut self, n: u64) -> u64 {
        // Lemire's multiply-shift with rejection: unbiased.
        let n = n.max(1);
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            let low = m as u64;
            if low >= n.wrapping_neg() % n {
                return (m >> 64) as u64;
            }
        }
    }

    /// A standard normal draw (Box-Muller on two uniforms).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values printed by NumPy 2.4.6 (`PCG64(SeedSequence(s)).random_raw(3)`
    /// and `Generator(...).uniform(-0.05, 0.05, size=4)`).
    #[test]
    fn matches_numpy() {
        let cases: [(u128, [u64; 3], f64); 4] = [
            (
                0,
                [
                    11_749_869_230_777_074_271,
                    4_976_686_463_289_251_617,
                    755_828_109_848_996_024,
                ],
                0.013_696_168_732_145_436,
            ),
            (
                42,
                [
                    14_276_969_152_011_380_360,
                    8_095_878_257_575_067_585,
                    15_838_336_090_824_644_132,
                ],
                0.027_395_604_855_596_334,
            ),
            (
                (1 << 32) + 5,
                [
                    14_281_546_376_153_053_393,
                    8_683_300_866_460_616_067,
                    12_836_726_618_003_871_680,
                ],
                0.027_420_418_037_388_122,
            ),
            (
                123_456_789_012_345_678_901_234_567_890,
                [
                    6_372_204_611_448_533_116,
                    6_194_109_736_856_590_592,
                    2_785_364_361_467_880_444,
                ],
                -0.015_456_209_583_726_753,
            ),
        ];
        for (seed, raw, first_uniform) in cases {
            let mut r = NumpyRng::new(seed);
            assert_eq!([r.next_u64(), r.next_u64(), r.next_u64()], raw, "seed {seed}");
            assert_eq!(NumpyRng::new(seed).uniform(-0.05, 0.05), first_uniform, "seed {seed}");
        }
        let mut r = NumpyRng::new(1);
        let u: Vec<f64> = (0..4).map(|_| r.uniform(-0.05, 0.05)).collect();
        assert_eq!(
            u,
            [
                0.001_182_162_470_025_671_7,
                0.045_046_369_632_593_536,
                -0.035_584_038_728_036_63,
                0.044_864_944_713_724_39
            ]
        );
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = NumpyRng::new(3);
        assert!((0..1000).all(|_| r.below(7) < 7));
        assert_eq!(r.below(1), 0);
    }
}
