//! `relucert verify-radius`: re-check a `radius --proof` file against its report, with
//! fresh arithmetic and no solver (docs/radius.md).

use std::path::PathBuf;

use clap::Args;

use super::{load_pair, CliError, Ctx, Output};
use relucert::io;
use relucert::radius::{verify_radius, RadiusError, RadiusProof, ReportedSample, PROOF_FORMAT, REPORT_FORMAT};

/// Arguments of `verify-radius`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  relucert radius --net n.json --data d.json -o r.json --proof p.json\n  relucert verify-radius --net n.json --data d.json --report r.json --proof p.json")]
pub struct VerifyRadiusArgs {
    /// Network file.
    #[arg(long)]
    pub net: PathBuf,
    /// Dataset file.
    #[arg(long)]
    pub data: PathBuf,
    /// The `radius` report (JSON, exact method).
    #[arg(long)]
    pub report: PathBuf,
    /// The proof written by `radius --proof`.
    #[arg(long)]
    pub proof: PathBuf,
}

/// Runs `verify-radius`: exit 0 when every sample's proof holds, else one line naming
/// the first failing sample and leaf.
pub fn run(a: &VerifyRadiusArgs, _ctx: &Ctx) -> Result<Output, CliError> {
    let (net, data) = load_pair(&a.net, &a.data)?;
    let report: serde_json::Value = io::read_json(&a.report)?;
    let tag = |v: &serde_json::Value, key: &str| v.get(key).and_then(|f| f.as_str()).unwrap_or("(none)").to_string();
    if tag(&report, "format") != REPORT_FORMAT || tag(&report, "method") != "exact" {
        return Err(CliError::Usage(format!("{}: not an exact-method {REPORT_FORMAT} report", a.report.display())));
    }
    let samples: Vec<ReportedSample> = serde_json::from_value(report.get("samples").cloned().unwrap_or_default())
        .map_err(|e| CliError::Usage(format!("{}: unreadable samples: {e}", a.report.display())))?;
    let proof_json: serde_json::Value = io::read_json(&a.proof)?;
    if tag(&proof_json, "format") != PROOF_FORMAT {
        return Err(CliError::Usage(format!("{}: not a {PROOF_FORMAT} file", a.proof.display())));
    }
    let proof: RadiusProof = serde_json::from_value(proof_json).map_err(|e| CliError::Usage(format!("{}: unreadable proof: {e}", a.proof.display())))?;
    let summary = verify_radius(&net, &data, &samples, &proof).map_err(|e| CliError::Radius(RadiusError::ProofFails(e)))?;
    let human = summary.summary();
    Ok(Output::new(&summary, human))
}
