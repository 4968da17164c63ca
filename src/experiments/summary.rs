//! Statistics over seeds: [`summarize`] groups run records by (α or width, d) into
//! [`SummaryRow`]s (mean ± sample standard deviation of c*, on-margin means), and
//! [`write_summary_csv`] writes them with the `csv` crate from the rows' own
//! `Serialize`, so the header always matches the fields (docs/reports.md).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::store::RunRecord;
use super::ExpError;

/// What a summary's groups are: the size rule's α (Figures 1(a) and 2) or the network
/// width (Figure 1(b)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupKind {
    /// Groups by α, with m = round(d^α).
    Alpha,
    /// Groups by network width.
    Width,
}

impl GroupKind {
    /// The name used in the CSV and JSON (`alpha` or `width`).
    pub fn name(self) -> &'static str {
        match self {
            GroupKind::Alpha => "alpha",
            GroupKind::Width => "width",
        }
    }
}

/// One point of a plot: a group (α or width) at one d, over seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryRow {
    /// What `group` is.
    pub group_kind: GroupKind,
    /// α or width.
    pub group: f64,
    /// Input dimension.
    pub d: usize,
    /// Samples.
    pub m: usize,
    /// Runs (seeds) in the group, failed measurements included.
    pub runs: usize,
    /// Mean of c* over runs with a finite c*.
    pub c_star_mean: f64,
    /// Sample standard deviation of c* (0 for one run).
    pub c_star_std: f64,
    /// Runs whose c* was infinite (measured: no finite c flips every on-margin sample).
    pub c_star_infinite: usize,
    /// Runs whose Figure-1 measurement failed; they are in no mean or deviation.
    pub failed: usize,
    /// Mean fraction of samples on the margin (over measured runs).
    pub on_margin_fraction_mean: f64,
    /// Mean number of samples not on the margin (over measured runs).
    pub off_margin_mean: f64,
    /// √d.
    pub sqrt_d: f64,
}

/// Mean and sample standard deviation (NaN for no values, 0 deviation for one).
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 { xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}

/// Groups records by (α or width, d) and averages over seeds. Runs whose Figure-1
/// measurement failed are counted in `runs` and `failed` and left out of every
/// statistic.
pub fn summarize(records: &[RunRecord], kind: GroupKind) -> Vec<SummaryRow> {
    let mut groups: BTreeMap<(u64, usize), Vec<&RunRecord>> = BTreeMap::new();
    for r in records {
        let g = match kind {
            GroupKind::Width => r.spec.width as f64,
            GroupKind::Alpha => r.spec.alpha.unwrap_or(1.0),
        };
        groups.entry((g.to_bits(), r.spec.d)).or_default().push(r);
    }
    let mut rows: Vec<SummaryRow> = groups
        .into_iter()
        .map(|((g, d), rs)| {
            let measured: Vec<&RunRecord> = rs.iter().copied().filter(|r| r.measured()).collect();
            let finite: Vec<f64> = measured.iter().filter_map(|r| r.c_star).collect();
            let (c_star_mean, c_star_std) = mean_std(&finite);
            let fr: Vec<f64> = measured.iter().filter_map(|r| r.on_margin_fraction).collect();
            let off: Vec<f64> = measured.iter().filter_map(|r| r.on_margin.map(|k| r.spec.m.saturating_sub(k) as f64)).collect();
            SummaryRow {
                group_kind: kind,
                group: f64::from_bits(g),
                d,
                m: rs[0].spec.m,
                runs: rs.len(),
                c_star_mean,
                c_star_std,
                c_star_infinite: measured.len() - finite.len(),
                failed: rs.len() - measured.len(),
                on_margin_fraction_mean: mean_std(&fr).0,
                off_margin_mean: mean_std(&off).0,
                sqrt_d: (d as f64).sqrt(),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.group.total_cmp(&b.group).then(a.d.cmp(&b.d)));
    rows
}

/// The rows as CSV text: a header from the field names, then one line per row.
pub fn summary_csv(rows: &[SummaryRow]) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)?;
    }
    let bytes = w.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Writes the summary as CSV (atomically).
pub fn write_summary_csv(path: &Path, rows: &[SummaryRow]) -> Result<(), ExpError> {
    let text = summary_csv(rows).map_err(|e| ExpError::Content { path: path.to_path_buf(), detail: e.to_string() })?;
    Ok(crate::io::write_atomic(path, text.as_bytes())?)
}
