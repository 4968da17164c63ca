//! Value parsers for the command line: every flag value is checked by clap, so a bad one
//! is a usage error (exit 2, clap's message naming the flag) before any work starts.
//!
//! Each parser is a plain `fn(&str) -> Result<T, String>` used as
//! `#[arg(value_parser = parse::positive_f64)]`. The library keeps its own checks (typed
//! errors) for callers that do not come through the command line.

use std::time::Duration;

use relucert::experiments::Shard;
use relucert::train;

fn number(s: &str) -> Result<f64, String> {
    s.trim().parse::<f64>().map_err(|_| format!("{s:?} is not a number"))
}

/// A finite float (no `nan`, `inf`).
pub fn finite_f64(s: &str) -> Result<f64, String> {
    let x = number(s)?;
    if x.is_finite() {
        Ok(x)
    } else {
        Err(format!("{s:?} is not a finite number"))
    }
}

/// A finite float > 0.
pub fn positive_f64(s: &str) -> Result<f64, String> {
    let x = finite_f64(s)?;
    if x > 0.0 {
        Ok(x)
    } else {
        Err(format!("{s:?} must be > 0"))
    }
}

/// A finite float ≥ 0.
pub fn nonneg_f64(s: &str) -> Result<f64, String> {
    let x = finite_f64(s)?;
    if x >= 0.0 {
        Ok(x)
    } else {
        Err(format!("{s:?} must be ≥ 0"))
    }
}

/// A finite float in [0, 1).
pub fn unit_f64(s: &str) -> Result<f64, String> {
    let x = finite_f64(s)?;
    if (0.0..1.0).contains(&x) {
        Ok(x)
    } else {
        Err(format!("{s:?} must be in [0, 1)"))
    }
}

/// An integer ≥ 1.
pub fn positive_usize(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is not a whole number ≥ 1")),
    }
}

/// An integer ≥ 1 (64-bit counters: iterations, periods).
pub fn positive_u64(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is not a whole number ≥ 1")),
    }
}

/// A number of seconds ≥ 0 that a [`Duration`] can hold (refuses `nan`, `inf`, negative
/// values and values past `Duration::MAX`, such as 1e20).
pub fn duration(s: &str) -> Result<Duration, String> {
    let x = number(s)?;
    Duration::try_from_secs_f64(x).map_err(|_| format!("{s:?} is not a number of seconds ≥ 0 that fits a duration (at most about 1.8e19)"))
}

/// Like [`duration`], but returns the seconds as given (for settings that store `f64`).
pub fn seconds(s: &str) -> Result<f64, String> {
    duration(s)?;
    number(s)
}

/// A positive loss value as a base-10 logarithm, with any exponent (`1e-400` is fine).
pub fn log10_loss(s: &str) -> Result<f64, String> {
    train::parse_log10(s).map_err(|e| e.to_string())
}

/// `i/n` with 0 ≤ i < n.
pub fn shard(s: &str) -> Result<Shard, String> {
    Shard::parse(s).map_err(|e| e.to_string())
}

/// A comma-separated list of τ values, each finite and ≥ 0; the empty string is the
/// empty list.
#[derive(Debug, Clone, PartialEq)]
pub struct TauLadder(pub Vec<f64>);

/// Parses a [`TauLadder`].
pub fn tau_ladder(s: &str) -> Result<TauLadder, String> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| nonneg_f64(t).map_err(|e| format!("τ value {e}")))
        .collect::<Result<Vec<f64>, String>>()
        .map(TauLadder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_refuse_what_would_panic() {
        for bad in ["nan", "-1", "1e20", "inf", "-inf", "x", ""] {
            assert!(duration(bad).is_err(), "{bad}");
        }
        assert_eq!(duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn floats_and_counts() {
        assert!(positive_f64("0").is_err() && positive_f64("nan").is_err() && positive_f64("inf").is_err());
        assert_eq!(positive_f64("1e-5"), Ok(1e-5));
        assert!(nonneg_f64("-0.1").is_err());
        assert_eq!(nonneg_f64("0"), Ok(0.0));
        assert!(unit_f64("1").is_err() && unit_f64("-0.5").is_err());
        assert!(positive_usize("0").is_err() && positive_usize("-1").is_err());
        assert_eq!(positive_usize("3"), Ok(3));
        assert!(positive_u64("0").is_err());
    }

    #[test]
    fn ladders_shards_losses() {
        assert_eq!(tau_ladder(""), Ok(TauLadder(vec![])));
        assert_eq!(tau_ladder("1e-9, 0.01"), Ok(TauLadder(vec![1e-9, 0.01])));
        for bad in ["x", "1e-9,nan", "-1", "inf"] {
            assert!(tau_ladder(bad).is_err(), "{bad}");
        }
        assert!(shard("3/2").is_err() && shard("1/0").is_err() && shard("a/b").is_err());
        assert_eq!(shard("1/4"), Ok(Shard { i: 1, n: 4 }));
        assert_eq!(log10_loss("1e-400"), Ok(-400.0));
        assert!(log10_loss("0").is_err() && log10_loss("-1").is_err() && log10_loss("abc").is_err());
    }
}
