//! Format tags: the `"format"` field that every file the toolkit writes carries, one
//! constant per kind of file (see docs/formats.md).
//!
//! A tag is `relucert/<kind>@<version>`. Readers compare the whole tag and refuse any
//! other, so a file from a newer version is never misread. Every tag lives here, so a
//! version bump is one edit and `grep` finds every reader and writer of a format.

/// Network files (`.json`): `{"format":"relucert/net@1","d":..,"k":..,"bias":..,"w":..,"b":..,"v":..}`.
pub const NET: &str = "relucert/net@1";
/// Dataset files (`.json`): `{"format":"relucert/data@1","d":..,"m":..,"x":..,"y":..}`.
pub const DATA: &str = "relucert/data@1";
/// KKT certificate reports (`kkt`).
pub const KKT: &str = "relucert/kkt@1";
/// Robustness-radius reports (`radius`).
pub const RADIUS: &str = "relucert/radius@1";
/// Proofs of radius lower bounds (`radius --proof`, read by `verify-radius`).
pub const RADIUS_PROOF: &str = "relucert/radius-proof@2";
/// The previous radius-proof tag (no ball certificate), still read by `verify-radius`.
pub const RADIUS_PROOF_V1: &str = "relucert/radius-proof@1";
/// Polish reports (`polish`).
pub const POLISH: &str = "relucert/polish@1";
/// Theorem 4.1 reports (`theorem41`).
pub const THEOREM41: &str = "relucert/theorem41@1";
/// Training reports (`train`).
pub const TRAIN: &str = "relucert/train@1";
/// Training checkpoints written beside a network during `train` (with the trainer's
/// whole state).
pub const TRAIN_CHECKPOINT: &str = "relucert/train-checkpoint@2";
/// The first training checkpoints (iteration and loss only), still read.
pub const TRAIN_CHECKPOINT_V1: &str = "relucert/train-checkpoint@1";
/// Generator reports (`gen`).
pub const GEN: &str = "relucert/gen@1";
/// Evaluation reports (`eval`).
pub const EVAL: &str = "relucert/eval@1";
/// Construction reports (`construct`).
pub const CONSTRUCT: &str = "relucert/construct@1";
/// Demo reports (`demo`).
pub const DEMO: &str = "relucert/demo@1";
/// Claim-check reports (`check`).
pub const CHECK: &str = "relucert/check@1";
/// Sweep reports (`reproduce`).
pub const REPRODUCE: &str = "relucert/reproduce@1";
/// Sweep grids (`grid.json` of `reproduce`).
pub const GRID: &str = "relucert/grid@1";
/// Hash domain of a network's content (not a file: the prefix hashed before a
/// network's numbers, so content hashes of different kinds never collide).
pub const NET_CONTENT: &str = "relucert/net-content@1";
/// Hash domain of a dataset's content (see [`NET_CONTENT`]).
pub const DATA_CONTENT: &str = "relucert/data-content@1";

/// Every tag above, for tests and tools that list the formats.
pub const ALL: &[&str] = &[
    NET, DATA, KKT, RADIUS, RADIUS_PROOF, RADIUS_PROOF_V1, POLISH, THEOREM41, TRAIN, TRAIN_CHECKPOINT, TRAIN_CHECKPOINT_V1, GEN, EVAL, CONSTRUCT, DEMO, CHECK, REPRODUCE,
    GRID, NET_CONTENT, DATA_CONTENT,
];
