//! Fast schedule vs the paper's protocol on sphere data (issue 3 target): wall-clock to
//! loss < 1e-30 and the final normalised margin q_min/‖θ‖² of each.
//!
//! `cargo run --release --example train_compare -- [d m width seeds first_seed]`
//! (defaults 100 100 1000 1 0). Env: `NOPAPER=1` skips the paper runs.

use relucert::train::{init_net, train, Schedule, TrainSettings};
use relucert::Generator;

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let get = |i: usize, dflt: usize| args.get(i).copied().unwrap_or(dflt);
    let (d, m, k, seeds, first) = (get(0, 100), get(1, 100), get(2, 1000), get(3, 1), get(4, 0));
    println!("sphere d={d} m={m} width={k}, exp loss, target 1e-30, f64, 2 threads");
    println!("{:>4} {:>6} {:>9} {:>9} {:>10} {:>14} {:>12}", "seed", "sched", "iters", "rejected", "seconds", "norm_margin", "log10_loss");
    for seed in first as u64..(first + seeds) as u64 {
        let data = match Generator::Sphere.generate(d, m, seed) {
            Ok(x) => x,
            Err(e) => return eprintln!("{e}"),
        };
        let init = match init_net(d, k, true, seed, 1.0) {
            Ok(x) => x,
            Err(e) => return eprintln!("{e}"),
        };
        let mut runs: Vec<(String, Schedule)> = vec![("fast".into(), Schedule::FAST)];
        if std::env::var("NOPAPER").is_err() {
            runs.push(("paper".into(), Schedule::PAPER));
        }
        for (name, schedule) in runs {
            let settings = TrainSettings { schedule, ..TrainSettings::default() };
            match train(&data, init.clone(), &settings, &mut |_| {}) {
                Ok(out) => {
                    let r = &out.report;
                    println!(
                        "{:>4} {:>6} {:>9} {:>9} {:>10.3} {:>14.6e} {:>12.3}  {}",
                        seed, name, r.iterations, r.rejected_steps, r.wall_seconds, r.normalized_margin, r.log10_loss, r.stop_reason.code()
                    );
                }
                Err(e) => eprintln!("{e}"),
            }
        }
    }
}
