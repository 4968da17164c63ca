//! A fixed-size set of indices, one bit each (docs/kkt.md, "LP norms": memory): the
//! "on" pairs of a problem's activation pattern (ns·k bits instead of ns·k bytes) and
//! the working set of the LP generation (one bit per parameter row).

/// The indices `0..len` in or out of the set.
#[derive(Debug, Clone)]
pub(crate) struct BitSet {
    words: Vec<u64>,
    len: usize,
}

impl BitSet {
    /// The empty set over `0..len`.
    pub fn new(len: usize) -> BitSet {
        BitSet { words: vec![0; len.div_ceil(64)], len }
    }

    /// The set of the `i < len` with `f(i)`.
    pub fn from_fn(len: usize, mut f: impl FnMut(usize) -> bool) -> BitSet {
        let mut s = BitSet::new(len);
        for i in 0..len {
            if f(i) {
                s.insert(i);
            }
        }
        s
    }

    /// Whether `i` is in the set. Panics if `i ≥ len` (a programming error).
    pub fn contains(&self, i: usize) -> bool {
        assert!(i < self.len, "index {i} outside the set's range {}", self.len);
        self.words[i / 64] >> (i % 64) & 1 == 1
    }

    /// Puts `i` in the set. Panics if `i ≥ len`.
    pub fn insert(&mut self, i: usize) {
        assert!(i < self.len, "index {i} outside the set's range {}", self.len);
        self.words[i / 64] |= 1 << (i % 64);
    }

    /// Membership of `0..len` in order.
    pub fn iter(&self) -> impl Iterator<Item = bool> + '_ {
        (0..self.len).map(|i| self.contains(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Membership agrees with a vector of flags, across word boundaries.
    #[test]
    fn matches_flags() {
        let mut rng = crate::data::Rng::seed_from_u64(3);
        for len in [0, 1, 63, 64, 65, 200] {
            let flags: Vec<bool> = (0..len).map(|_| rng.uniform() < 0.4).collect();
            let mut s = BitSet::from_fn(len, |i| flags[i]);
            assert_eq!(s.iter().collect::<Vec<_>>(), flags);
            if len > 0 {
                s.insert(len - 1);
                assert!(s.contains(len - 1));
            }
        }
    }
}
