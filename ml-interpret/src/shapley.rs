//! Exact Shapley values by enumerating every coalition: the oracle the
//! fast methods are tested against, usable directly on small feature counts.

use crate::{Error, Result};

/// The largest feature count [`exact_shapley`] enumerates (2^20 coalitions).
pub const MAX_EXACT_FEATURES: usize = 20;

/// Shapley values of the cooperative game `value` over `m` players, one
/// vector of `outputs` per player: `φ_i = Σ_S |S|! (m-|S|-1)! / m! ·
/// (v(S ∪ {i}) - v(S))` over every coalition `S` without `i`. `value`
/// receives the coalition as a membership mask and returns one value per
/// output.
///
/// # Errors
/// More than [`MAX_EXACT_FEATURES`] players, or a value function whose
/// output width changes.
pub fn exact_shapley(m: usize, outputs: usize, mut value: impl FnMut(&[bool]) -> Vec<f64>) -> Result<Vec<Vec<f64>>> {
    if m > MAX_EXACT_FEATURES {
        return Err(Error::invalid(
            "features",
            format!("exact Shapley values enumerate 2^m coalitions; m = {m} is above {MAX_EXACT_FEATURES}"),
        ));
    }
    let n = 1usize << m;
    let mut mask = vec![false; m];
    let mut values = Vec::with_capacity(n);
    for s in 0..n {
        for (i, b) in mask.iter_mut().enumerate() {
            *b = s >> i & 1 == 1;
        }
        let v = value(&mask);
        if v.len() != outputs {
            return Err(Error::invalid(
                "value",
                format!("value function gave {} outputs, expected {outputs}", v.len()),
            ));
        }
        values.push(v);
    }
    // weight[k] = k! (m-k-1)! / m!
    let weight: Vec<f64> = (0..m.max(1))
        .map(|k| {
            let mut w = 1.0 / m as f64;
            // 1 / (m · C(m-1, k))
            for j in 0..k {
                w *= (j + 1) as f64 / (m - 1 - j) as f64;
            }
            w
        })
        .collect();
    let mut phi = vec![vec![0.0; outputs]; m];
    for s in 0..n {
        let size = s.count_ones() as usize;
        for (i, p) in phi.iter_mut().enumerate() {
            if s >> i & 1 == 0 {
                let with = &values[s | 1 << i];
                for ((pk, a), b) in p.iter_mut().zip(with).zip(&values[s]) {
                    *pk += weight[size] * (a - b);
                }
            }
        }
    }
    Ok(phi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glove_game_and_additivity() {
        // v(S) = 1 if S holds player 0 and one of 1, 2: φ = (2/3, 1/6, 1/6).
        let phi = exact_shapley(3, 1, |s| vec![f64::from(u8::from(s[0] && (s[1] || s[2])))]).unwrap();
        let want = [2.0 / 3.0, 1.0 / 6.0, 1.0 / 6.0];
        for (p, w) in phi.iter().zip(want) {
            assert!((p[0] - w).abs() < 1e-15, "{phi:?}");
        }
        assert!(exact_shapley(21, 1, |_| vec![0.0]).is_err());
        assert!(exact_shapley(2, 2, |_| vec![0.0]).is_err());
    }
}
