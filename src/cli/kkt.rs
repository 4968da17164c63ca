//! `relucert kkt` and `relucert verify-kkt`: KKT certificates (docs/kkt.md, docs/reports.md).

use std::path::PathBuf;

use clap::Args;

use super::parse::{self, TauLadder};
use super::paths;
use super::{load_pair, CliError, Ctx, Output};
use relucert::io;
use relucert::kkt::{self, InputInfo, KktReport, KktSettings, Norm, Support, REPORT_FORMAT};

/// Arguments of `kkt`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  relucert kkt --net n.json --data d.json\n  relucert kkt --net n.json --data d.json --norm linf --all -o cert.json")]
pub struct KktArgs {
    /// Network file.
    #[arg(long)]
    pub net: PathBuf,
    /// Dataset file.
    #[arg(long)]
    pub data: PathBuf,
    /// Residual norm.
    #[arg(long, value_enum, default_value_t = Norm::L2)]
    pub norm: Norm,
    /// Ambiguity tolerance τ: |u_ij| ≤ τ·‖(w_j,b_j)‖·‖(x_i,1)‖ counts as a kink.
    #[arg(long, default_value_t = 1e-9, value_parser = parse::nonneg_f64)]
    pub tau: f64,
    /// Support: samples with q̂_i ≤ 1 + slack (the paper's 10 %).
    #[arg(long, default_value_t = 0.1, conflicts_with = "all", value_parser = parse::nonneg_f64)]
    pub slack: f64,
    /// Support: every sample (δ = Σ λ_i (q̂_i − 1) then measures complementary slackness).
    #[arg(long)]
    pub all: bool,
    /// τ values of the τ-profile, comma-separated (empty string for none). Each is one
    /// more solve; large τ on large networks costs minutes.
    #[arg(long, default_value = "1e-9,1e-6,1e-4,1e-3,1e-2", value_parser = parse::tau_ladder)]
    pub tau_ladder: TauLadder,
    /// Write the certificate to this JSON file (atomically; the name must end in .json).
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
}

fn info(path: &std::path::Path, content_sha256: String) -> Result<InputInfo, CliError> {
    let f = io::InputFile::of(path)?;
    Ok(InputInfo { name: Some(f.path), sha256: Some(f.sha256), content_sha256 })
}

/// Runs `kkt`.
pub fn run(a: &KktArgs, _ctx: &Ctx) -> Result<Output, CliError> {
    paths::report_out(a.out.as_deref(), &a.net, &a.data)?;
    let (net, data) = load_pair(&a.net, &a.data)?;
    let settings = KktSettings {
        norm: a.norm,
        tau: a.tau,
        support: if a.all { Support::All } else { Support::Margin { slack: a.slack } },
        tau_ladder: a.tau_ladder.0.clone(),
        ..KktSettings::default()
    };
    let mut report = kkt::certify(&net, &data, &settings)?;
    report.net = info(&a.net, report.net.content_sha256.clone())?;
    report.data = info(&a.data, report.data.content_sha256.clone())?;
    if let Some(out) = &a.out {
        io::write_json(out, &report)?;
    }
    let human = report.summary();
    Ok(Output::new(&report, human))
}

/// Arguments of `verify-kkt`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  relucert verify-kkt --net n.json --data d.json --cert cert.json")]
pub struct VerifyKktArgs {
    /// Network file.
    #[arg(long)]
    pub net: PathBuf,
    /// Dataset file.
    #[arg(long)]
    pub data: PathBuf,
    /// Certificate written by `relucert kkt -o`.
    #[arg(long)]
    pub cert: PathBuf,
}

/// Runs `verify-kkt`: exit 0 when the certificate holds, an error (exit 1) with the
/// measured residual otherwise.
pub fn run_verify(a: &VerifyKktArgs, _ctx: &Ctx) -> Result<Output, CliError> {
    let (net, data) = load_pair(&a.net, &a.data)?;
    let value: serde_json::Value = io::read_json(&a.cert)?;
    let found = value.get("format").and_then(|f| f.as_str()).unwrap_or("(none)").to_string();
    if found != REPORT_FORMAT {
        return Err(kkt::KktError::UnknownFormat { found, expected: REPORT_FORMAT }.into());
    }
    let report: KktReport = serde_json::from_value(value)
        .map_err(|e| CliError::Input(format!("{}: not a valid {REPORT_FORMAT} certificate: {e}", a.cert.display())))?;
    let v = kkt::verify(&net, &data, &report)?;
    if !v.holds {
        return Err(CliError::KktFails { summary: v.summary() });
    }
    let human = v.summary();
    Ok(Output::new(&v, human))
}
