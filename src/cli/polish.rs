//! `relucert polish`: a certified KKT point of the max-margin problem near a network
//! (the library's `relucert::polish`). Writes the network only when it is certified.

use std::path::PathBuf;

use clap::Args;

use super::paths::{self, named};
use super::{load_pair, CliError, Ctx, Output};
use relucert::io::{self, FileDtype};
use relucert::polish::{self, PolishSettings, PolishStatus};

/// Arguments of `polish`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  relucert polish --net trained.json --data d.json -o kkt-net.json --json")]
pub struct PolishArgs {
    /// Network file.
    #[arg(long)]
    pub net: PathBuf,
    /// Dataset file.
    #[arg(long)]
    pub data: PathBuf,
    /// Where to write the certified KKT network (written only when polishing succeeds).
    #[arg(short = 'o', long = "out")]
    pub out: PathBuf,
    /// Largest certified ε_rel accepted.
    #[arg(long, default_value_t = 1e-8)]
    pub target_eps_rel: f64,
    /// Ambiguity tolerance τ of the certificate.
    #[arg(long, default_value_t = 1e-9)]
    pub tau: f64,
    /// SQP iteration budget.
    #[arg(long, default_value_t = 2000)]
    pub max_iterations: usize,
    /// Wall-clock limit in seconds.
    #[arg(long, default_value_t = 300.0)]
    pub time_limit: f64,
}

/// Runs `polish`: exit 0 with the network written when a KKT point is certified; an
/// error (exit 1) after the report, with nothing written, otherwise.
pub fn run(a: &PolishArgs, _ctx: &Ctx) -> Result<Output, CliError> {
    paths::refuse_overwrite(&[named("-o", &a.out)], &[named("--net", &a.net), named("--data", &a.data)])?;
    let (net, data) = load_pair(&a.net, &a.data)?;
    let settings = PolishSettings {
        target_eps_rel: a.target_eps_rel,
        tau: a.tau,
        max_iterations: a.max_iterations,
        time_limit: a.time_limit,
        ..PolishSettings::default()
    };
    let out = polish::polish(&net, &data, &settings).map_err(|e| CliError::Usage(e.to_string()))?;
    let human = out.report.summary();
    match (&out.net, out.report.status) {
        (Some(star), PolishStatus::Kkt) => {
            io::write_net(&a.out, star, FileDtype::F64)?;
            Ok(Output::new(&out.report, format!("{human}  written            {}\n", a.out.display())))
        }
        _ => Err(CliError::PolishFailed {
            message: format!("{}: {} (nothing written)", out.report.status.name(), out.report.message),
            output: Box::new(Output::new(&out.report, human)),
        }),
    }
}
