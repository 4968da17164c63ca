//! Building the kernel for a dataset and a network (the kernel choice by cost, the
//! conversion of the data and the parameters), reading the network back out, and
//! [`Stepper`]: one fixed-rate gradient step at a time, the hot kernel without any
//! schedule (for benchmarks and for callers that drive their own loop).

use super::engine::{Engine, Mode, Real};
use super::settings::{Kernel, Precision, TrainSettings};
use super::TrainError;
use crate::data::Dataset;
use crate::net::Net;

/// Largest m for which the Gram kernel may be chosen automatically (K is m×m).
const GRAM_MAX_M: usize = 20_000;

/// The kernel mode for `kernel` on m samples of dimension d with batches of n.
pub(crate) fn choose_mode(kernel: Kernel, m: usize, d: usize, n: usize, refresh: usize) -> Mode {
    match kernel {
        Kernel::Direct => Mode::Direct,
        Kernel::Gram => Mode::Gram,
        Kernel::Auto => {
            // Per-step work divided by k: direct m·d + n·d; gram m·n + 2·m·d/refresh.
            let direct = (m as f64) * (d as f64) + (n as f64) * (d as f64);
            let gram = (m as f64) * (n as f64) + 2.0 * (m as f64) * (d as f64) / refresh.max(1) as f64;
            if m <= GRAM_MAX_M && gram < 0.9 * direct {
                Mode::Gram
            } else {
                Mode::Direct
            }
        }
    }
}

/// The kernel for `data` and `init` in `mode`, with the settings' loss, refresh and
/// threads.
pub(crate) fn build_engine<T: Real>(data: &Dataset, init: &Net, settings: &TrainSettings, mode: Mode) -> Engine<T> {
    let (m, d, k) = (data.m(), data.d(), init.width());
    let x: Vec<f64> = (0..m).flat_map(|i| data.x().row(i).iter().copied().collect::<Vec<_>>()).collect();
    let w: Vec<f64> = (0..k).flat_map(|j| init.w().row(j).iter().copied().collect::<Vec<_>>()).collect();
    let b: Option<Vec<f64>> = init.b().map(|b| b.iter().copied().collect());
    let v: Vec<f64> = init.v().iter().copied().collect();
    let y: Vec<f64> = data.y().iter().copied().collect();
    let threads = if settings.threads == 0 { rayon::current_num_threads() } else { settings.threads };
    Engine::new(&x, &y, d, &w, b.as_deref(), &v, settings.loss, mode, settings.refresh, threads)
}

/// The kernel's current network, in f64.
pub(crate) fn export<T: Real>(eng: &mut Engine<T>) -> Result<Net, TrainError> {
    let (w, b, v) = eng.export();
    Ok(Net::from_rows(eng.d, &w, b.as_deref(), &v)?)
}

enum AnyEngine {
    F64(Engine<f64>),
    F32(Engine<f32>),
}

/// One full-batch gradient step at a time, with a fixed learning rate: the hot kernel
/// without the schedule logic (for benchmarks and for callers that drive their own
/// loop). Uses the settings' loss, dtype, kernel, screening and threads.
pub struct Stepper {
    eng: AnyEngine,
    screening: bool,
}

impl Stepper {
    /// Prepares the buffers (and, for the Gram kernel, `K = X Xᵀ`).
    pub fn new(data: &Dataset, init: &Net, settings: &TrainSettings) -> Result<Stepper, TrainError> {
        settings.validate()?;
        init.check_data(data)?;
        let (m, d) = (data.m(), data.d());
        let mode = choose_mode(settings.kernel, m, d, m, settings.refresh);
        let eng = match settings.dtype {
            Precision::F64 => AnyEngine::F64(build_engine(data, init, settings, mode)),
            Precision::F32 => AnyEngine::F32(build_engine(data, init, settings, mode)),
        };
        Ok(Stepper { eng, screening: settings.screening })
    }

    /// One step `θ ← θ − lr·∇L(θ)`: gradient, proposal, forward pass of the new point.
    /// Returns the natural log of the new loss (NaN when a margin is not finite; the
    /// step is then not taken).
    pub fn step(&mut self, lr: f64) -> f64 {
        fn go<T: Real>(e: &mut Engine<T>, lr: f64, screening: bool) -> f64 {
            let ln_l = e.ln_loss(&e.q, None);
            e.gradient(None, ln_l, screening);
            let s = (lr.ln() + ln_l).exp();
            if !e.propose(s) {
                return f64::NAN;
            }
            e.accept(s);
            e.ln_loss(&e.q, None)
        }
        match &mut self.eng {
            AnyEngine::F64(e) => go(e, lr, self.screening),
            AnyEngine::F32(e) => go(e, lr, self.screening),
        }
    }

    /// The current network.
    pub fn net(&mut self) -> Result<Net, TrainError> {
        match &mut self.eng {
            AnyEngine::F64(e) => export(e),
            AnyEngine::F32(e) => export(e),
        }
    }
}
