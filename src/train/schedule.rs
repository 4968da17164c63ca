//! The learning-rate schedules as a small state machine.
//!
//! A [`Scheduler`] holds a [`Schedule`]'s parameters and its [`ScheduleState`]: nothing
//! for the paper's schedule (its rate is a function of the iteration number), and for
//! the fast schedule the current step size α together with the count of consecutive
//! rejections. The driver asks for the next step ([`Scheduler::step`]), proposes it,
//! and reports whether the proposal lowered the loss ([`Scheduler::judge`]), which
//! answers accept, reject (fast schedule: α shrinks) or diverged (paper schedule: a
//! non-finite step is fatal). The state is what a checkpoint stores, so a resumed run
//! takes the same steps as an uninterrupted one.
//!
//! The maths of both schedules (why a loss-normalised step η = α/L follows the same
//! margin-increasing path) is in the module docs of `train` and in docs/model.md.

use serde::{Deserialize, Serialize};

use super::settings::Schedule;

/// What a schedule carries from one step to the next.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ScheduleState {
    /// The paper's schedule: the rate depends on the iteration number only.
    Paper,
    /// The fast schedule.
    Fast {
        /// Current step size α in units of `∇L/L`; `None` before the first step (then
        /// α_0 = start·L(θ_0), capped at `max_step`). Written as a decimal string that
        /// reads back to the same bits.
        #[serde(with = "exact_f64_opt")]
        alpha: Option<f64>,
        /// Rejected proposals since the last accepted one.
        consecutive_rejections: u32,
    },
}

impl ScheduleState {
    /// The state of a schedule that has not taken a step yet.
    pub fn initial(schedule: &Schedule) -> ScheduleState {
        match schedule {
            Schedule::Paper { .. } => ScheduleState::Paper,
            Schedule::Fast { .. } => ScheduleState::Fast { alpha: None, consecutive_rejections: 0 },
        }
    }

    /// Whether this state belongs to `schedule`'s kind.
    pub fn fits(&self, schedule: &Schedule) -> bool {
        matches!((self, schedule), (ScheduleState::Paper, Schedule::Paper { .. }) | (ScheduleState::Fast { .. }, Schedule::Fast { .. }))
    }
}

/// A step to propose.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Step {
    /// Multiplier of the normalised batch gradient `∇L_B/L_B`.
    pub multiplier: f64,
    /// Natural log of the plain learning rate η (the step is η·∇L).
    pub ln_rate: f64,
}

/// What to do with a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Take it.
    Accept,
    /// Drop it (fast schedule; α has been shrunk).
    Reject,
    /// The paper schedule produced a non-finite point: stop.
    Diverged,
}

/// A schedule's parameters with its state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scheduler {
    schedule: Schedule,
    state: ScheduleState,
}

impl Scheduler {
    /// Starts `schedule` from `state` (its initial state for a fresh run).
    pub fn new(schedule: Schedule, state: ScheduleState) -> Scheduler {
        Scheduler { schedule, state }
    }

    /// The state, for checkpoints.
    pub fn state(&self) -> ScheduleState {
        self.state
    }

    /// The step at iteration `iter`, full loss `ln L` and batch loss `ln L_B`.
    ///
    /// Paper: η_t = start·factor^⌊t/period⌋, multiplier η·L_B. Fast: η = α/L with the
    /// full loss L; the batch gradient is normalised by L_B, so the multiplier of
    /// `∇L_B/L_B` is α·L_B/L (α for full batch).
    pub fn step(&mut self, iter: u64, ln_l: f64, ln_lb: f64) -> Step {
        match (self.schedule, &mut self.state) {
            (Schedule::Paper { start, factor, period }, _) => {
                let ln_rate = start.ln() + ((iter / period.max(1)) as f64) * factor.ln();
                Step { multiplier: (ln_rate + ln_lb).exp(), ln_rate }
            }
            (Schedule::Fast { start, max_step, .. }, ScheduleState::Fast { alpha, .. }) => {
                let a = *alpha.get_or_insert_with(|| (start.ln() + ln_l).exp().min(max_step));
                Step { multiplier: (a.ln() + ln_lb - ln_l).exp(), ln_rate: a.ln() - ln_l }
            }
            (Schedule::Fast { .. }, state) => {
                // A paper state handed to a fast schedule: start it afresh.
                *state = ScheduleState::initial(&self.schedule);
                self.step(iter, ln_l, ln_lb)
            }
        }
    }

    /// Judges a proposal: `finite` when every proposed margin is finite, `descent` when
    /// the loss that the step must not raise did not rise.
    pub fn judge(&mut self, finite: bool, descent: bool) -> Verdict {
        match (self.schedule, &mut self.state) {
            (Schedule::Paper { .. }, _) => {
                if finite {
                    Verdict::Accept
                } else {
                    Verdict::Diverged
                }
            }
            (Schedule::Fast { grow, shrink, max_step, .. }, ScheduleState::Fast { alpha, consecutive_rejections }) => {
                let a = alpha.get_or_insert(max_step);
                if finite && descent {
                    *a = (*a * grow).min(max_step);
                    *consecutive_rejections = 0;
                    Verdict::Accept
                } else {
                    *a *= shrink;
                    *consecutive_rejections = consecutive_rejections.saturating_add(1);
                    Verdict::Reject
                }
            }
            (Schedule::Fast { .. }, _) => Verdict::Reject,
        }
    }

    /// Rejected proposals since the last accepted one (0 for the paper schedule).
    pub fn consecutive_rejections(&self) -> u32 {
        match self.state {
            ScheduleState::Fast { consecutive_rejections, .. } => consecutive_rejections,
            ScheduleState::Paper => 0,
        }
    }
}

/// Serde for `f64` as a decimal string (Rust's shortest round-trip form), so that a
/// value reads back to the same bits whatever the JSON parser's float accuracy; a plain
/// JSON number is accepted too.
pub(crate) mod exact_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    pub(super) enum Repr {
        Text(String),
        Number(f64),
    }

    impl Repr {
        pub(super) fn value<E: serde::de::Error>(self) -> Result<f64, E> {
            match self {
                Repr::Number(t) => Ok(t),
                Repr::Text(t) => t.parse::<f64>().map_err(E::custom),
            }
        }
    }

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Repr::deserialize(d)?.value()
    }
}

/// [`exact_f64`] for `Option<f64>`.
mod exact_f64_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::exact_f64::Repr;

    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.serialize_some(&t.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Option::<Repr>::deserialize(d)?.map(Repr::value).transpose()
    }
}
