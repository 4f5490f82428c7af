//! A dense two-phase simplex for the small linear programs of the
//! reductions (exponentiated gradient's best mix over the learners found:
//! tens of variables, a handful of rows). Bland's rule throughout, so it
//! terminates on the degenerate programs these are (every inequality's
//! right-hand side is zero).

/// An optimal solution: the point, and the duals of the inequality rows as
/// non-negative multipliers (`λ` with `-A_ubᵀ λ + A_eqᵀ μ ≤ c`, the form
/// scipy's `linprog` solves for Fairlearn's dual).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Solution {
    pub x: Vec<f64>,
    pub ub_duals: Vec<f64>,
    pub objective: f64,
}

const EPS: f64 = 1e-11;

/// Minimize `cᵀx` subject to `A_ub x ≤ b_ub`, `A_eq x = b_eq`, `x ≥ 0`,
/// with `b_ub ≥ 0` and `b_eq ≥ 0`. `None` when infeasible, unbounded, or
/// the rows do not match `c`.
pub(crate) fn minimize(
    c: &[f64],
    a_ub: &[Vec<f64>],
    b_ub: &[f64],
    a_eq: &[Vec<f64>],
    b_eq: &[f64],
) -> Option<Solution> {
    let n = c.len();
    let (m_ub, m_eq) = (a_ub.len(), a_eq.len());
    if b_ub.len() != m_ub
        || b_eq.len() != m_eq
        || a_ub.iter().chain(a_eq).any(|r| r.len() != n)
        || b_ub.iter().chain(b_eq).any(|&b| b.is_nan() || b < 0.0)
        || c.iter()
            .chain(a_ub.iter().chain(a_eq).flatten())
            .any(|v| !v.is_finite())
    {
        return None;
    }
    let m = m_ub + m_eq;
    // Columns: x (n), a slack per inequality (m_ub), an artificial per
    // equality (m_eq), then the right-hand side.
    let cols = n + m_ub + m_eq;
    let mut t: Vec<Vec<f64>> = Vec::with_capacity(m);
    for (r, (row, &b)) in a_ub.iter().zip(b_ub).enumerate() {
        let mut line = row.clone();
        line.resize(cols + 1, 0.0);
        line[n + r] = 1.0;
        line[cols] = b;
        t.push(line);
    }
    for (r, (row, &b)) in a_eq.iter().zip(b_eq).enumerate() {
        let mut line = row.clone();
        line.resize(cols + 1, 0.0);
        line[n + m_ub + r] = 1.0;
        line[cols] = b;
        t.push(line);
    }
    let mut basis: Vec<usize> = (n..n + m).collect();

    // Phase 1: drive the artificials out (minimize their sum).
    let mut phase1 = vec![0.0; cols];
    phase1[n + m_ub..].iter_mut().for_each(|v| *v = 1.0);
    run_restricted(&mut t, &mut basis, &phase1, cols, cols)?;
    let infeasibility: f64 = basis
        .iter()
        .zip(&t)
        .filter(|(b, _)| **b >= n + m_ub)
        .map(|(_, row)| row[cols])
        .sum();
    if infeasibility > 1e-9 {
        return None;
    }
    // Phase 2 on the original costs; artificials never re-enter (cost +∞ in
    // effect: they are excluded from entering).
    let mut costs = c.to_vec();
    costs.resize(cols, 0.0);
    run_restricted(&mut t, &mut basis, &costs, cols, n + m_ub)?;

    let mut x = vec![0.0; n];
    for (r, &b) in basis.iter().enumerate() {
        if b < n {
            x[b] = t[r][cols];
        }
    }
    // Reduced cost of slack k: 0 - c_Bᵀ B⁻¹ e_k = -y_k, the non-negative
    // multiplier of inequality k.
    let ub_duals = (0..m_ub)
        .map(|k| {
            let col = n + k;
            let d = -basis.iter().zip(&t).map(|(&b, row)| costs[b] * row[col]).sum::<f64>();
            d.max(0.0)
        })
        .collect();
    let objective = c.iter().zip(&x).map(|(a, b)| a * b).sum();
    Some(Solution { x, ub_duals, objective })
}

/// Simplex iterations with columns `0..enter_below` allowed to enter.
fn run_restricted(
    t: &mut [Vec<f64>],
    basis: &mut [usize],
    costs: &[f64],
    cols: usize,
    enter_below: usize,
) -> Option<()> {
    // Bland's rule cannot cycle; the bound only guards against numerical
    // trouble.
    for _ in 0..10_000 {
        let reduced = |j: usize, t: &[Vec<f64>], basis: &[usize]| {
            costs[j] - basis.iter().zip(t).map(|(&b, row)| costs[b] * row[j]).sum::<f64>()
        };
        let Some(enter) = (0..enter_below).find(|&j| !basis.contains(&j) && reduced(j, t, basis) < -EPS) else {
            return Some(());
        };
        let leave = (0..t.len()).filter(|&r| t[r][enter] > EPS).min_by(|&a, &b| {
            let (ra, rb) = (t[a][cols] / t[a][enter], t[b][cols] / t[b][enter]);
            ra.total_cmp(&rb).then(basis[a].cmp(&basis[b]))
        })?;
        pivot(t, leave, enter);
        basis[leave] = enter;
    }
    None
}

fn pivot(t: &mut [Vec<f64>], r: usize, c: usize) {
    let p = t[r][c];
    t[r].iter_mut().for_each(|v| *v /= p);
    let pivot_row = t[r].clone();
    for (i, row) in t.iter_mut().enumerate() {
        if i != r {
            let f = row[c];
            if f != 0.0 {
                row.iter_mut().zip(&pivot_row).for_each(|(v, p)| *v -= f * p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::minimize;

    #[test]
    fn solves_a_textbook_program_with_its_duals() {
        // min -3x - 5y  s.t. x ≤ 4, 2y ≤ 12, 3x + 2y ≤ 18: optimum (2, 6),
        // value -36, duals (0, 1.5, 1).
        let s = minimize(
            &[-3.0, -5.0],
            &[vec![1.0, 0.0], vec![0.0, 2.0], vec![3.0, 2.0]],
            &[4.0, 12.0, 18.0],
            &[],
            &[],
        )
        .unwrap();
        assert!((s.x[0] - 2.0).abs() < 1e-12 && (s.x[1] - 6.0).abs() < 1e-12, "{s:?}");
        assert!((s.objective + 36.0).abs() < 1e-12);
        for (got, want) in s.ub_duals.iter().zip([0.0, 1.5, 1.0]) {
            assert!((got - want).abs() < 1e-12, "{s:?}");
        }
    }

    #[test]
    fn the_mix_program_of_exponentiated_gradient() {
        // Three learners with errors 0.1, 0.3, 0.2 and one disparity each
        // (0.2, -0.2, 0.05 over the bound), slack cost B = 10: the best mix
        // puts 1/2 on each of the first two (disparity 0, error 0.2) or
        // all on the third (disparity 0.05 costs 0.5): 0.2 wins. The dual
        // multiplier makes both used learners equally good: 0.1 + 0.2λ =
        // 0.3 - 0.2λ, so λ = 0.5.
        let s = minimize(
            &[0.1, 0.3, 0.2, 10.0],
            &[vec![0.2, -0.2, 0.05, -1.0]],
            &[0.0],
            &[vec![1.0, 1.0, 1.0, 0.0]],
            &[1.0],
        )
        .unwrap();
        let want = [0.5, 0.5, 0.0, 0.0];
        for (got, w) in s.x.iter().zip(want) {
            assert!((got - w).abs() < 1e-12, "{s:?}");
        }
        assert!((s.objective - 0.2).abs() < 1e-12);
        assert!((s.ub_duals[0] - 0.5).abs() < 1e-12, "{s:?}");
    }

    #[test]
    fn infeasible_and_malformed_programs_are_none() {
        // x ≥ 0 with x = -1 cannot hold once written as -x = 1.
        assert!(minimize(&[1.0], &[], &[], &[vec![-1.0]], &[1.0]).is_none());
        assert!(minimize(&[1.0, 2.0], &[vec![1.0]], &[1.0], &[], &[]).is_none());
        assert!(minimize(&[f64::NAN], &[], &[], &[], &[]).is_none());
        // Unbounded: min -x with no rows.
        assert!(minimize(&[-1.0], &[], &[], &[], &[]).is_none());
    }
}
