//! Exact analysis of a depth-2 ReLU network along a ray.
//!
//! Along `t ↦ x + t u` every neuron's pre-activation is affine, `a_j + t p_j`, so
//! `h(t) = Σ_j α_j σ(a_j + t p_j)` is piecewise linear with at most k breakpoints
//! `t_j = −a_j / p_j`. Sorting them gives every piece; on each piece the sub-level set
//! `{h ≤ level}` (or `{h < level}`) is an interval found in closed form — no bisection.
//!
//! Values are carried from piece to piece incrementally (O(1) per breakpoint) and
//! re-computed exactly (O(k)) on every piece where the sub-level set is entered, so
//! that each reported endpoint is computed from exact values of that piece.

/// An interval `[lo, hi]` of the ray parameter (`hi` may be +∞). Whether the ends
/// belong to it depends on the set it came from (closed for `≤`, open for `<`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Lower end.
    pub lo: f64,
    /// Upper end (+∞ for an unbounded interval).
    pub hi: f64,
}

/// One ray's data: `h(t) = Σ_j alpha[j]·σ(a[j] + t·p[j])`.
pub(crate) struct Ray<'a> {
    pub a: &'a [f64],
    pub p: &'a [f64],
    pub alpha: &'a [f64],
}

impl Ray<'_> {
    /// `h(t)`, with the neurons in `kinks` (those whose breakpoint is exactly `t`)
    /// taken at their kink, `σ(0) = 0`, instead of a rounded pre-activation.
    fn value(&self, t: f64, kinks: &[usize]) -> f64 {
        let mut s = 0.0;
        for j in 0..self.a.len() {
            if !kinks.contains(&j) {
                s += self.alpha[j] * (self.a[j] + t * self.p[j]).max(0.0);
            }
        }
        s
    }

    /// Slope of the piece `(t, t_next)`, from the neurons on at its midpoint.
    fn slope_between(&self, t: f64, t_next: f64) -> f64 {
        let mid = if t_next.is_finite() { 0.5 * (t + t_next) } else { t + t.abs().max(1.0) };
        self.a
            .iter()
            .zip(self.p)
            .zip(self.alpha)
            .filter(|((a, p), _)| *a + mid * *p > 0.0)
            .map(|((_, p), al)| al * p)
            .sum()
    }

    /// The sub-level set `{t ≥ 0 : h(t) ≤ level}` (`strict`: `h(t) < level`) as sorted,
    /// disjoint intervals.
    pub fn sublevel(&self, level: f64, strict: bool) -> Vec<Interval> {
        let k = self.a.len();
        let mut bps: Vec<(f64, usize)> = Vec::with_capacity(k);
        let mut slope = 0.0;
        for j in 0..k {
            let (a, p) = (self.a[j], self.p[j]);
            if p != 0.0 {
                let t = -a / p;
                if t > 0.0 && t.is_finite() {
                    bps.push((t, j));
                }
            }
            if a > 0.0 || (a == 0.0 && p > 0.0) {
                slope += self.alpha[j] * p;
            }
        }
        bps.sort_by(|x, y| x.0.total_cmp(&y.0));
        // Size of the rounding in the carried values.
        let scale_a: f64 = self.a.iter().zip(self.alpha).map(|(a, al)| (a * al).abs()).sum();
        let scale_p: f64 = self.p.iter().zip(self.alpha).map(|(p, al)| (p * al).abs()).sum();
        let mut out: Vec<Interval> = Vec::new();
        let mut start = 0.0;
        let mut start_kinks: Vec<usize> = Vec::new();
        let mut val = self.value(0.0, &[]);
        let mut idx = 0;
        loop {
            let end = if idx < bps.len() { bps[idx].0 } else { f64::INFINITY };
            let mut end_kinks: Vec<usize> = Vec::new();
            let mut j2 = idx;
            while j2 < bps.len() && bps[j2].0 == end {
                end_kinks.push(bps[j2].1);
                j2 += 1;
            }
            let mut val_end = if end.is_finite() { val + slope * (end - start) } else { f64::NAN };
            // A loose test on the carried values; the piece is then re-done exactly.
            let reach = if end.is_finite() { end } else { start };
            let slack = 1e-9 * (scale_a + scale_p * reach + level.abs());
            // Pieces clearly above or clearly below the level need no exact values (their
            // ends are breakpoints); pieces near it, and the last piece, are re-done exactly.
            let clear_above = end.is_finite() && val > level + slack && val_end > level + slack;
            let clear_below = end.is_finite() && val < level - slack && val_end < level - slack;
            if clear_below {
                push_merge(&mut out, Interval { lo: start, hi: end });
            } else if !clear_above {
                val = self.value(start, &start_kinks);
                slope = self.slope_between(start, end);
                if end.is_finite() {
                    val_end = self.value(end, &end_kinks);
                }
                if let Some(iv) = piece_sublevel(start, end, val, val_end, slope, level, strict) {
                    push_merge(&mut out, iv);
                }
            }
            if end.is_infinite() {
                break;
            }
            for &j in &end_kinks {
                let ap = self.alpha[j] * self.p[j];
                if self.p[j] > 0.0 {
                    slope += ap;
                } else {
                    slope -= ap;
                }
            }
            idx = j2;
            start = end;
            start_kinks = end_kinks;
            val = val_end;
        }
        out
    }

    /// `inf {t ≥ 0 : h(t) ≤ level}`, or `None` when h stays above `level`.
    pub fn first_crossing(&self, level: f64) -> Option<f64> {
        self.sublevel(level, false).first().map(|iv| iv.lo)
    }
}

/// Sub-level interval of the linear piece on `[s, e]` with end values `vs`, `ve`
/// (`ve` unused when `e = ∞`) and slope `slope`.
fn piece_sublevel(s: f64, e: f64, vs: f64, ve: f64, slope: f64, level: f64, strict: bool) -> Option<Interval> {
    let below = |v: f64| if strict { v < level } else { v <= level };
    let root = |from: f64, v: f64| from + (level - v) / slope;
    let iv = if e.is_infinite() {
        if slope == 0.0 {
            below(vs).then_some(Interval { lo: s, hi: e })?
        } else if slope < 0.0 {
            Interval { lo: if below(vs) { s } else { root(s, vs).max(s) }, hi: e }
        } else {
            if !below(vs) {
                return None;
            }
            Interval { lo: s, hi: root(s, vs).max(s) }
        }
    } else {
        let (bs, be) = (below(vs), below(ve));
        match (bs, be) {
            (true, true) => Interval { lo: s, hi: e },
            (false, false) => return None,
            // Entering: the crossing lies inside the piece.
            (false, true) => Interval { lo: if slope < 0.0 { root(e, ve).clamp(s, e) } else { e }, hi: e },
            (true, false) => Interval { lo: s, hi: if slope > 0.0 { root(s, vs).clamp(s, e) } else { s } },
        }
    };
    if strict && iv.lo >= iv.hi {
        return None;
    }
    Some(iv)
}

fn push_merge(out: &mut Vec<Interval>, iv: Interval) {
    if let Some(last) = out.last_mut() {
        if iv.lo <= last.hi {
            last.hi = last.hi.max(iv.hi);
            return;
        }
    }
    out.push(iv);
}

/// Intersection of two sorted lists of disjoint intervals (`strict`: open intervals,
/// so touching ends do not intersect).
pub fn intersect(a: &[Interval], b: &[Interval], strict: bool) -> Vec<Interval> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        let lo = a[i].lo.max(b[j].lo);
        let hi = a[i].hi.min(b[j].hi);
        if lo < hi || (!strict && lo == hi) {
            out.push(Interval { lo, hi });
        }
        if a[i].hi < b[j].hi {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_crossing() {
        // h(t) = σ(1 − t) − σ(t − 0.5): 1 − t on [0, .5], 1.5 − 2t on [.5, 1], .5 − t after.
        let a = [1.0, -0.5];
        let p = [-1.0, 1.0];
        let alpha = [1.0, -1.0];
        let r = Ray { a: &a, p: &p, alpha: &alpha };
        assert!((r.first_crossing(0.0).unwrap() - 0.75).abs() < 1e-15);
        let s = r.sublevel(-1.0, false);
        assert_eq!(s.len(), 1);
        assert!((s[0].lo - 1.5).abs() < 1e-15 && s[0].hi.is_infinite());
    }

    #[test]
    fn dip_and_return() {
        // h(t) = σ(1 − t) + 2σ(t − 2) − ... : 1 − t on [0,1], 0 on [1,2], 2(t−2) after.
        let a = [1.0, -2.0];
        let p = [-1.0, 1.0];
        let alpha = [1.0, 2.0];
        let r = Ray { a: &a, p: &p, alpha: &alpha };
        let closed = r.sublevel(0.0, false);
        assert_eq!(closed, vec![Interval { lo: 1.0, hi: 2.0 }]);
        assert!(r.sublevel(0.0, true).is_empty());
        assert_eq!(intersect(&closed, &[Interval { lo: 2.0, hi: 5.0 }], false), vec![Interval { lo: 2.0, hi: 2.0 }]);
        assert!(intersect(&closed, &[Interval { lo: 2.0, hi: 5.0 }], true).is_empty());
    }
}
