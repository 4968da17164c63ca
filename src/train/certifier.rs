//! The certificate stopping rule of [`CertificateTarget`]: certify the current network
//! with the L2 KKT certificate (docs/kkt.md) at chosen iterations, and schedule the next
//! check so that certifying takes about the target share of the run's time (or at a
//! fixed interval, for runs whose stop iteration must not depend on timing).

use std::time::Instant;

use super::settings::CertificateTarget;
use crate::data::Dataset;
use crate::kkt::{self, KktSettings};
use crate::net::Net;

/// When and how the certificate stopping rule runs.
pub(crate) struct Certifier {
    target: CertificateTarget,
    settings: KktSettings,
    pub next_at: u64,
    pub last_eps_rel: Option<f64>,
    pub count: u64,
    pub seconds: f64,
    since: Instant,
    pub steps_since: u64,
}

impl Certifier {
    pub fn new(target: CertificateTarget, first_at: u64) -> Certifier {
        let settings = KktSettings { tau: target.tau, tau_ladder: Vec::new(), ..KktSettings::default() };
        Certifier {
            target,
            settings,
            next_at: first_at,
            last_eps_rel: None,
            count: 0,
            seconds: 0.0,
            since: Instant::now(),
            steps_since: 0,
        }
    }

    /// Certifies `net` and schedules the next check; `Some(ε_rel)` when at target.
    pub fn check(&mut self, net: &Net, data: &Dataset, iter: u64) -> Option<f64> {
        let train_seconds = self.since.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let eps = kkt::certify(net, data, &self.settings).ok().map(|r| r.eps_rel);
        let cost = t0.elapsed().as_secs_f64();
        self.count += 1;
        self.seconds += cost;
        if eps.is_some() {
            self.last_eps_rel = eps;
        }
        let interval = match self.target.every {
            Some(e) => e,
            None => {
                // Steps n with cost ≤ overhead·(cost + n·step): n ≥ cost·(1/overhead − 1)/step.
                let step = train_seconds / self.steps_since.max(1) as f64;
                let n = cost * (1.0 / self.target.overhead - 1.0) / step.max(1e-12);
                n.ceil().clamp(1.0, 1e9) as u64
            }
        };
        self.next_at = iter.saturating_add(interval);
        self.since = Instant::now();
        self.steps_since = 0;
        eps.filter(|&e| e <= self.target.eps_rel)
    }
}

