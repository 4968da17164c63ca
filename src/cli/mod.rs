//! The `relucert` command line, thin over the library (binary-only: the library has no
//! command-line code).
//!
//! Each subcommand lives in its own file as a clap `Args` struct plus a `run` function
//! that turns typed settings into a library call and returns an [`Output`]: a JSON
//! report and a short human summary. [`main`] parses, dispatches, prints one of the two
//! (`--json` picks the report), and maps errors to a one-line message and exit code 1
//! (2 for usage errors). Before any work, [`paths`] refuses an output that would
//! overwrite an input.
//! Every flag value is checked while parsing ([`parse`]), so a bad one exits with code 2.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde::Serialize;
use thiserror::Error;

use relucert::{data, io, net};

mod check;
mod construct;
mod demo;
mod eval;
mod gen;
mod reproduce;
mod train;
mod kkt;
mod parse;
mod paths;
mod polish;
mod radius;
mod theorem41;
mod verify_radius;

/// Every error a command can end with; printed as one line on stderr.
#[derive(Debug, Error)]
pub enum CliError {
    /// A file could not be read or written (the message names the file).
    #[error(transparent)]
    Io(#[from] io::IoError),
    /// A network problem (shape, separation, dimensions).
    #[error("{0}")]
    Net(#[from] net::NetError),
    /// A dataset problem.
    #[error("{0}")]
    Data(#[from] data::DataError),
    /// A construction refused the data.
    #[error("{0}")]
    Construct(#[from] relucert::construct::ConstructError),
    /// A sweep failed.
    #[error("{0}")]
    Experiment(#[from] relucert::experiments::ExpError),
    /// A claim checker could not run.
    #[error("{0}")]
    Check(#[from] relucert::claims::CheckError),
    /// Some claims of the paper failed their checks (the report says which).
    #[error("{failed} of {total} claims failed (see the table above)")]
    ClaimsFailed {
        /// Failed claims.
        failed: usize,
        /// All claims.
        total: usize,
        /// The report, printed before the error.
        output: Box<Output>,
    },
    /// Bad training settings or inputs.
    #[error("{0}")]
    Train(#[from] relucert::train::TrainError),
    /// Training ended without reaching its target for a reason that needs attention
    /// (non-finite values, inseparable data, no progress); the best network so far and
    /// the report were written.
    #[error("training stopped: {message}")]
    TrainFailed {
        /// The stop reason in words.
        message: String,
        /// The report, printed before the error.
        output: Box<Output>,
    },
    /// A KKT certificate could not be computed or checked.
    #[error("{0}")]
    Kkt(#[from] relucert::kkt::KktError),
    /// A KKT certificate does not hold (the message carries the measured residual).
    #[error("{summary}")]
    KktFails {
        /// One-line verification summary.
        summary: String,
    },
    /// Polishing found no certified KKT point (the report says why; nothing was written).
    #[error("polish failed: {message}")]
    PolishFailed {
        /// The status and reason in words.
        message: String,
        /// The report, printed before the error.
        output: Box<Output>,
    },
    /// A radius or Theorem 4.1 computation refused its input.
    #[error("{0}")]
    Radius(#[from] relucert::radius::RadiusError),
    /// Arguments that parse but make no sense together (exit 2, like clap's errors).
    #[error("{0}")]
    Usage(String),
    /// An output names the same file as an input (exit 2; nothing was read or written).
    #[error("refusing to write {output}: it is the input {input} (choose another output file)")]
    OverwritesInput {
        /// The output flag and path.
        output: String,
        /// The input flag and path.
        input: String,
    },
    /// An input file whose content is not what the command needs.
    #[error("{0}")]
    Input(String),
    /// Input files that disagree with each other; names both files.
    #[error("{net} and {data}: {source}")]
    Mismatch {
        /// Network file.
        net: String,
        /// Dataset file.
        data: String,
        /// What disagrees.
        source: net::NetError,
    },
}

impl CliError {
    /// The exit code: 2 for usage errors (as clap's), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::OverwritesInput { .. } => 2,
            _ => 1,
        }
    }
}

/// What a command produced: a JSON report and a human summary.
#[derive(Debug, Clone)]
pub struct Output {
    /// The report printed with `--json`.
    pub json: serde_json::Value,
    /// The summary printed otherwise.
    pub human: String,
}

impl Output {
    /// Builds an output from a serialisable report and its summary.
    pub fn new<T: Serialize>(report: &T, human: String) -> Output {
        let json = serde_json::to_value(report).unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }));
        Output { json, human }
    }
}

/// Settings shared by every command.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    /// Print the JSON report instead of the summary.
    pub json: bool,
    /// Show progress bars (only on a terminal and without `--json`).
    pub progress: bool,
}

impl Ctx {
    /// The memory budget in force, in bytes: `--max-memory`, else the machine's
    /// available memory (see `relucert::io::MemoryBudget`).
    pub fn memory_budget(&self) -> u64 {
        io::MemoryBudget::global().bytes()
    }

    /// A spinner with the elapsed time and a message for long work, hidden unless
    /// progress is shown.
    pub fn spinner(&self) -> indicatif::ProgressBar {
        if !self.progress {
            return indicatif::ProgressBar::hidden();
        }
        let style = indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}").unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
        indicatif::ProgressBar::new_spinner().with_style(style)
    }
}

/// relucert — certificates for what gradient descent does to depth-2 ReLU networks.
#[derive(Debug, Parser)]
#[command(name = "relucert", version, about, long_about = None, after_help = "\
Examples:
  relucert demo
  relucert gen sphere --d 50 --m 20 --seed 1 -o d.json
  relucert construct robust --data d.json -o n.json
  relucert eval --net n.json --data d.json --json")]
pub struct Cli {
    /// Print the command's report as one JSON object on stdout instead of a summary.
    #[arg(long, global = true)]
    pub json: bool,
    /// Largest allocation driven by input sizes (file headers, m, d, width, …), e.g.
    /// 2GiB or 500M; a larger need is refused with the bytes it needs. The exact radius
    /// search stops with a bracket (reason memory) when its tree reaches half of it.
    /// Default: the machine's available memory.
    #[arg(long, global = true, value_name = "BYTES", value_parser = parse::bytes)]
    pub max_memory: Option<u64>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The paper's story in one table (no files needed, under a minute).
    Demo(demo::DemoArgs),
    /// Generate a seeded dataset.
    Gen(gen::GenArgs),
    /// Build a network with known properties for a dataset.
    Construct(construct::ConstructArgs),
    /// Margins, q_min and accuracy of a network on a dataset.
    Eval(eval::EvalArgs),
    /// Train a network by gradient descent until the loss is tiny.
    Train(train::TrainArgs),
    /// Certify how close a network is to a KKT point of the max-margin problem.
    Kkt(kkt::KktArgs),
    /// Re-check a saved KKT certificate independently of the solver.
    VerifyKkt(kkt::VerifyKktArgs),
    /// Polish a network into a certified KKT point of the max-margin problem.
    Polish(polish::PolishArgs),
    /// Exact, ray or Figure 1 L2 robustness radii.
    Radius(radius::RadiusArgs),
    /// Re-check a saved radius proof independently of the solver.
    VerifyRadius(verify_radius::VerifyRadiusArgs),
    /// Theorem 4.1's universal perturbation η·z on θ̂, and its hypotheses.
    Theorem41(theorem41::Theorem41Args),
    /// Check every claim of the paper on shipped fixtures (non-zero exit if one fails).
    Check(check::CheckArgs),
    /// Reproduce the paper's Figures 1(a), 1(b) and 2 (resumable, shardable sweeps).
    Reproduce(reproduce::ReproduceArgs),
}

/// Runs a parsed command.
pub fn run(cli: &Cli, ctx: &Ctx) -> Result<Output, CliError> {
    match &cli.command {
        Command::Gen(a) => gen::run(a, ctx),
        Command::Construct(a) => construct::run(a, ctx),
        Command::Eval(a) => eval::run(a, ctx),
        Command::Demo(a) => demo::run(a, ctx),
        Command::Check(a) => check::run(a, ctx),
        Command::Reproduce(a) => reproduce::run(a, ctx),
        Command::Train(a) => train::run(a, ctx),
        Command::Kkt(a) => kkt::run(a, ctx),
        Command::VerifyKkt(a) => kkt::run_verify(a, ctx),
        Command::Polish(a) => polish::run(a, ctx),
        Command::Radius(a) => radius::run(a, ctx),
        Command::VerifyRadius(a) => verify_radius::run(a, ctx),
        Command::Theorem41(a) => theorem41::run(a, ctx),
    }
}

/// Entry point of the binary: parse, run, print, exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    if let Some(bytes) = cli.max_memory {
        io::MemoryBudget::set_global(io::MemoryBudget::new(bytes));
    }
    let ctx = Ctx { json: cli.json, progress: !cli.json && std::io::stderr().is_terminal() };
    match run(&cli, &ctx) {
        Ok(out) => {
            print_output(&out, &ctx);
            ExitCode::SUCCESS
        }
        Err(e) => {
            if let CliError::ClaimsFailed { output, .. }
            | CliError::TrainFailed { output, .. }
            | CliError::PolishFailed { output, .. } = &e {
                print_output(output, &ctx);
            }
            let msg = e.to_string().replace('\n', " ");
            eprintln!("error: {msg}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn print_output(out: &Output, ctx: &Ctx) {
    let text = if ctx.json { serde_json::to_string(&out.json).unwrap_or_default() } else { out.human.trim_end().to_string() };
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// Reads a network and a dataset and checks that their dimensions agree.
pub(crate) fn load_pair(net: &Path, data: &Path) -> Result<(net::Net, data::Dataset), CliError> {
    let n = io::read_net(net)?;
    let d = io::read_data(data)?;
    n.check_data(&d).map_err(|source| CliError::Mismatch {
        net: net.display().to_string(),
        data: data.display().to_string(),
        source,
    })?;
    Ok((n, d))
}

/// Formats a float for humans: `inf` for infinity, else `{:.6}` or scientific.
pub(crate) fn fmt_num(x: f64) -> String {
    if x.is_infinite() {
        if x > 0.0 { "inf".into() } else { "-inf".into() }
    } else if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e6) {
        format!("{x:.4e}")
    } else {
        format!("{x:.6}")
    }
}
