//! Minibatch order: a permutation of the samples, reshuffled with the run's seed each
//! time it runs out, and replayable from the number of shuffles (what a checkpoint
//! stores), so a resumed run draws the same batches.

use crate::data::Rng;

/// Minibatches drawn without replacement from a permutation that is reshuffled (in
/// place, with the run's seed) whenever the next batch would run past its end.
pub(crate) struct Batches {
    pub size: Option<usize>,
    rng: Rng,
    perm: Vec<usize>,
    pub pos: usize,
    pub epochs: u64,
    pub batch: Vec<usize>,
}

impl Batches {
    /// The batches of a run with `seed`, after `epochs` shuffles, at `pos`.
    pub fn new(m: usize, size: Option<usize>, seed: u64, epochs: u64, pos: usize) -> Batches {
        let mut rng = Rng::seed_from_u64(seed);
        let mut perm: Vec<usize> = (0..m).collect();
        if size.is_some() {
            for _ in 0..epochs {
                rng.shuffle(&mut perm);
            }
        }
        Batches { size, rng, perm, pos: pos.min(m), epochs, batch: Vec::new() }
    }

    /// The next batch (sorted indices), or `None` for full batch.
    pub fn next(&mut self) -> Option<&[usize]> {
        let bs = self.size?;
        if self.pos + bs > self.perm.len() {
            self.rng.shuffle(&mut self.perm);
            self.pos = 0;
            self.epochs += 1;
        }
        self.batch.clear();
        self.batch.extend_from_slice(&self.perm[self.pos..self.pos + bs]);
        self.batch.sort_unstable();
        self.pos += bs;
        Some(&self.batch)
    }
}

