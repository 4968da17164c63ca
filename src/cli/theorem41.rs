//! `relucert theorem41`: the smallest η of Theorem 4.1 on θ̂, with its hypotheses.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::paths;
use super::{load_pair, parse, CliError, Ctx, Output};
use relucert::io;
use relucert::radius::{theorem41, Theorem41Report, Theorem41Settings};

/// Arguments of `theorem41`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  relucert theorem41 --net n.json --data d.json --json")]
pub struct Theorem41Args {
    /// Network file.
    #[arg(long)]
    pub net: PathBuf,
    /// Dataset file.
    #[arg(long)]
    pub data: PathBuf,
    /// On-margin slack: I = {i : q̂_i ≤ 1 + slack} (the paper's 0.1).
    #[arg(long, default_value_t = 0.1, value_parser = parse::nonneg_f64)]
    pub slack: f64,
    /// Also write the report to this JSON file (atomically; the name must end in .json).
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct CliReport {
    format: &'static str,
    #[serde(flatten)]
    report: Theorem41Report,
    net: io::InputFile,
    data: io::InputFile,
}

/// Runs `theorem41`.
pub fn run(a: &Theorem41Args, _ctx: &Ctx) -> Result<Output, CliError> {
    paths::report_out(a.out.as_deref(), &a.net, &a.data)?;
    let (net, data) = load_pair(&a.net, &a.data)?;
    let settings = Theorem41Settings { slack: a.slack, ..Theorem41Settings::default() };
    let report = theorem41(&net, &data, &settings)?;
    let human = report.summary();
    let cli = CliReport {
        format: io::tags::THEOREM41,
        report,
        net: io::InputFile::of(&a.net)?,
        data: io::InputFile::of(&a.data)?,
    };
    if let Some(out) = &a.out {
        io::write_json(out, &cli)?;
    }
    Ok(Output::new(&cli, human))
}
