//! `relucert eval`: margins, q_min and accuracy.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::paths::{self, named};
use super::{fmt_num, load_pair, CliError, Ctx, Output};
use relucert::io;
use relucert::net::argmin;

/// Arguments of `eval`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  relucert eval --net n.json --data d.json --json")]
pub struct EvalArgs {
    /// Network file.
    #[arg(long)]
    pub net: PathBuf,
    /// Dataset file.
    #[arg(long)]
    pub data: PathBuf,
    /// Also write the report to this JSON file (atomically; the name must end in .json).
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
}

/// The `eval` report.
#[derive(Debug, Serialize)]
pub struct EvalReport {
    format: &'static str,
    net: io::InputFile,
    data: io::InputFile,
    margins: Vec<f64>,
    q_min: f64,
    argmin: usize,
    accuracy: f64,
    theta_norm_sq: f64,
    normalized_margin: f64,
    width: usize,
    d: usize,
    m: usize,
}

/// Runs `eval`.
pub fn run(a: &EvalArgs, _ctx: &Ctx) -> Result<Output, CliError> {
    if let Some(out) = &a.out {
        paths::json_report("-o", out)?;
        paths::refuse_overwrite(&[named("-o", out)], &[named("--net", &a.net), named("--data", &a.data)])?;
    }
    let (net, data) = load_pair(&a.net, &a.data)?;
    let q = net.margins(&data)?;
    let (argmin, q_min) = argmin(&q);
    let accuracy = net.accuracy(&data)?;
    let theta_norm_sq = net.param_norm_sq();
    let report = EvalReport {
        format: "relucert/eval@1",
        net: io::InputFile::of(&a.net)?,
        data: io::InputFile::of(&a.data)?,
        margins: q.iter().copied().collect(),
        q_min,
        argmin,
        accuracy,
        theta_norm_sq,
        normalized_margin: q_min / theta_norm_sq,
        width: net.width(),
        d: data.d(),
        m: data.m(),
    };
    if let Some(out) = &a.out {
        io::write_json(out, &report)?;
    }
    let human = format!(
        "network: width {}, d = {}; data: m = {}\nq_min = {} (sample {argmin}), accuracy = {}, ||θ||² = {}, q_min/||θ||² = {}",
        net.width(),
        data.d(),
        data.m(),
        fmt_num(q_min),
        fmt_num(accuracy),
        fmt_num(theta_norm_sq),
        fmt_num(q_min / theta_norm_sq)
    );
    Ok(Output::new(&report, human))
}
