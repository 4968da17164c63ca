//! `relucert construct`: the Theorem 3.1 robust network and the exact KKT network for
//! orthogonal data.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::paths::{self, named};
use super::{fmt_num, parse, CliError, Ctx, Output};
use relucert::construct::{self, RobustSettings};
use relucert::io::{self, FileDtype};

/// Which construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Which {
    /// Theorem 3.1: y_i N(x_i) = 1 and every radius ≥ (1 − c)/4·√d.
    Robust,
    /// The exact KKT bias-free network for orthogonal data (docs/theorems.md).
    OrthogonalKkt,
}

/// Arguments of `construct`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  relucert construct robust --data d.json -o n.json\n  relucert gen orthogonal --d 8 --m 8 -o o.json && relucert construct orthogonal-kkt --data o.json -o kkt.json")]
pub struct ConstructArgs {
    /// Construction.
    pub which: Which,
    /// Dataset file.
    #[arg(long)]
    pub data: PathBuf,
    /// For `robust`: the constant c (default: the data's own p/d; must be in [p/d, 1)).
    #[arg(long, value_parser = parse::unit_f64)]
    pub c: Option<f64>,
    /// Element type for .safetensors/.npz output.
    #[arg(long, value_enum, default_value_t = FileDtype::F64)]
    pub dtype: FileDtype,
    /// Output network file (.json, .safetensors or .npz).
    #[arg(short = 'o', long = "out")]
    pub out: PathBuf,
}

#[derive(Serialize)]
struct ConstructReport {
    format: &'static str,
    construction: Which,
    data: io::InputFile,
    output: String,
    width: usize,
    bias: bool,
    c: Option<f64>,
    radius_lower_bound: Option<f64>,
    q_min: f64,
}

/// Runs `construct`.
pub fn run(a: &ConstructArgs, _ctx: &Ctx) -> Result<Output, CliError> {
    if a.c.is_some() && a.which != Which::Robust {
        return Err(CliError::Usage("--c applies only to `construct robust`".into()));
    }
    io::FileFormat::from_path(&a.out)?;
    paths::refuse_overwrite(&[named("-o", &a.out)], &[named("--data", &a.data)])?;
    let data = io::read_data(&a.data)?;
    let (net, c) = match a.which {
        Which::Robust => {
            let (net, c) = construct::robust(&data, &RobustSettings { c: a.c, ..RobustSettings::default() })?;
            (net, Some(c))
        }
        Which::OrthogonalKkt => (construct::orthogonal_kkt(&data)?, None),
    };
    let q_min = relucert::net::argmin(&net.margins(&data)?).1;
    io::write_net(&a.out, &net, a.dtype)?;
    let sqrt_d = (data.d() as f64).sqrt();
    let report = ConstructReport {
        format: io::tags::CONSTRUCT,
        construction: a.which,
        data: io::InputFile::of(&a.data)?,
        output: a.out.display().to_string(),
        width: net.width(),
        bias: net.has_bias(),
        c,
        radius_lower_bound: c.map(|c| construct::theorem31_radius_bound(c, data.d())),
        q_min,
    };
    let mut human = format!(
        "wrote {} ({:?} network, width {}, {}), q_min = {}",
        a.out.display(),
        a.which,
        net.width(),
        if net.has_bias() { "with bias" } else { "bias-free" },
        fmt_num(q_min)
    );
    if let Some(c) = c {
        human.push_str(&format!(
            "\nc = {}; Theorem 3.1: every L2 radius ≥ (1 − c)/4·√d = {} (√d = {})",
            fmt_num(c),
            fmt_num(construct::theorem31_radius_bound(c, data.d())),
            fmt_num(sqrt_d)
        ));
    }
    Ok(Output::new(&report, human))
}
