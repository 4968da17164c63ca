//! `relucert radius`: exact, ray and Figure 1 robustness radii (docs/radius.md), and
//! the proof file of `--proof`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::paths::{self, named};
use super::{load_pair, parse, CliError, Ctx, Output};
use relucert::io;
use relucert::radius::{radius_report_with_progress, RadiusMethod, RadiusProgress, RadiusReport, RadiusSettings};

/// Which radius to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MethodArg {
    /// Minimal L2 perturbation (branch and bound, witness and proof).
    Exact,
    /// Radius along `--direction`, exact from the breakpoints.
    Ray,
    /// The paper's Figure 1 measurement c* over the on-margin set.
    Fig1,
}

/// Arguments of `radius`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  relucert radius --net n.json --data d.json --samples 0,3 --json\n  relucert radius --net n.json --data d.json --method ray --direction u.json\n  relucert radius --net n.json --data d.json --method fig1")]
pub struct RadiusArgs {
    /// Network file.
    #[arg(long)]
    pub net: PathBuf,
    /// Dataset file.
    #[arg(long)]
    pub data: PathBuf,
    /// Which radius.
    #[arg(long, value_enum, default_value_t = MethodArg::Exact)]
    pub method: MethodArg,
    /// 0-based sample indices, comma separated (default: all; ignored by fig1, which
    /// uses the on-margin set).
    #[arg(long, value_delimiter = ',')]
    pub samples: Vec<usize>,
    /// Direction for `--method ray`: a JSON array of d numbers or a one-row data file.
    #[arg(long, required_if_eq("method", "ray"))]
    pub direction: Option<PathBuf>,
    /// Exact method: stop each sample after this many node QPs (regions) with a bracket.
    #[arg(long)]
    pub max_regions: Option<usize>,
    /// Exact method: stop each sample after this many seconds with a bracket.
    #[arg(long, value_parser = parse::seconds)]
    pub time_limit: Option<f64>,
    /// Exact method: threads that evaluate the search's nodes (1 sequential, 0 all
    /// cores); the answer and bracket do not depend on it, only the time.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Figure 1: on-margin slack (q_i ≤ (1 + slack)·q_min; the paper's 0.1).
    #[arg(long, default_value_t = 0.1, value_parser = parse::nonneg_f64)]
    pub slack: f64,
    /// Exact method: stop each sample once upper − lower ≤ GAP·upper (relative gap)
    /// with a bracket whose reason is `gap`.
    #[arg(long, value_parser = parse::nonneg_f64)]
    pub gap: Option<f64>,
    /// Exact method: write the proof of every lower bound to this JSON file (check it
    /// with `relucert verify-radius`).
    #[arg(long)]
    pub proof: Option<PathBuf>,
    /// Also write the report to this JSON file (atomically; the name must end in .json).
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Settings {
    max_regions: Option<usize>,
    time_limit: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gap: Option<f64>,
    slack: Option<f64>,
    direction: Option<io::InputFile>,
}

#[derive(Debug, Serialize)]
struct CliReport {
    #[serde(flatten)]
    report: RadiusReport,
    net: io::InputFile,
    data: io::InputFile,
    settings: Settings,
}

/// Runs `radius`.
pub fn run(a: &RadiusArgs, ctx: &Ctx) -> Result<Output, CliError> {
    if a.proof.is_some() && a.method != MethodArg::Exact {
        return Err(CliError::Usage("--proof needs --method exact".into()));
    }
    let mut outputs = Vec::new();
    if let Some(out) = &a.out {
        paths::json_report("-o", out)?;
        outputs.push(named("-o", out));
    }
    if let Some(proof) = &a.proof {
        paths::json_report("--proof", proof)?;
        outputs.push(named("--proof", proof));
    }
    if !outputs.is_empty() {
        let mut inputs = vec![named("--net", &a.net), named("--data", &a.data)];
        if let Some(u) = &a.direction {
            inputs.push(named("--direction", u));
        }
        paths::refuse_overwrite(&outputs, &inputs)?;
    }
    let (net, data) = load_pair(&a.net, &a.data)?;
    let mut direction = None;
    let method = match a.method {
        MethodArg::Exact => {
            // `parse::seconds` admitted only values that a Duration holds.
            let time_limit = a.time_limit.and_then(|t| Duration::try_from_secs_f64(t).ok());
            RadiusMethod::Exact(RadiusSettings { max_regions: a.max_regions, time_limit, gap: a.gap, record_proof: a.proof.is_some(), threads: a.threads, ..RadiusSettings::default() })
        }
        MethodArg::Ray => {
            let path = a.direction.as_ref().ok_or_else(|| CliError::Usage("--method ray needs --direction FILE".into()))?;
            let u = io::read_vector(path, net.dim())?;
            direction = Some(io::InputFile::of(path)?);
            RadiusMethod::Ray { direction: nalgebra::DVector::from_vec(u) }
        }
        MethodArg::Fig1 => RadiusMethod::Fig1 { slack: a.slack },
    };
    // Only the exact method takes long enough to show progress.
    let bar = if a.method == MethodArg::Exact { ctx.spinner() } else { indicatif::ProgressBar::hidden() };
    if !bar.is_hidden() {
        bar.enable_steady_tick(Duration::from_millis(200));
    }
    let mut show = |p: &RadiusProgress| {
        let s = &p.search;
        let gap = if s.upper.is_finite() && s.upper > 0.0 { format!("gap {:.3} %", 100.0 * (s.upper - s.lower) / s.upper) } else { "no witness yet".into() };
        bar.set_message(format!("sample {} ({}/{}): [{:.6}, {:.6}] {gap}, {} regions", p.sample, p.done + 1, p.total, s.lower, s.upper, s.regions));
    };
    let report = radius_report_with_progress(&net, &data, &method, &a.samples, &mut show);
    bar.finish_and_clear();
    let report = report?;
    if let (Some(path), Some(proof)) = (&a.proof, &report.proof) {
        io::write_json(path, proof)?;
    }
    let human = report.summary();
    let cli = CliReport {
        report,
        net: io::InputFile::of(&a.net)?,
        data: io::InputFile::of(&a.data)?,
        settings: Settings {
            max_regions: a.max_regions,
            time_limit: a.time_limit,
            gap: a.gap,
            slack: (a.method == MethodArg::Fig1).then_some(a.slack),
            direction,
        },
    };
    if let Some(out) = &a.out {
        io::write_json(out, &cli)?;
    }
    Ok(Output::new(&cli, human))
}
