//! The training loop: [`train`] and [`train_from`] drive the kernel (`engine.rs`) with a
//! schedule (`schedule.rs`) until a [`StopReason`].
//!
//! One iteration is a sequence of named steps on a [`Driver`]: `stop_before_step`
//! (target, budgets, stall window), `prepare_gradient` (next minibatch, normalised
//! gradient, zero-gradient check), `propose_and_judge` (the schedule's step, the
//! proposal's loss, accept or reject), `after_accept` (bookkeeping of the best network)
//! and `report` (progress callback, checkpoints, and the certificate stopping rule of
//! [`CertificateTarget`](super::CertificateTarget)). `finish` assembles the report from
//! an independent recomputation of the returned network's loss ([`loss_and_grad`]).
//! The whole state between iterations is a [`TrainerState`], so a run resumed from a
//! checkpoint takes the same steps as one that was never interrupted.

use std::time::Instant;

use super::batches::Batches;
use super::certifier::Certifier;
use super::checkpoint::TrainerState;
use super::duplicates::find_conflicting_duplicate;
use super::engine::{Engine, Mode, Real};
use super::memory::check_memory;
use super::reference::loss_and_grad;
use super::report::{Progress, StopReason, TrainOutcome, TrainReport, REPORT_FORMAT};
use super::schedule::{ScheduleState, Scheduler, Verdict};
use super::settings::{Precision, TrainSettings};
use super::stepper::{build_engine, choose_mode, export};
use super::TrainError;
use crate::data::Dataset;
use crate::net::Net;

const LN10: f64 = std::f64::consts::LN_10;

/// Trains `init` on `data` until a [`StopReason`]; `progress` is called every
/// `progress_every` accepted iterations (and with a network at checkpoints).
///
/// Errors only for misuse: settings out of range, a network whose input dimension
/// differs from the data's, or a run whose memory estimate exceeds
/// [`TrainSettings::max_memory`].
pub fn train(
    data: &Dataset,
    init: Net,
    settings: &TrainSettings,
    progress: &mut dyn FnMut(&Progress<'_>),
) -> Result<TrainOutcome, TrainError> {
    train_from(data, init, None, settings, progress)
}

/// [`train`] continuing from a saved [`TrainerState`] (a checkpoint's): the schedule's
/// step size and counters, the minibatch position and the stall window carry on, so the
/// iterates are those of the uninterrupted run. The iteration number is
/// `settings.start_iteration`; a state whose schedule kind differs from the settings' is
/// restarted for that part.
pub fn train_from(
    data: &Dataset,
    init: Net,
    state: Option<&TrainerState>,
    settings: &TrainSettings,
    progress: &mut dyn FnMut(&Progress<'_>),
) -> Result<TrainOutcome, TrainError> {
    settings.validate()?;
    init.check_data(data)?;
    check_memory(data.m(), data.d(), init.width(), settings)?;
    match settings.dtype {
        Precision::F64 => Driver::<f64>::new(data, &init, state, settings).run(progress),
        Precision::F32 => Driver::<f32>::new(data, &init, state, settings).run(progress),
    }
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// The state of one run (see the module docs for the steps).
struct Driver<'a, T: Real> {
    data: &'a Dataset,
    st: &'a TrainSettings,
    eng: Engine<T>,
    mode: Mode,
    sched: Scheduler,
    batches: Batches,
    started: Instant,
    ln_target: f64,
    iter: u64,
    proposals: u64,
    rejected: u64,
    ln_l: f64,
    ln_lb: f64,
    best_ln: f64,
    /// `None`: the current state is the best.
    best: Option<(Net, u64)>,
    window: (u64, f64),
    times: Vec<f64>,
    need_grad: bool,
    log10_lr: f64,
    last_reported: u64,
    certifier: Option<Certifier>,
}

/// What became of a proposal.
enum Proposal {
    Accepted,
    Rejected,
    Stop(StopReason),
}

impl<'a, T: Real> Driver<'a, T> {
    fn new(data: &'a Dataset, init: &Net, state: Option<&TrainerState>, st: &'a TrainSettings) -> Driver<'a, T> {
        let m = data.m();
        let batch_size = st.batch.filter(|&b| b < m);
        let mode = choose_mode(st.kernel, m, data.d(), batch_size.unwrap_or(m), st.refresh);
        let eng: Engine<T> = build_engine(data, init, st, mode);
        let ln_l = eng.ln_loss(&eng.q, None);
        let iter = st.start_iteration;
        let sched_state = state.map(|s| s.schedule).filter(|s| s.fits(&st.schedule)).unwrap_or_else(|| ScheduleState::initial(&st.schedule));
        let (epochs, pos) = state.map_or((0, m), |s| (s.epochs, s.batch_position));
        let (best_ln, window) = match state {
            Some(s) if s.best_ln_loss <= ln_l => (s.best_ln_loss, (s.window_start, s.window_ln_loss)),
            _ => (ln_l, (iter, ln_l)),
        };
        Driver {
            data,
            st,
            eng,
            mode,
            sched: Scheduler::new(st.schedule, sched_state),
            batches: Batches::new(m, batch_size, st.seed, epochs, pos),
            started: Instant::now(),
            ln_target: st.target_log10_loss * LN10,
            iter,
            proposals: 0,
            rejected: state.map_or(0, |s| s.rejected_steps),
            ln_l,
            ln_lb: ln_l,
            best_ln,
            best: None,
            window,
            times: Vec::new(),
            need_grad: true,
            log10_lr: f64::NAN,
            last_reported: u64::MAX,
            certifier: st.certificate.map(|c| Certifier::new(c, iter)),
        }
    }

    /// The loop: the named steps until a stop.
    fn run(mut self, progress: &mut dyn FnMut(&Progress<'_>)) -> Result<TrainOutcome, TrainError> {
        let stop = match self.preflight() {
            Some(stop) => stop,
            None => loop {
                if let Some(stop) = self.stop_before_step() {
                    break stop;
                }
                let t0 = Instant::now();
                if let Some(stop) = self.prepare_gradient() {
                    break stop;
                }
                let outcome = self.propose_and_judge()?;
                self.times.push(t0.elapsed().as_secs_f64());
                match outcome {
                    Proposal::Stop(stop) => break stop,
                    Proposal::Rejected => {}
                    Proposal::Accepted => {}
                }
                if self.sched.consecutive_rejections() >= self.st.max_rejections {
                    break StopReason::Stalled { iteration: self.iter };
                }
                if let Proposal::Accepted = outcome {
                    if let Some(stop) = self.report(progress)? {
                        break stop;
                    }
                }
            },
        };
        self.finish(stop, progress)
    }

    /// Stops that need no step: a conflicting duplicate, non-finite starting margins.
    fn preflight(&self) -> Option<StopReason> {
        if self.ln_target < 0.0 {
            if let Some((i, j)) = find_conflicting_duplicate(self.data) {
                return Some(StopReason::Inseparable { i, j });
            }
        }
        if self.ln_l.is_nan() || self.eng.q.iter().any(|t| !t.is_finite()) {
            return Some(StopReason::NonFinite { iteration: self.iter, learning_rate: 0.0 });
        }
        None
    }

    /// The loss target, the proposal and time budgets, and the stall window.
    fn stop_before_step(&mut self) -> Option<StopReason> {
        if self.ln_l <= self.ln_target {
            return Some(StopReason::TargetLoss);
        }
        if self.proposals >= self.st.max_iters {
            return Some(StopReason::MaxIterations);
        }
        if let Some(limit) = self.st.time_limit {
            if self.started.elapsed().as_secs_f64() >= limit {
                return Some(StopReason::TimeLimit);
            }
        }
        if self.iter >= self.window.0.saturating_add(self.st.stall_window) {
            if self.window.1 - self.best_ln < self.st.min_progress {
                return Some(StopReason::NoProgress { iteration: self.iter });
            }
            self.window = (self.iter, self.best_ln);
        }
        None
    }

    /// After an accepted step: the next batch's normalised gradient (kept across
    /// rejections, which retry the same direction with a smaller step).
    fn prepare_gradient(&mut self) -> Option<StopReason> {
        if !self.need_grad {
            return None;
        }
        let batch = self.batches.next();
        self.ln_lb = match batch {
            None => self.ln_l,
            Some(bi) => self.eng.ln_loss(&self.eng.q, Some(bi)),
        };
        self.eng.gradient(batch, self.ln_lb, self.st.screening);
        if self.eng.gradient_is_zero() {
            return Some(StopReason::Stationary { iteration: self.iter });
        }
        self.need_grad = false;
        None
    }

    /// The schedule's step, the proposal's loss, and the verdict. Full batch: the loss
    /// must not rise. Minibatch: the batch's loss must not rise (a stochastic line
    /// search; a batch gradient need not be a descent direction of the full loss).
    fn propose_and_judge(&mut self) -> Result<Proposal, TrainError> {
        let step = self.sched.step(self.iter, self.ln_l, self.ln_lb);
        self.log10_lr = step.ln_rate / LN10;
        let finite = self.eng.propose(step.multiplier);
        let ln_new = if finite { self.eng.ln_loss(&self.eng.q2, None) } else { f64::NAN };
        self.proposals += 1;
        let descent = match self.batches.size {
            None => ln_new <= self.ln_l,
            Some(_) => self.eng.ln_loss(&self.eng.q2, Some(&self.batches.batch)) <= self.ln_lb,
        };
        match self.sched.judge(finite && !ln_new.is_nan(), descent) {
            Verdict::Diverged => Ok(Proposal::Stop(StopReason::NonFinite { iteration: self.iter, learning_rate: step.ln_rate.exp() })),
            Verdict::Reject => {
                self.rejected = self.rejected.saturating_add(1);
                Ok(Proposal::Rejected)
            }
            Verdict::Accept => self.after_accept(ln_new, step.multiplier, step.ln_rate),
        }
    }

    /// Takes the proposal: keeps the best network when the loss rises (paper schedule),
    /// advances the iteration, recomputes the loss.
    fn after_accept(&mut self, ln_new: f64, multiplier: f64, ln_rate: f64) -> Result<Proposal, TrainError> {
        if ln_new > self.ln_l && self.best.is_none() {
            self.best = Some((export(&mut self.eng)?, self.iter));
        }
        self.eng.accept(multiplier);
        // Cannot overflow: iter ≤ start_iteration + proposals ≤ start + max_iters, checked.
        self.iter += 1;
        self.need_grad = true;
        self.ln_l = self.eng.ln_loss(&self.eng.q, None);
        if self.ln_l.is_nan() {
            return Ok(Proposal::Stop(StopReason::NonFinite { iteration: self.iter, learning_rate: ln_rate.exp() }));
        }
        if self.ln_l <= self.best_ln {
            self.best_ln = self.ln_l;
            self.best = None;
        }
        if let Some(c) = &mut self.certifier {
            c.steps_since += 1;
        }
        Ok(Proposal::Accepted)
    }

    /// The state to store in a checkpoint.
    fn state(&self) -> TrainerState {
        TrainerState {
            iteration: self.iter,
            schedule: self.sched.state(),
            rejected_steps: self.rejected,
            epochs: self.batches.epochs,
            batch_position: self.batches.pos,
            best_ln_loss: self.best_ln,
            window_start: self.window.0,
            window_ln_loss: self.window.1,
        }
    }

    fn progress_record<'n>(&self, checkpoint: Option<&'n Net>, state: Option<&'n TrainerState>) -> Progress<'n> {
        Progress {
            iteration: self.iter,
            log10_loss: self.ln_l / LN10,
            q_min: self.eng.q.iter().copied().fold(f64::INFINITY, f64::min),
            log10_learning_rate: self.log10_lr,
            rejected_steps: self.rejected,
            active_samples: self.eng.active.len(),
            elapsed_seconds: self.started.elapsed().as_secs_f64(),
            checkpoint,
            state,
        }
    }

    /// After an accepted step: progress, checkpoints, and the certificate rule.
    fn report(&mut self, progress: &mut dyn FnMut(&Progress<'_>)) -> Result<Option<StopReason>, TrainError> {
        let done = self.iter - self.st.start_iteration;
        let ckpt = self.st.checkpoint_every.is_some_and(|c| done % c == 0);
        if ckpt || done % self.st.progress_every == 0 {
            self.last_reported = self.iter;
            if ckpt {
                // A fresh engine starts from exact pre-activations: so does the run here,
                // so that a resumed run continues bit for bit.
                self.eng.refresh_exact();
                let net = export(&mut self.eng)?;
                let state = self.state();
                progress(&self.progress_record(Some(&net), Some(&state)));
            } else {
                progress(&self.progress_record(None, None));
            }
        }
        if let Some(c) = &mut self.certifier {
            if self.iter >= c.next_at && self.eng.q.iter().all(|&t| t > 0.0) {
                let (w, b, v) = self.eng.snapshot();
                let net = Net::from_rows(self.eng.d, &w, b.as_deref(), &v)?;
                if let Some(eps_rel) = c.check(&net, self.data, self.iter) {
                    return Ok(Some(StopReason::TargetEpsRel { eps_rel }));
                }
            }
        }
        Ok(None)
    }

    /// The outcome: the best network, its independently recomputed loss and margins,
    /// the report, and the final state.
    fn finish(mut self, stop: StopReason, progress: &mut dyn FnMut(&Progress<'_>)) -> Result<TrainOutcome, TrainError> {
        let last = export(&mut self.eng)?;
        // The certified network is the current one, whatever the loss did before.
        let (net, iterations) = match (stop, self.best.take()) {
            (StopReason::TargetEpsRel { .. }, _) | (_, None) => (last.clone(), self.iter),
            (_, Some((net, it))) => (net, it),
        };
        let lg = loss_and_grad(&net, self.data, self.st.loss)?;
        let q_min = lg.margins.iter().copied().fold(f64::INFINITY, f64::min);
        let norm2 = net.param_norm_sq();
        let accuracy = net.accuracy(self.data)?;
        if self.last_reported != self.iter {
            progress(&self.progress_record(None, None));
        }
        let st = self.st;
        let cert = self.certifier.as_ref();
        let report = TrainReport {
            format: REPORT_FORMAT,
            iterations,
            log10_loss: lg.log10_loss(),
            q_min,
            normalized_margin: q_min / norm2,
            wall_seconds: self.started.elapsed().as_secs_f64(),
            step_seconds_median: median(&mut self.times),
            stop_reason: stop,
            stop_message: stop.to_string(),
            proposals: self.proposals,
            rejected_steps: self.rejected,
            last_iteration: self.iter,
            last_log10_loss: self.ln_l / LN10,
            accuracy,
            param_norm_sq: norm2,
            settings: st.clone(),
            kernel_used: match self.mode {
                Mode::Direct => "direct",
                Mode::Gram => "gram",
            },
            m: self.data.m(),
            d: self.data.d(),
            width: net.width(),
            bias: net.has_bias(),
            last_eps_rel: cert.and_then(|c| c.last_eps_rel),
            certifications: cert.map_or(0, |c| c.count),
            certify_seconds: cert.map(|c| c.seconds),
        };
        let state = self.state();
        Ok(TrainOutcome { net, last, stop, report, state })
    }
}
