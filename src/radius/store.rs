//! The exact search's node store: its open nodes ([`Node`]), the queue entries that
//! order them ([`HeapItem`]), and how much memory the tree holds — an estimate of the
//! bytes of the open nodes (their paths, tightened ranges and, with a proof, their
//! leaves) and of the proof leaves recorded so far. The search stops with a bracket (reason `memory`)
//! once the estimate passes its limit ([`super::RadiusSettings::max_store_bytes`],
//! docs/radius.md), instead of growing until the machine runs out: at paper scale the
//! open nodes take about 70 kB each, a few hundred MB per minute.
//!
//! The estimate counts each vector by its capacity plus the fixed size of its
//! elements; allocator overhead is not counted, so it reads somewhat low.

use std::cmp::Ordering;
use std::mem::size_of;
use std::sync::Arc;

use super::certify::{Cut, Leaf};
use super::range::Range;

/// An open node of the tree.
#[derive(Clone)]
pub(crate) struct Node {
    pub(crate) lb: f64,
    pub(crate) r_eval: f64,
    pub(crate) assign: Vec<(usize, bool)>,
    pub(crate) branch: Option<usize>,
    /// The node's tightened ranges, which warm start its children's.
    pub(crate) ranges: Arc<Vec<Range>>,
    /// The node's proof leaf (kept when a proof is recorded).
    pub(crate) leaf: Option<Leaf>,
}

/// A node to evaluate: its path and its parent's ranges (a warm start).
pub(crate) type Pending = (Vec<(usize, bool)>, Arc<Vec<Range>>);

/// A queue entry: a node's bound and its slot in the store (a min-heap on the bound,
/// then first in, first out).
pub(crate) struct HeapItem(pub(crate) f64, pub(crate) usize);
impl PartialEq for HeapItem {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0 && self.1 == o.1
    }
}
impl Eq for HeapItem {}
impl PartialOrd for HeapItem {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for HeapItem {
    fn cmp(&self, o: &Self) -> Ordering {
        // Min-heap on the bound, then FIFO.
        o.0.total_cmp(&self.0).then(o.1.cmp(&self.1))
    }
}

impl Node {
    /// An empty node, left in a store slot whose node was taken.
    pub(crate) fn empty() -> Node {
        Node { lb: 0.0, r_eval: 0.0, assign: Vec::new(), branch: None, leaf: None, ranges: Arc::default() }
    }

    /// Estimated bytes beyond the node's slot in the store ([`node_bytes`]).
    pub(crate) fn bytes(&self) -> u64 {
        node_bytes(&self.assign, &self.ranges, self.leaf.as_ref())
    }
}

/// Bytes of a list of ranges (each with its multipliers).
pub(crate) fn ranges_bytes(ranges: &[Range]) -> u64 {
    let each: usize = ranges.iter().map(|r| size_of::<Range>() + r.mult.capacity() * size_of::<(usize, f64)>()).sum();
    each as u64
}

/// Bytes of a proof leaf, its own size included.
pub(crate) fn leaf_bytes(leaf: &Leaf) -> u64 {
    let pairs = (leaf.path.capacity() + leaf.fixed.capacity()) * size_of::<(usize, bool)>();
    let cuts: usize = leaf.cuts.iter().map(|c| size_of::<Cut>() + c.on.capacity() * size_of::<usize>()).sum();
    (size_of::<Leaf>() + pairs + leaf.signs.capacity() * size_of::<f64>() + cuts) as u64 + ranges_bytes(&leaf.ranges)
}

/// Bytes of an open node beyond its slot in the store: its path, its ranges and its
/// leaf.
pub(crate) fn node_bytes(assign: &[(usize, bool)], ranges: &[Range], leaf: Option<&Leaf>) -> u64 {
    std::mem::size_of_val(assign) as u64 + ranges_bytes(ranges) + leaf.map_or(0, leaf_bytes)
}
