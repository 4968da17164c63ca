//! The dense simplex against good_lp + microlp on random small LPs (an independent
//! solver), with its own optimality conditions checked directly, with columns stored
//! one by one and as mirrored pairs.

use std::time::{Duration, Instant};

use good_lp::{constraint, variable, Expression, ProblemVariables, Solution, SolverModel, Variable};
use proptest::prelude::*;

use super::{Outcome, Simplex};

/// max cᵀx s.t. A x = b, lo ≤ x ≤ hi, with b = A x0 for an x0 inside the bounds
/// (feasible) and every hi finite (bounded).
struct Random {
    m: usize,
    cols: Vec<Vec<f64>>,
    cost: Vec<f64>,
    lo: Vec<f64>,
    hi: Vec<f64>,
    b: Vec<f64>,
}

fn random_lp(m: usize, n: usize, seed: u64) -> Random {
    let mut rng = crate::data::Rng::seed_from_u64(seed);
    // Every fifth column has one nonzero (held as a unit column, not stored).
    let cols: Vec<Vec<f64>> = (0..n)
        .map(|j| {
            let col: Vec<f64> = (0..m).map(|_| rng.normal()).collect();
            if j % 5 == 4 {
                (0..m).map(|i| if i == j % m { col[i] } else { 0.0 }).collect()
            } else {
                col
            }
        })
        .collect();
    let cost: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
    let lo: Vec<f64> = (0..n).map(|j| if j % 2 == 0 { 0.0 } else { -1.0 }).collect();
    let hi: Vec<f64> = (0..n).map(|j| if j % 3 == 0 { 5.0 } else { 1.0 }).collect();
    let x0: Vec<f64> = (0..n).map(|j| lo[j] + (hi[j] - lo[j]) * rng.uniform()).collect();
    let b = (0..m).map(|i| (0..n).map(|j| cols[j][i] * x0[j]).sum()).collect();
    Random { m, cols, cost, lo, hi, b }
}

/// Solves with the first `first` columns, then adds the rest (warm start); returns the
/// simplex's index of each column too.
fn ours(lp: &Random, first: usize) -> (Simplex, Outcome, Vec<usize>) {
    // Every column starts at its lower bound, so the right-hand side excludes it there.
    let mut rhs = lp.b.clone();
    for (j, col) in lp.cols.iter().enumerate() {
        for i in 0..lp.m {
            rhs[i] -= col[i] * lp.lo[j];
        }
    }
    let mut s = Simplex::new(rhs);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut idx = Vec::new();
    for j in 0..first {
        idx.push(s.add_column(&lp.cols[j], lp.cost[j], lp.lo[j], lp.hi[j], lp.lo[j]));
    }
    let mut out = s.solve(100_000, deadline);
    if first < lp.cols.len() {
        for j in first..lp.cols.len() {
            idx.push(s.add_column(&lp.cols[j], lp.cost[j], lp.lo[j], lp.hi[j], lp.lo[j]));
        }
        out = s.solve(100_000, deadline);
    }
    (s, out, idx)
}

fn microlp(lp: &Random) -> f64 {
    let mut vars = ProblemVariables::new();
    let x: Vec<Variable> = (0..lp.cols.len()).map(|j| vars.add(variable().min(lp.lo[j]).max(lp.hi[j]))).collect();
    let obj = x.iter().zip(&lp.cost).fold(Expression::from(0.0), |mut e, (&v, &c)| {
        e.add_mul(c, v);
        e
    });
    let mut model = vars.maximise(obj.clone()).using(good_lp::microlp);
    for i in 0..lp.m {
        let row = x.iter().zip(&lp.cols).fold(Expression::from(0.0), |mut e, (&v, col)| {
            e.add_mul(col[i], v);
            e
        });
        model.add_constraint(constraint::eq(row, lp.b[i]));
    }
    let sol = model.solve().expect("feasible and bounded");
    sol.eval(&obj)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Same optimal value as microlp; the solution is feasible; the multipliers satisfy
    /// the optimality conditions (reduced costs ≤ 0 at lower bounds, ≥ 0 at upper
    /// bounds, 0 in between); a warm start after adding columns gives the same value.
    #[test]
    fn matches_microlp(m in 1usize..8, extra in 1usize..20, seed in 0u64..10_000, split in 0.0f64..1.0) {
        let n = m + extra;
        let lp = random_lp(m, n, seed);
        let reference = microlp(&lp);
        let first = ((n as f64) * split) as usize;
        for start in [n, first.max(1)] {
            let (s, out, idx) = ours(&lp, start);
            prop_assert_eq!(out, Outcome::Optimal);
            let value = s.objective();
            prop_assert!((value - reference).abs() <= 1e-9 * (1.0 + reference.abs()), "{value} vs microlp {reference}");
            let x: Vec<f64> = idx.iter().map(|&j| s.value(j)).collect();
            for i in 0..m {
                let ax: f64 = (0..n).map(|j| lp.cols[j][i] * x[j]).sum();
                prop_assert!((ax - lp.b[i]).abs() <= 1e-9 * (1.0 + lp.b[i].abs()));
            }
            let pi = s.duals();
            for (j, &xj) in x.iter().enumerate() {
                prop_assert!(xj >= lp.lo[j] - 1e-9 && xj <= lp.hi[j] + 1e-9);
                let d = lp.cost[j] - (0..m).map(|i| lp.cols[j][i] * pi[i]).sum::<f64>();
                if xj > lp.lo[j] + 1e-7 {
                    prop_assert!(d >= -1e-8, "column {j} above its lower bound with reduced cost {d}");
                }
                if xj < lp.hi[j] - 1e-7 {
                    prop_assert!(d <= 1e-8, "column {j} below its upper bound with reduced cost {d}");
                }
            }
        }
    }
}

/// Mirrored pairs: column 2i+1 is column 2i with every entry but the last negated
/// (the L∞ dual columns y⁺, y⁻ of one row), stored once by `add_mirrored_pair`.
fn mirrored_lp(m: usize, pairs: usize, seed: u64) -> Random {
    let mut lp = random_lp(m, 2 * pairs, seed);
    for i in 0..pairs {
        let mut mirror = lp.cols[2 * i].clone();
        for v in &mut mirror[..m - 1] {
            *v = -*v;
        }
        lp.cols[2 * i + 1] = mirror;
        lp.lo[2 * i + 1] = lp.lo[2 * i];
        lp.hi[2 * i + 1] = lp.hi[2 * i];
    }
    // b again from a point inside the (now paired) bounds: feasible.
    let mut rng = crate::data::Rng::seed_from_u64(seed ^ 0x5eed);
    let x0: Vec<f64> = (0..2 * pairs).map(|j| lp.lo[j] + (lp.hi[j] - lp.lo[j]) * rng.uniform()).collect();
    lp.b = (0..m).map(|i| (0..2 * pairs).map(|j| lp.cols[j][i] * x0[j]).sum()).collect();
    lp
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Pairs stored once give microlp's value, and the same value as the same LP with
    /// every column stored separately; the solution is feasible.
    #[test]
    fn mirrored_pairs_match_microlp(m in 2usize..8, pairs in 1usize..12, seed in 0u64..10_000) {
        let lp = mirrored_lp(m, pairs, seed);
        let reference = microlp(&lp);
        let mut rhs = lp.b.clone();
        for (j, col) in lp.cols.iter().enumerate() {
            for i in 0..m {
                rhs[i] -= col[i] * lp.lo[j];
            }
        }
        let mut s = Simplex::new(rhs);
        for i in 0..pairs {
            let j = 2 * i;
            let q = s.add_mirrored_pair(&lp.cols[j], m - 1, (lp.cost[j], lp.cost[j + 1]), lp.lo[j], lp.hi[j], lp.lo[j]);
            prop_assert_eq!(q, j);
        }
        let out = s.solve(100_000, Instant::now() + Duration::from_secs(60));
        prop_assert_eq!(out, Outcome::Optimal);
        let value = s.objective();
        prop_assert!((value - reference).abs() <= 1e-9 * (1.0 + reference.abs()), "{value} vs microlp {reference}");
        let (plain, plain_out, _) = ours(&lp, 2 * pairs);
        prop_assert_eq!(plain_out, Outcome::Optimal);
        prop_assert!((value - plain.objective()).abs() <= 1e-9 * (1.0 + reference.abs()));
        for i in 0..m {
            let ax: f64 = (0..2 * pairs).map(|j| lp.cols[j][i] * s.value(j)).sum();
            prop_assert!((ax - lp.b[i]).abs() <= 1e-9 * (1.0 + lp.b[i].abs()));
        }
        for j in 0..2 * pairs {
            prop_assert!(s.value(j) >= lp.lo[j] - 1e-9 && s.value(j) <= lp.hi[j] + 1e-9);
        }
    }
}

/// An LP with no feasible point is reported as such.
#[test]
fn infeasible_is_reported() {
    // x0 + x1 = 5 with 0 ≤ x ≤ 1.
    let mut s = Simplex::new(vec![5.0]);
    s.add_column(&[1.0], 1.0, 0.0, 1.0, 0.0);
    s.add_column(&[1.0], 1.0, 0.0, 1.0, 0.0);
    assert_eq!(s.solve(1000, Instant::now() + Duration::from_secs(5)), Outcome::Infeasible);
}

