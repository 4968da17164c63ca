//! `relucert check`: every claim of the paper on shipped fixtures.

use clap::Args;

use super::{CliError, Ctx, Output};
use relucert::claims;

/// Arguments of `check`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  relucert check\n  relucert check --json")]
pub struct CheckArgs {}

/// Runs `check`; fails (exit 1) when any claim fails, after printing the table.
pub fn run(_a: &CheckArgs, _ctx: &Ctx) -> Result<Output, CliError> {
    let report = claims::check_all()?;
    let out = Output::new(&report, report.summary());
    if report.all_passed {
        Ok(out)
    } else {
        let failed = report.claims.iter().filter(|c| !c.passed).count();
        Err(CliError::ClaimsFailed { failed, total: report.claims.len(), output: Box::new(out) })
    }
}
