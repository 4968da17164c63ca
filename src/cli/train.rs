//! `relucert train`: gradient descent to a tiny loss (docs/reports.md for the report).

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::paths::{self, named};
use super::{fmt_num, parse, CliError, Ctx, Output};
use relucert::io;
use relucert::experiments::ScheduleChoice;
use relucert::train::{self, Kernel, Loss, Precision, Schedule, TrainReport, TrainSettings};

/// Arguments of `train`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  relucert train --data d.json --width 1000 -o n.json\n  relucert train --data d.json --width 1000 --schedule paper --target-loss 1e-30 -o n.json --json")]
pub struct TrainArgs {
    /// Dataset file.
    #[arg(long)]
    pub data: PathBuf,
    /// Width k (number of hidden neurons); taken from --resume when omitted there.
    #[arg(long, value_parser = parse::positive_usize, required_unless_present = "resume")]
    pub width: Option<usize>,
    /// Loss.
    #[arg(long, value_enum, default_value_t = Loss::Exp)]
    pub loss: Loss,
    /// Learning-rate schedule: `paper` uses --lr-start, --lr-factor and --lr-period;
    /// `fast` uses --lr-start, --grow, --shrink and --max-step.
    #[arg(long, value_enum, default_value_t = ScheduleChoice::Fast)]
    pub schedule: ScheduleChoice,
    /// Initial learning rate (both schedules: the first step is start·∇L).
    #[arg(long, default_value_t = 1e-5, value_parser = parse::positive_f64)]
    pub lr_start: f64,
    /// Paper schedule: factor of each increase.
    #[arg(long, default_value_t = 1.1, value_parser = parse::positive_f64)]
    pub lr_factor: f64,
    /// Paper schedule: iterations between increases.
    #[arg(long, default_value_t = 100, value_parser = parse::positive_u64)]
    pub lr_period: u64,
    /// Fast schedule: α multiplier after an accepted step.
    #[arg(long, default_value_t = 1.05, value_parser = parse::positive_f64)]
    pub grow: f64,
    /// Fast schedule: α multiplier after a rejected step.
    #[arg(long, default_value_t = 0.5, value_parser = parse::positive_f64)]
    pub shrink: f64,
    /// Fast schedule: largest α (step in units of ∇L/L).
    #[arg(long, default_value_t = 1.0, value_parser = parse::positive_f64)]
    pub max_step: f64,
    /// Stop when the loss is below this (any exponent, e.g. 1e-400) [default: 1e-30; with
    /// --target-eps-rel: none, so that the certificate, not the loss, stops training].
    #[arg(long, value_parser = parse::log10_loss)]
    pub target_loss: Option<f64>,
    /// Largest number of proposed steps.
    #[arg(long, default_value_t = 10_000_000)]
    pub max_iters: u64,
    /// Wall-clock budget in seconds.
    #[arg(long, value_parser = parse::seconds)]
    pub time_limit: Option<f64>,
    /// Minibatch size (full batch when omitted or ≥ m).
    #[arg(long, value_parser = parse::positive_usize)]
    pub batch: Option<usize>,
    /// Seed of the initialisation and of the minibatch shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Multiplier of PyTorch's default initialisation.
    #[arg(long, default_value_t = 1.0, value_parser = parse::positive_f64)]
    pub init_scale: f64,
    /// Precision of the arithmetic.
    #[arg(long, value_enum, default_value_t = Precision::F64)]
    pub dtype: Precision,
    /// First-layer bias (default, as nn.Linear).
    #[arg(long, overrides_with = "no_bias")]
    pub bias: bool,
    /// No first-layer bias.
    #[arg(long = "no-bias")]
    pub no_bias: bool,
    /// Kernel.
    #[arg(long, value_enum, default_value_t = Kernel::Auto)]
    pub kernel: Kernel,
    /// Keep every sample in the backward product (no screening).
    #[arg(long)]
    pub no_screening: bool,
    /// Threads (0 = all).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Write the network to -o every N accepted iterations (atomically).
    #[arg(long, value_parser = parse::positive_u64, requires = "out")]
    pub checkpoint_every: Option<u64>,
    /// Start from this network instead of a fresh initialisation.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Iteration number of the --resume network (default: read from its checkpoint or
    /// report file beside it, else 0); the paper schedule continues from it.
    #[arg(long)]
    pub start_iteration: Option<u64>,
    /// Stop once the L2 KKT certificate gives eps_rel ≤ this (checked every so many steps).
    #[arg(long)]
    pub target_eps_rel: Option<f64>,
    /// Ambiguity tolerance τ of that certificate.
    #[arg(long, default_value_t = 1e-9)]
    pub kkt_tau: f64,
    /// Certify every N accepted steps (default: chosen so certifying takes about 10% of the time).
    #[arg(long)]
    pub kkt_every: Option<u64>,
    /// Output network (.json, .safetensors or .npz); the report goes to <out>.report.json.
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
}

/// The `train` report: the library's report plus the input files.
#[derive(Debug, Serialize)]
pub struct CliTrainReport {
    #[serde(flatten)]
    report: TrainReport,
    data: io::InputFile,
    resume: Option<io::InputFile>,
    output: Option<String>,
}

/// The loss target in log10: `--target-loss`, else none (−∞) when a certificate target
/// is given, else 1e-30.
fn target_log10_loss(a: &TrainArgs) -> f64 {
    match (a.target_loss, a.target_eps_rel) {
        (Some(t), _) => t,
        (None, Some(_)) => f64::NEG_INFINITY,
        (None, None) => -30.0,
    }
}

/// Runs `train`.
pub fn run(a: &TrainArgs, ctx: &Ctx) -> Result<Output, CliError> {
    if let Some(out) = &a.out {
        io::FileFormat::from_path(out)?;
        let (report, checkpoint) = (paths::companion(out, ".report.json"), paths::companion(out, ".checkpoint.json"));
        let mut inputs = vec![named("--data", &a.data)];
        if let Some(r) = &a.resume {
            inputs.push(named("--resume", r));
        }
        paths::refuse_overwrite(&[named("-o", out), named("-o's report", &report), named("-o's checkpoint", &checkpoint)], &inputs)?;
    }
    let data = io::read_data(&a.data)?;
    let bias = !a.no_bias;
    let (init, start_iteration, state) = match &a.resume {
        Some(p) => {
            let net = io::read_net(p)?;
            if let Some(k) = a.width {
                if k != net.width() {
                    return Err(CliError::Input(format!("--width {k} disagrees with the --resume network's width {}", net.width())));
                }
            }
            net.check_data(&data).map_err(|source| CliError::Mismatch {
                net: p.display().to_string(),
                data: a.data.display().to_string(),
                source,
            })?;
            let at = train::resume_point(p)?;
            let start = a.start_iteration.unwrap_or(at.iteration);
            (net, start, at.state)
        }
        None => {
            let k = a.width.ok_or_else(|| CliError::Usage("--width is required (or --resume NET)".into()))?;
            // Sizes are checked (overflow, available memory) before anything is allocated.
            let probe = TrainSettings { dtype: a.dtype, batch: a.batch, ..TrainSettings::default() };
            train::check_memory(data.m(), data.d(), k, &probe)?;
            (train::init_net(data.d(), k, bias, a.seed, a.init_scale)?, a.start_iteration.unwrap_or(0), None)
        }
    };
    if a.checkpoint_every.is_some() && a.out.is_none() {
        return Err(CliError::Usage("--checkpoint-every needs -o FILE to write to".into()));
    }
    let schedule = match a.schedule {
        ScheduleChoice::Paper => Schedule::Paper { start: a.lr_start, factor: a.lr_factor, period: a.lr_period },
        ScheduleChoice::Fast => Schedule::Fast { start: a.lr_start, grow: a.grow, shrink: a.shrink, max_step: a.max_step },
    };
    let settings = TrainSettings {
        loss: a.loss,
        schedule,
        target_log10_loss: target_log10_loss(a),
        max_iters: a.max_iters,
        time_limit: a.time_limit,
        batch: a.batch,
        seed: a.seed,
        dtype: a.dtype,
        kernel: a.kernel,
        screening: !a.no_screening,
        threads: a.threads,
        checkpoint_every: a.checkpoint_every,
        start_iteration,
        certificate: a.target_eps_rel.map(|e| train::CertificateTarget { every: a.kkt_every, ..train::CertificateTarget::new(e, a.kkt_tau) }),
        ..TrainSettings::default()
    };
    let bar = ctx.spinner();
    let mut ckpt_err: Option<io::IoError> = None;
    let target = settings.target_log10_loss;
    let mut on_progress = |p: &train::Progress<'_>| {
        bar.set_message(format!(
            "iter {}  log10 loss {:.3} (target {target})  q_min {:.4e}  log10 lr {:.2}  rejected {}",
            p.iteration, p.log10_loss, p.q_min, p.log10_learning_rate, p.rejected_steps
        ));
        bar.tick();
        if let (Some(net), Some(out)) = (p.checkpoint, &a.out) {
            let ckpt = train::Checkpoint {
                format: train::CHECKPOINT_FORMAT.into(),
                iteration: p.iteration,
                log10_loss: p.log10_loss,
                state: p.state.cloned(),
                stop_reason: None,
            };
            if let Err(e) = train::write_checkpoint(out, net, &ckpt) {
                ckpt_err.get_or_insert(e);
            }
        }
    };
    let outcome = train::train_from(&data, init, state.as_ref(), &settings, &mut on_progress)?;
    bar.finish_and_clear();
    if let Some(e) = ckpt_err {
        return Err(e.into());
    }
    let report = CliTrainReport {
        report: outcome.report.clone(),
        data: io::InputFile::of(&a.data)?,
        resume: a.resume.as_deref().map(io::InputFile::of).transpose()?,
        output: a.out.as_ref().map(|p| p.display().to_string()),
    };
    if let Some(out) = &a.out {
        io::write_net(out, &outcome.net, io::FileDtype::F64)?;
        io::write_json(&train::report_path(out), &report)?;
        if outcome.net == outcome.last {
            // The final state continues exactly from the written network.
            let ckpt = train::Checkpoint {
                format: train::CHECKPOINT_FORMAT.into(),
                iteration: outcome.report.last_iteration,
                log10_loss: outcome.report.last_log10_loss,
                state: Some(outcome.state.clone()),
                stop_reason: Some(outcome.stop.kind()),
            };
            io::write_json(&train::checkpoint_path(out), &ckpt)?;
        }
    }
    let r = &outcome.report;
    let human = format!(
        "trained width {} on m = {}, d = {} ({} schedule, {:?} loss)\n{}normalized margin q_min/||θ||² = {}{}",
        r.width,
        r.m,
        r.d,
        match a.schedule {
            ScheduleChoice::Paper => "paper",
            ScheduleChoice::Fast => "fast",
        },
        settings.loss,
        r.summary(),
        fmt_num(r.normalized_margin),
        a.out.as_ref().map_or(String::new(), |p| format!("\nwrote {}", p.display())),
    );
    let output = Output::new(&report, human);
    if outcome.stop.is_failure() {
        return Err(CliError::TrainFailed { message: outcome.stop.to_string(), output: Box::new(output) });
    }
    Ok(output)
}
