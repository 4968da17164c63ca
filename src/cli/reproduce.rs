//! `relucert reproduce`: the paper's Figures 1(a), 1(b) and 2, resumable and shardable.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::{parse, CliError, Ctx, Output};
use relucert::experiments::{self, At, Figure, Grid, ScheduleChoice, Shard, SweepEvent};

/// What to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// Figure 1(a): c* against d for m = d^α (α ∈ {0.5, 0.8, 1, 1.2, 1.5}), width 1000.
    Fig1a,
    /// Figure 1(b): c* against d for m = d and widths 100 … 8000.
    Fig1b,
    /// Figure 2: samples on the margin (the runs of Figure 1(a)).
    Fig2,
    /// Combine the shards found in DIR into runs.jsonl, summary.csv and the plot.
    Merge,
}

/// Arguments of `reproduce`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  relucert reproduce fig1a --quick --out runs/fig1a-quick
  relucert reproduce fig1b --out runs/fig1b --shard $SLURM_ARRAY_TASK_ID/16
  relucert reproduce merge runs/fig1b")]
pub struct ReproduceArgs {
    /// Figure (or `merge`).
    pub target: Target,
    /// For `merge`: the sweep directory.
    pub dir: Option<PathBuf>,
    /// A reduced grid that runs in minutes on 2 cores and still shows the effect.
    #[arg(long)]
    pub quick: bool,
    /// Output directory (default: reproduce-out/<figure>[-quick]).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run only shard i of n (0 ≤ i < n): runs whose grid index ≡ i mod n.
    #[arg(long, value_parser = parse::shard)]
    pub shard: Option<Shard>,
    /// Runs at once (default: 2 for --quick, each on one thread; else 1 run on 2 threads).
    #[arg(long, value_parser = parse::positive_usize)]
    pub jobs: Option<usize>,
    /// Training schedule (default: the paper's).
    #[arg(long, value_enum, default_value_t = ScheduleChoice::Paper)]
    pub schedule: ScheduleChoice,
    /// For `merge`: the figure to draw, when the directory's grid.json does not single
    /// one out (Figures 1(a) and 2 share their runs).
    #[arg(long, value_enum)]
    pub figure: Option<Figure>,
    /// Where each run is measured: the trained net, its polished KKT point, or both
    /// (`<figure>-kkt.svg` and the summary's kkt_* columns).
    #[arg(long, value_enum, default_value_t = At::Trained)]
    pub at: At,
}

#[derive(Serialize)]
struct ReproduceReport {
    format: &'static str,
    figure: &'static str,
    dir: String,
    ran: usize,
    skipped: usize,
    missing: usize,
    runs_total: usize,
    summary_csv: Option<String>,
    plot: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plot_kkt: Option<String>,
    rows: Vec<experiments::SummaryRow>,
    wall_seconds: f64,
}

fn table(rows: &[experiments::SummaryRow]) -> String {
    let mut s = String::from("group        d      m  runs   c* mean ± std        √d   on-margin  off-margin\n");
    for r in rows {
        s.push_str(&format!(
            "{:<6}{:>6} {:>5} {:>6} {:>5}  {:>8.4} ± {:<8.4} {:>7.3}  {:>9.3}  {:>10.1}\n",
            r.group_kind.name(), r.group, r.d, r.m, r.runs, r.c_star_mean, r.c_star_std, r.sqrt_d, r.on_margin_fraction_mean, r.off_margin_mean
        ));
        if r.failed > 0 {
            s.push_str(&format!("      {} run(s) without a Figure-1 measurement (see runs.jsonl)\n", r.failed));
        }
        if let (Some(k), Some(n)) = (r.at_kkt(), r.kkt_certified) {
            s.push_str(&format!(
                "      at KKT: c* {:.4} ± {:.4}, on-margin {:.3}, {n}/{} certified\n",
                k.c_star_mean, k.c_star_std, k.on_margin_fraction_mean, r.runs
            ));
        }
    }
    s
}

/// Runs `reproduce`.
pub fn run(a: &ReproduceArgs, ctx: &Ctx) -> Result<Output, CliError> {
    let start = std::time::Instant::now();
    let (dir, finished, outcome) = if a.target == Target::Merge {
        let dir = a.dir.clone().or_else(|| a.out.clone()).ok_or_else(|| CliError::Usage("reproduce merge needs the sweep directory: relucert reproduce merge DIR".into()))?;
        let finished = experiments::merge(&dir, a.figure)?;
        (dir, finished, None)
    } else {
        if a.dir.is_some() || a.figure.is_some() {
            return Err(CliError::Usage("a directory argument and --figure are only for `reproduce merge`; use --out DIR".into()));
        }
        let figure = match a.target {
            Target::Fig1a => Figure::Fig1a,
            Target::Fig1b => Figure::Fig1b,
            _ => Figure::Fig2,
        };
        let mut grid = Grid::paper(figure, a.quick, a.schedule);
        grid.at = a.at;
        let shard = a.shard.unwrap_or(Shard::ALL);
        let dir = a.out.clone().unwrap_or_else(|| {
            PathBuf::from("reproduce-out").join(format!("{}{}", figure.name(), if a.quick { "-quick" } else { "" }))
        });
        let bar = ctx.progress.then(|| {
            let b = indicatif::ProgressBar::new(0);
            b.set_style(
                indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} runs  {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b
        });
        let mut progress = |ev: SweepEvent| {
            if let Some(b) = &bar {
                match ev {
                    SweepEvent::Start { todo, .. } => b.set_length(todo as u64),
                    SweepEvent::RunStart(s) => b.set_message(s.key()),
                    SweepEvent::RunEnd(r) => {
                        b.inc(1);
                        b.println(match &r.fig1_failure {
                            Some(why) => format!("{}: Figure-1 measurement failed: {why}, {:.1}s", r.key, r.wall_seconds),
                            None => format!(
                                "{}: c* = {}, on margin {}/{}, {:.1}s",
                                r.key,
                                r.c_star.map_or("inf".into(), |c| format!("{c:.4}")),
                                r.on_margin.unwrap_or(0),
                                r.spec.m,
                                r.wall_seconds
                            ),
                        });
                    }
                    SweepEvent::Warning(w) => b.println(format!("warning: {w}")),
                }
            } else if let SweepEvent::Warning(w) = ev {
                eprintln!("warning: {w}");
            }
        };
        let jobs = a.jobs.unwrap_or(if a.quick { 2 } else { 1 });
        let threads = if jobs > 1 { 1 } else { 2 };
        let g = grid.clone();
        let run = move |spec: &experiments::RunSpec| experiments::run_one(spec, &g, threads);
        let outcome = experiments::sweep(&dir, figure, &grid, shard, jobs, &run, &mut progress)?;
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        let finished = experiments::finish(&dir, figure, &grid)?;
        (dir, finished, Some(outcome))
    };
    for w in &finished.warnings {
        eprintln!("warning: {w}");
    }
    let experiments::Finished { figure, grid, rows, csv, svg, svg_kkt, missing, .. } = finished;
    let [csv, svg, svg_kkt] = [csv, svg, svg_kkt].map(|p| p.map(|p| p.display().to_string()));
    let (ran, skipped) = outcome.as_ref().map_or((0, 0), |o| (o.ran, o.skipped));
    let report = ReproduceReport {
        format: relucert::io::tags::REPRODUCE,
        figure: figure.name(),
        dir: dir.display().to_string(),
        ran,
        skipped,
        missing,
        runs_total: grid.runs().len(),
        summary_csv: csv.clone(),
        plot: svg.clone(),
        plot_kkt: svg_kkt.clone(),
        rows,
        wall_seconds: start.elapsed().as_secs_f64(),
    };
    let mut human = format!(
        "{}: {} runs now, {} already done, {} of {} still missing (other shards?) in {}\n",
        figure.name(),
        ran,
        skipped,
        missing,
        report.runs_total,
        dir.display()
    );
    human.push_str(&table(&report.rows));
    if let (Some(c), Some(s)) = (&csv, &svg) {
        human.push_str(&format!("wrote {c} and {s}\n"));
    }
    if let Some(k) = &svg_kkt {
        human.push_str(&format!("at the KKT points: {k} (kkt_* columns in the summary)\n"));
    }
    Ok(Output::new(&report, human))
}
