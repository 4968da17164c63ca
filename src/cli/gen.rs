//! `relucert gen`: seeded datasets (generators in docs/model.md).

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::{fmt_num, parse, CliError, Ctx, Output};
use relucert::data::{Generator, InnerProductStats};
use relucert::io::{self, FileDtype};

/// Which generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Uniform on the sphere of radius √d, labels uniform.
    Sphere,
    /// N(0, s² I), labels uniform (s² = --variance, default 1).
    Gaussian,
    /// x_i = √d e_i, first ⌊m/2⌋ labelled +1 (needs m ≤ d).
    Orthogonal,
    /// Clusters on the √d sphere (--clusters, --noise), one label per cluster.
    Clusters,
}

/// Arguments of `gen`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  relucert gen sphere --d 50 --m 20 --seed 1 -o d.json")]
pub struct GenArgs {
    /// Generator.
    pub kind: Kind,
    /// Input dimension d.
    #[arg(long, value_parser = parse::positive_usize)]
    pub d: usize,
    /// Number of samples m.
    #[arg(long, value_parser = parse::positive_usize)]
    pub m: usize,
    /// Random seed (same seed, same bytes on every machine).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Coordinate variance s² for `gaussian`.
    #[arg(long, default_value_t = 1.0, value_parser = parse::positive_f64)]
    pub variance: f64,
    /// Number of clusters for `clusters`.
    #[arg(long, default_value_t = 4, value_parser = parse::positive_usize)]
    pub clusters: usize,
    /// Noise standard deviation for `clusters` (before rescaling to the sphere).
    #[arg(long, default_value_t = 0.5, value_parser = parse::nonneg_f64)]
    pub noise: f64,
    /// Element type for .safetensors/.npz output.
    #[arg(long, value_enum, default_value_t = FileDtype::F64)]
    pub dtype: FileDtype,
    /// Output file (.json, .safetensors or .npz).
    #[arg(short = 'o', long = "out")]
    pub out: PathBuf,
}

#[derive(Serialize)]
struct GenReport {
    format: &'static str,
    generator: Kind,
    d: usize,
    m: usize,
    seed: u64,
    output: String,
    positives: usize,
    negatives: usize,
    stats: InnerProductStats,
}

/// Runs `gen`.
pub fn run(a: &GenArgs, _ctx: &Ctx) -> Result<Output, CliError> {
    io::FileFormat::from_path(&a.out)?;
    let generator = match a.kind {
        Kind::Sphere => Generator::Sphere,
        Kind::Gaussian => Generator::Gaussian { variance: a.variance },
        Kind::Orthogonal => Generator::Orthogonal,
        Kind::Clusters => Generator::Clusters { clusters: a.clusters, noise: a.noise },
    };
    let data = generator.generate(a.d, a.m, a.seed)?;
    io::write_data(&a.out, &data, a.dtype)?;
    let (positives, negatives) = data.label_counts();
    let stats = data.inner_product_stats();
    let report = GenReport {
        format: io::tags::GEN,
        generator: a.kind,
        d: a.d,
        m: a.m,
        seed: a.seed,
        output: a.out.display().to_string(),
        positives,
        negatives,
        stats,
    };
    let human = format!(
        "wrote {} ({:?}, d = {}, m = {}, seed = {}; {} labelled +1, {} labelled -1)\np = max |<x_i,x_j>| = {}, c = p/d = {}",
        a.out.display(),
        a.kind,
        a.d,
        a.m,
        a.seed,
        positives,
        negatives,
        fmt_num(stats.p),
        fmt_num(stats.c)
    );
    Ok(Output::new(&report, human))
}
