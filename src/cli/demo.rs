//! `relucert demo`: the paper's story in one table, with no files needed.
//!
//! Sphere data (d = 400, m = 20 by default: the m ≈ √d regime of Theorem 4.1); the
//! Theorem 3.1 robust network with its exact radii; a network trained with the paper's
//! protocol to loss < 1e-30, its KKT certificate, its on-margin fraction, Figure 1's c*,
//! the Theorem 4.1 perturbation and exact radii of a few samples — each beside √d. A
//! third column polishes the trained network into a certified KKT point
//! ([`relucert::polish`]) and measures the same quantities there, the point Theorem 4.1 is
//! about; when polishing fails the column says so and reports no KKT numbers.

use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::{fmt_num, parse, CliError, Ctx, Output};
use relucert::construct::{self, RobustSettings};
use relucert::data::{Dataset, Generator};
use relucert::net::Net;
use relucert::polish::{self, PolishError, PolishSettings, PolishStatus};
use relucert::{kkt, radius, train};

/// Arguments of `demo`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  relucert demo\n  relucert demo --quick\n  relucert demo --d 100 --m 10 --width 200 --json")]
pub struct DemoArgs {
    /// Small sizes that run in seconds (d = 64, m = 8, width 32, 2 radii of at most 1 s
    /// each); explicit flags still override them.
    #[arg(long)]
    pub quick: bool,
    /// Input dimension of the demo's sphere data [default: 400, --quick 64].
    #[arg(long, value_parser = parse::positive_usize)]
    pub d: Option<usize>,
    /// Number of samples [default: 20, --quick 8].
    #[arg(long, value_parser = parse::positive_usize)]
    pub m: Option<usize>,
    /// Width of the trained network [default: 100, --quick 32].
    #[arg(long, value_parser = parse::positive_usize)]
    pub width: Option<usize>,
    /// Seed of the data and the initialisation.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Exact radii of the trained network for this many samples [default: 3, --quick 2].
    #[arg(long)]
    pub radius_samples: Option<usize>,
    /// Time budget of each exact radius, seconds (past it the radius is a bracket)
    /// [default: 3, --quick 1].
    #[arg(long, value_parser = parse::duration)]
    pub radius_time_limit: Option<Duration>,
    /// Time limit of polishing the trained network into a KKT point, seconds
    /// [default: 60, --quick 10].
    #[arg(long, value_parser = parse::seconds)]
    pub polish_time_limit: Option<f64>,
}

/// The demo's sizes after `--quick` and the explicit flags.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    d: usize,
    m: usize,
    width: usize,
    radius_samples: usize,
    radius_time_limit: Duration,
    polish_time_limit: f64,
}

impl Sizes {
    fn of(a: &DemoArgs) -> Sizes {
        let (d, m, width, radius_samples, secs) = if a.quick { (64, 8, 32, 2, 1) } else { (400, 20, 100, 3, 3) };
        Sizes {
            d: a.d.unwrap_or(d),
            m: a.m.unwrap_or(m),
            width: a.width.unwrap_or(width),
            radius_samples: a.radius_samples.unwrap_or(radius_samples),
            radius_time_limit: a.radius_time_limit.unwrap_or(Duration::from_secs(secs)),
            polish_time_limit: a.polish_time_limit.unwrap_or(if a.quick { 10.0 } else { 60.0 }),
        }
    }
}

/// Radii of some samples: smallest, and whether all were exact.
#[derive(Debug, Serialize)]
struct Radii {
    samples: Vec<usize>,
    radius: Vec<f64>,
    lower: Vec<f64>,
    exact: Vec<bool>,
    min_radius: f64,
}

#[derive(Serialize)]
struct DemoReport {
    format: &'static str,
    d: usize,
    m: usize,
    width: usize,
    seed: u64,
    sqrt_d: f64,
    p: f64,
    c: f64,
    robust_q_min: f64,
    robust_radius_bound: f64,
    robust_radii: Radii,
    train: train::TrainReport,
    kkt_eps_rel: f64,
    kkt_tau_profile: Vec<kkt::TauPoint>,
    #[serde(flatten)]
    trained: Measures,
    trained_radii: Radii,
    kkt_point: KktColumn,
    wall_seconds: f64,
}

/// The third column: polishing the trained network, and (only when it gives a certified
/// KKT point) the measurements there.
#[derive(Serialize)]
struct KktColumn {
    /// Polish's status (`kkt` only for a certified and verified KKT point).
    status: &'static str,
    message: String,
    iterations: usize,
    seconds: f64,
    /// Normalised margin γ = q_min/‖θ‖² of the trained network and of the last iterate.
    normalized_margin_before: Option<f64>,
    normalized_margin_after: Option<f64>,
    /// Distance and angle between the trained and the polished direction.
    distance: Option<f64>,
    angle_degrees: Option<f64>,
    /// `None` unless the status is `kkt`.
    at_kkt: Option<AtKkt>,
}

/// Measurements at the certified KKT point.
#[derive(Serialize)]
struct AtKkt {
    /// Certified ε_rel (L2, τ below), re-verified independently by polish.
    eps_rel: f64,
    tau: f64,
    verified: bool,
    q_min: f64,
    zero_neurons: usize,
    directions: usize,
    /// Samples with q̂_i ≤ 1 + 1e-9 (polish's on-margin set).
    on_margin_exact: Vec<usize>,
    /// The measurements made on the trained network too.
    #[serde(flatten)]
    measures: Measures,
    radii: Radii,
    /// y·N(witness) by the forward pass per sample (null without a witness).
    witness_margin: Vec<Option<f64>>,
}

/// What the trained and the KKT column both measure on their network: the KKT
/// certificate's two sides of Σλ = ‖θ̂‖²/2, Figure 1's on-margin set (10% slack) and c*,
/// and Theorem 4.1 (docs/theorems.md).
#[derive(Serialize)]
struct Measures {
    kkt_lambda_sum: f64,
    kkt_theta_norm_sq_half: f64,
    on_margin: usize,
    on_margin_fraction: f64,
    c_star: Option<f64>,
    theorem41_z_norm: Option<f64>,
    theorem41_ratio: Option<f64>,
    theorem41_hypotheses_hold: bool,
    theorem41_conclusion_holds: bool,
}

impl Measures {
    /// Measures `net`, whose certificate is `cert`, on `data`.
    fn of(net: &Net, data: &Dataset, cert: &kkt::KktReport) -> Result<Measures, CliError> {
        let fig = radius::fig1(net, data, 0.1)?;
        let t41 = radius::theorem41(net, data, &radius::Theorem41Settings::default())?;
        Ok(Measures {
            kkt_lambda_sum: cert.lambda_sum,
            kkt_theta_norm_sq_half: cert.theta_norm_sq_half,
            on_margin: fig.on_margin.len(),
            on_margin_fraction: fig.on_margin.len() as f64 / data.m() as f64,
            c_star: finite(fig.c_star),
            theorem41_z_norm: finite(t41.z_norm),
            theorem41_ratio: finite(t41.ratio),
            theorem41_hypotheses_hold: t41.hypotheses_hold,
            theorem41_conclusion_holds: t41.conclusion_holds,
        })
    }
}

fn polish_error(e: PolishError) -> CliError {
    match e {
        PolishError::Net(e) => CliError::Net(e),
        PolishError::Kkt(e) => CliError::Kkt(e),
        e @ PolishError::Settings { .. } => CliError::Usage(e.to_string()),
    }
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Polishes the trained network and, at a certified KKT point, measures the column.
fn kkt_column(net: &Net, data: &Dataset, a: &Sizes, samples: &[usize]) -> Result<KktColumn, CliError> {
    let settings = PolishSettings { time_limit: a.polish_time_limit, ..PolishSettings::default() };
    let p = polish::polish(net, data, &settings).map_err(polish_error)?;
    let r = &p.report;
    let at_kkt = match (&p.net, &r.certificate, r.status) {
        (Some(kn), Some(cert), PolishStatus::Kkt) => {
            let (radii, wm) = radii_with_witness(kn, data, samples, a.radius_time_limit)?;
            Some(AtKkt {
                eps_rel: cert.eps_rel,
                tau: r.tau,
                verified: r.verified,
                q_min: relucert::net::argmin(&kn.margins(data)?).1,
                zero_neurons: r.zero_neurons,
                directions: r.directions,
                on_margin_exact: r.on_margin.clone(),
                measures: Measures::of(kn, data, cert)?,
                radii,
                witness_margin: wm.into_iter().map(|x| (!x.is_nan()).then_some(x)).collect(),
            })
        }
        _ => None,
    };
    Ok(KktColumn {
        status: r.status.name(),
        message: r.message.clone(),
        iterations: r.iterations,
        seconds: r.seconds,
        normalized_margin_before: r.normalized_margin.before,
        normalized_margin_after: r.normalized_margin.after,
        distance: r.distance,
        angle_degrees: r.angle_degrees,
        at_kkt,
    })
}

fn radii(net: &Net, data: &Dataset, samples: &[usize], time_limit: Duration) -> Result<Radii, CliError> {
    Ok(radii_with_witness(net, data, samples, time_limit)?.0)
}

/// [`radii`] and, per sample, the witness's margin y·N(witness) (NaN without one).
fn radii_with_witness(net: &Net, data: &Dataset, samples: &[usize], time_limit: Duration) -> Result<(Radii, Vec<f64>), CliError> {
    let settings = radius::RadiusSettings {
        time_limit: Some(time_limit),
        ..radius::RadiusSettings::default()
    };
    let mut out = Radii { samples: samples.to_vec(), radius: vec![], lower: vec![], exact: vec![], min_radius: f64::INFINITY };
    let mut witness_margin = vec![];
    for &i in samples {
        let r = radius::exact_radius(net, &data.row(i), data.y()[i], &settings)?;
        witness_margin.push(r.witness_margin);
        out.min_radius = out.min_radius.min(r.radius);
        out.radius.push(r.radius);
        out.lower.push(r.lower);
        out.exact.push(r.is_exact());
    }
    Ok((out, witness_margin))
}

fn fmt_radii(r: &Radii) -> String {
    let all = r.exact.iter().all(|&e| e);
    let lo = r.lower.iter().copied().fold(f64::INFINITY, f64::min);
    if all {
        format!("{} (exact, {} samples)", fmt_num(r.min_radius), r.samples.len())
    } else {
        format!("in [{}, {}] ({} samples; budget ran out: bound)", fmt_num(lo), fmt_num(r.min_radius), r.samples.len())
    }
}

/// Runs `demo`.
pub fn run(args: &DemoArgs, ctx: &Ctx) -> Result<Output, CliError> {
    let start = std::time::Instant::now();
    let a = Sizes::of(args);
    let seed = args.seed;
    // Sizes are checked (overflow, memory budget) before anything is allocated.
    let settings = train::TrainSettings {
        schedule: train::Schedule::PAPER,
        seed,
        max_memory: Some(ctx.memory_budget()),
        ..train::TrainSettings::default()
    };
    train::check_memory(a.m, a.d, a.width, &settings)?;
    let data = Generator::Sphere.generate(a.d, a.m, seed)?;
    let stats = data.inner_product_stats();
    let sqrt_d = (a.d as f64).sqrt();

    // The robust network of Theorem 3.1 and its exact radii.
    let (robust, c) = construct::robust(&data, &RobustSettings::default())?;
    let robust_q_min = relucert::net::argmin(&robust.margins(&data)?).1;
    let all: Vec<usize> = (0..a.m).collect();
    let robust_radii = radii(&robust, &data, &all, a.radius_time_limit)?;

    // A network trained with the paper's protocol.
    let init = train::init_net(a.d, a.width, true, seed, 1.0)?;
    let bar = ctx.progress.then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_message("training with the paper's protocol …");
        b
    });
    let trained = train::train(&data, init, &settings, &mut |p| {
        if let Some(b) = &bar {
            b.set_message(format!("training: iteration {}, log10 loss {:.2}", p.iteration, p.log10_loss));
            b.tick();
        }
    })
    ?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let net = &trained.net;
    let cert = kkt::certify(net, &data, &kkt::KktSettings::default())?;
    let trained_measures = Measures::of(net, &data, &cert)?;
    let some: Vec<usize> = (0..a.m.min(a.radius_samples)).collect();
    let trained_radii = radii(net, &data, &some, a.radius_time_limit)?;

    // The third column: the trained network polished into a certified KKT point.
    let bar = ctx.progress.then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_message("polishing the trained network into a KKT point …");
        b.tick();
        b
    });
    let kkt_point = kkt_column(net, &data, &a, &some)?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let report = DemoReport {
        format: relucert::io::tags::DEMO,
        d: a.d,
        m: a.m,
        width: a.width,
        seed,
        sqrt_d,
        p: stats.p,
        c,
        robust_q_min,
        robust_radius_bound: construct::theorem31_radius_bound(c, a.d),
        robust_radii,
        train: trained.report.clone(),
        kkt_eps_rel: cert.eps_rel,
        kkt_tau_profile: cert.tau_profile.clone(),
        trained: trained_measures,
        trained_radii,
        kkt_point,
        wall_seconds: 0.0,
    };
    let tau_prof: Vec<String> = cert.tau_profile.iter().map(|t| format!("τ={:.0e}: {}", t.tau, t.eps_rel.map_or("skipped".to_string(), |e| format!("{e:.3}")))).collect();
    let (kp, tm) = (&report.kkt_point, &report.trained);
    let kkt_head = match &kp.at_kkt {
        Some(_) => "polished KKT point".to_string(),
        None => format!("polish failed: {}", kp.status),
    };
    let mut human = format!(
        "relucert demo — Vardi, Yehudai & Shamir (NeurIPS 2022) on sphere data: d = {}, m = {}, seed = {}\n\
         √d = {}  (a perturbation of size √d trivially flips any sample)\n\
         Lemma 3.1: p = max|<x_i,x_j>| = {}, c = p/d = {}\n\n\
         {:<44} {:>22} {:>22} {:>26}\n",
        a.d, a.m, seed, fmt_num(sqrt_d), fmt_num(stats.p), fmt_num(c), "", "robust (Theorem 3.1)", "trained (paper's GD)", kkt_head
    );
    let row = |name: &str, r: String, t: String, k: String| format!("{name:<44} {r:>22} {t:>22} {k:>26}\n");
    // A KKT-column cell: the measurement at the certified KKT point, or "–" without one.
    let at = |f: &dyn Fn(&AtKkt) -> String| kp.at_kkt.as_ref().map_or("–".to_string(), f);
    human.push_str(&row(
        "width",
        robust.width().to_string(),
        a.width.to_string(),
        at(&|k| format!("{} ({} zero)", a.width, k.zero_neurons)),
    ));
    human.push_str(&row("min margin q_min", fmt_num(robust_q_min), fmt_num(trained.report.q_min), at(&|k| fmt_num(k.q_min))));
    human.push_str(&row("training loss (log10)", "-".into(), format!("{:.2}", trained.report.log10_loss), "-".into()));
    human.push_str(&row(
        "iterations / seconds",
        "-".into(),
        format!("{} / {:.1}s", trained.report.iterations, trained.report.wall_seconds),
        format!("{} / {:.1}s (polish)", kp.iterations, kp.seconds),
    ));
    human.push_str(&row(
        "KKT residual ε_rel (L2, τ=1e-9)",
        "not KKT".into(),
        format!("{:.3}", cert.eps_rel),
        at(&|k| format!("{:.1e} (verified)", k.eps_rel)),
    ));
    human.push_str(&row(
        "samples on the margin (10% slack)",
        "all (margins = 1)".into(),
        format!("{}/{}", tm.on_margin, a.m),
        at(&|k| format!("{}/{} ({} exactly)", k.measures.on_margin, a.m, k.on_margin_exact.len())),
    ));
    let opt = |x: Option<f64>| x.map_or("∞".to_string(), fmt_num);
    human.push_str(&row("Figure 1 c* (one z for all on-margin)", "-".into(), opt(tm.c_star), at(&|k| opt(k.measures.c_star))));
    human.push_str(&row("Theorem 4.1 ‖ηz‖", "-".into(), opt(tm.theorem41_z_norm), at(&|k| opt(k.measures.theorem41_z_norm))));
    human.push_str(&format!(
        "\nexact L2 radius, robust:  {}   (Theorem 3.1 bound (1−c)/4·√d = {})\n\
         exact L2 radius, trained: {}\n\
         exact L2 radius, KKT:     {}\n\
         KKT τ-profile (ε_rel): {}\n\
         Theorem 4.1 hypotheses hold: {} (m ≤ (d+1)/(3(p+1)) needs d ≫ m²; the conclusion is checked anyway: {}{})\n\
         polish: {} — {}; trained → KKT direction: distance {}, angle {}\n",
        fmt_radii(&report.robust_radii),
        fmt_num(report.robust_radius_bound),
        fmt_radii(&report.trained_radii),
        kp.at_kkt.as_ref().map_or_else(|| format!("– (polish failed: {})", kp.status), |k| fmt_radii(&k.radii)),
        tau_prof.join(", "),
        tm.theorem41_hypotheses_hold,
        tm.theorem41_conclusion_holds,
        kp.at_kkt.as_ref().map_or(String::new(), |k| format!("; at the KKT point: {}", k.measures.theorem41_conclusion_holds)),
        kp.status,
        kp.message,
        kp.distance.map_or("–".to_string(), fmt_num),
        kp.angle_degrees.map_or("–".to_string(), |x| format!("{}°", fmt_num(x))),
    ));
    let mut report = report;
    report.wall_seconds = start.elapsed().as_secs_f64();
    human.push_str(&format!("done in {:.1}s\n", report.wall_seconds));
    Ok(Output::new(&report, human))
}
