//! The weight and bias rows of the LP generation's working set as simplex columns that
//! are not stored (docs/kkt.md, "LP norms": memory): the row of w_{j,l} has the entry
//! v_j y_a x_{a,l} for every support sample a with (a, j) on, the same for every
//! relaxed pair (a, j) of neuron j, 1 in the t equation (L∞) and 0 elsewhere (x ≡ 1
//! for the bias b_j). The pivot row's products are recomputed per neuron:
//! a_{j,l}ᵀ ρ = v_j (Σ_{a on} y_a ρ_a x_{a,l} + Σ_{pairs} y_a ρ_t x_{a,l}) + ρ_t.

use super::super::simplex::{dot, Oracle};
use super::Rows;

impl Rows<'_> {
    /// Whether parameter row `idx` is a weight or bias row (the oracle's columns);
    /// the output-weight rows depend on σ, which is not stored, and stay dense.
    pub(super) fn is_weight_row(&self, idx: usize) -> bool {
        let kd = self.p.k * self.d;
        idx < kd || (self.p.bias && idx < kd + self.p.k)
    }

    /// Neuron and input coordinate of a weight row (None for a bias row).
    fn neuron_coord(&self, idx: usize) -> (usize, Option<usize>) {
        let kd = self.p.k * self.d;
        if idx < kd {
            (idx / self.d, Some(idx % self.d))
        } else {
            (idx - kd, None)
        }
    }

    /// x_{a,c}, or 1 for the bias.
    fn x(&self, a: usize, c: Option<usize>) -> f64 {
        c.map_or(1.0, |c| self.p.xs[(a, c)])
    }
}

impl Oracle for Rows<'_> {
    fn entry(&self, id: usize, i: usize) -> f64 {
        let p = self.p;
        let ns = p.ns();
        if Some(i) == self.t_row {
            return 1.0;
        }
        let (j, c) = self.neuron_coord(id);
        if i < ns {
            if p.on.contains(i * p.k + j) {
                p.v[j] * p.y[i] * self.x(i, c)
            } else {
                0.0
            }
        } else {
            let (a, l) = p.amb[i - ns];
            if l == j {
                p.v[j] * p.y[a] * self.x(a, c)
            } else {
                0.0
            }
        }
    }

    fn column(&self, id: usize, out: &mut [f64]) {
        let p = self.p;
        let ns = p.ns();
        let (j, c) = self.neuron_coord(id);
        out.fill(0.0);
        for (a, o) in out.iter_mut().enumerate().take(ns) {
            if p.on.contains(a * p.k + j) {
                *o = p.v[j] * p.y[a] * self.x(a, c);
            }
        }
        for &t in &self.amb_by_neuron[j] {
            let a = p.amb[t].0;
            out[ns + t] = p.v[j] * p.y[a] * self.x(a, c);
        }
        if let Some(r) = self.t_row {
            out[r] = 1.0;
        }
    }

    fn dots(&self, ids: &[usize], v: &[f64], out: &mut [f64]) {
        let p = self.p;
        let ns = p.ns();
        // By neuron, so that g_a = [on_aj] y_a v_a is formed once per neuron.
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_unstable_by_key(|&t| self.neuron_coord(ids[t]).0);
        let mut g = vec![0.0; ns];
        let mut current = usize::MAX;
        for t in order {
            let (j, c) = self.neuron_coord(ids[t]);
            if j != current {
                current = j;
                for (a, ga) in g.iter_mut().enumerate() {
                    *ga = if p.on.contains(a * p.k + j) { p.y[a] * v[a] } else { 0.0 };
                }
            }
            let mut s = match c {
                Some(c) => dot(&g, &p.xs.as_slice()[c * ns..(c + 1) * ns]),
                None => g.iter().sum(),
            };
            for &u in &self.amb_by_neuron[j] {
                let a = p.amb[u].0;
                s += p.y[a] * self.x(a, c) * v[ns + u];
            }
            out[t] = p.v[j] * s + self.t_row.map_or(0.0, |r| v[r]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Rng;
    use crate::kkt::problem::tests::{random_data, random_net};
    use crate::kkt::problem::Problem;
    use crate::kkt::theta::Theta;

    /// The oracle's columns, entries and products equal the explicit rows of A
    /// (`Rows::row`, the stored columns of before) on random nets with and without
    /// bias, with ambiguous pairs, on every sample and on a proper subset, with and
    /// without the t entry.
    #[test]
    fn recomputed_rows_equal_the_explicit_rows() {
        let (m, k, d) = (9, 70, 4);
        let mut rng = Rng::seed_from_u64(77);
        let data = random_data(&mut rng, m, d, 2);
        for bias in [false, true] {
            let net = random_net(&mut rng, k, d, bias);
            for support in [(0..m).collect::<Vec<_>>(), vec![0, 2, 3, 7]] {
                let p = Problem::new(Theta::new(&net, 1.0), &data, &support, 0.2);
                assert!(!p.amb.is_empty(), "the test wants ambiguous pairs");
                let n = p.nvars();
                for t_row in [None, Some(n)] {
                    let mut rows = Rows::new(&p, d);
                    rows.t_row = t_row;
                    let neq = n + usize::from(t_row.is_some());
                    let ids: Vec<usize> = (0..k * d + if bias { k } else { 0 }).collect();
                    assert!(ids.iter().all(|&i| rows.is_weight_row(i)));
                    assert!(!rows.is_weight_row(ids.len()), "the first v-row is not a weight row");
                    let v: Vec<f64> = (0..neq).map(|_| rng.normal()).collect();
                    let mut dots = vec![0.0; ids.len()];
                    rows.dots(&ids, &v, &mut dots);
                    let (mut row, mut col) = (Vec::new(), vec![0.0; neq]);
                    for (&id, &got) in ids.iter().zip(&dots) {
                        rows.row(id, &mut row);
                        let mut want = vec![0.0; neq];
                        for &(var, c) in &row {
                            want[var] = c;
                        }
                        if let Some(r) = t_row {
                            want[r] = 1.0;
                        }
                        rows.column(id, &mut col);
                        assert_eq!(col, want, "row {id}");
                        for (i, &w) in want.iter().enumerate() {
                            assert_eq!(rows.entry(id, i), w, "row {id} entry {i}");
                        }
                        let exact: f64 = want.iter().zip(&v).map(|(a, b)| a * b).sum();
                        let size: f64 = want.iter().zip(&v).map(|(a, b)| (a * b).abs()).sum();
                        assert!((got - exact).abs() <= 1e-13 * (1.0 + size), "row {id}: {got} vs {exact}");
                    }
                }
            }
        }
    }
}
