//! `relucert eval`: margins, q_min and accuracy ([`relucert::eval`]), with the input
//! files recorded.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::paths;
use super::{fmt_num, load_pair, CliError, Ctx, Output};
use relucert::eval::{evaluate, EvalReport};
use relucert::io;

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

/// The `eval` report: the library's and the input files.
#[derive(Debug, Serialize)]
struct CliEvalReport {
    #[serde(flatten)]
    report: EvalReport,
    net: io::InputFile,
    data: io::InputFile,
}

/// Runs `eval`.
pub fn run(a: &EvalArgs, _ctx: &Ctx) -> Result<Output, CliError> {
    paths::report_out(a.out.as_deref(), &a.net, &a.data)?;
    let (net, data) = load_pair(&a.net, &a.data)?;
    let report = CliEvalReport { report: evaluate(&net, &data)?, net: io::InputFile::of(&a.net)?, data: io::InputFile::of(&a.data)? };
    if let Some(out) = &a.out {
        io::write_json(out, &report)?;
    }
    let r = &report.report;
    let human = format!(
        "network: width {}, d = {}; data: m = {}\nq_min = {} (sample {}), accuracy = {}, ||θ||² = {}, q_min/||θ||² = {}",
        r.width,
        r.d,
        r.m,
        fmt_num(r.q_min),
        r.argmin,
        fmt_num(r.accuracy),
        fmt_num(r.theta_norm_sq),
        fmt_num(r.normalized_margin)
    );
    Ok(Output::new(&report, human))
}
