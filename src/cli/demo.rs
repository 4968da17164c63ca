//! `relucert demo`: the paper's story in one table, with no files needed.

use clap::Args;
use serde::Serialize;

use super::{fmt_num, CliError, Ctx, Output};
use crate::construct::{self, RobustSettings};
use crate::data::Generator;

/// Arguments of `demo`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  relucert demo")]
pub struct DemoArgs {
    /// Input dimension of the demo's sphere data.
    #[arg(long, default_value_t = 100)]
    pub d: usize,
    /// Number of samples.
    #[arg(long, default_value_t = 10)]
    pub m: usize,
    /// Seed of the data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Serialize)]
struct DemoReport {
    format: &'static str,
    d: usize,
    m: usize,
    seed: u64,
    sqrt_d: f64,
    p: f64,
    c: f64,
    robust_q_min: f64,
    robust_radius_bound: f64,
}

/// Runs `demo`.
pub fn run(a: &DemoArgs, _ctx: &Ctx) -> Result<Output, CliError> {
    let data = Generator::Sphere.generate(a.d, a.m, a.seed)?;
    let stats = data.inner_product_stats();
    let (net, c) = construct::robust(&data, &RobustSettings::default())?;
    let q = net.margins(&data)?;
    let q_min = crate::net::argmin(&q).1;
    let sqrt_d = (a.d as f64).sqrt();
    let report = DemoReport {
        format: "relucert/demo@1",
        d: a.d,
        m: a.m,
        seed: a.seed,
        sqrt_d,
        p: stats.p,
        c,
        robust_q_min: q_min,
        robust_radius_bound: (1.0 - c) / 4.0 * sqrt_d,
    };
    let human = format!(
        "relucert demo (so far: data and the Theorem 3.1 construction; training, KKT and radii join as they land)\n\
         sphere data: d = {}, m = {}, seed = {}, √d = {}\n\
         Lemma 3.1: p = max|<x_i,x_j>| = {}, c = p/d = {}\n\
         Theorem 3.1 robust network: width {}, q_min = {}, every radius ≥ (1−c)/4·√d = {}",
        a.d,
        a.m,
        a.seed,
        fmt_num(sqrt_d),
        fmt_num(stats.p),
        fmt_num(c),
        net.width(),
        fmt_num(q_min),
        fmt_num(report.robust_radius_bound)
    );
    Ok(Output::new(&report, human))
}
