//! Detection of data that no network can fit: the same point twice with opposite
//! labels. Every network then has loss ≥ 1 on the pair, so a target below 1 is out of
//! reach and the driver stops at once with `StopReason::Inseparable`.

use crate::data::Dataset;

/// Two samples that are the same point with opposite labels, if any.
pub fn find_conflicting_duplicate(data: &Dataset) -> Option<(usize, usize)> {
    let m = data.m();
    let mut idx: Vec<usize> = (0..m).collect();
    let x = data.x();
    let row = |i: usize| x.row(i).iter().map(|t| t.to_bits()).collect::<Vec<u64>>();
    let rows: Vec<Vec<u64>> = (0..m).map(row).collect();
    idx.sort_by(|&a, &b| rows[a].cmp(&rows[b]));
    for w in idx.windows(2) {
        let (a, b) = (w[0], w[1]);
        if rows[a] == rows[b] && data.y()[a] != data.y()[b] {
            return Some((a.min(b), a.max(b)));
        }
    }
    // Equal rows may not be adjacent when three or more copies exist with mixed labels.
    let mut start = 0;
    while start < m {
        let mut end = start + 1;
        while end < m && rows[idx[end]] == rows[idx[start]] {
            end += 1;
        }
        let group = &idx[start..end];
        if let Some(&p) = group.iter().find(|&&i| data.y()[i] > 0.0) {
            if let Some(&n) = group.iter().find(|&&i| data.y()[i] < 0.0) {
                return Some((p.min(n), p.max(n)));
            }
        }
        start = end;
    }
    None
}

