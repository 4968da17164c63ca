//! Peak memory of training at the paper's largest size (m = 31,623 = 1000^1.5, d = 1000,
//! width 1000): writes the dataset once, then trains a few iterations from the file in a
//! separate process so that `/usr/bin/time -v` measures training alone.
//!
//! ```text
//! cargo run --release --example train_memory -- gen /tmp/big.safetensors 31623 1000
//! /usr/bin/time -v target/release/relucert train --data /tmp/big.safetensors --width 1000 --max-iters 3 --json
//! cargo run --release --example train_memory -- train /tmp/big.safetensors 1000 3
//! ```

use std::path::PathBuf;

use relucert::{io, Generator};

/// Peak resident memory so far (`VmHWM`), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok());
    kib.unwrap_or(0) * 1024
}

/// Reads DATA, resets the peak (`/proc/self/clear_refs`), trains ITERS proposals of
/// width K, and prints the peak of the training phase next to the dataset's size.
fn train_phase(path: &str, k: usize, iters: u64) {
    let data = io::read_data(std::path::Path::new(path)).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1);
    });
    let after_read = peak_rss();
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let init = relucert::train::init_net(data.d(), k, true, 0, 1.0).expect("init");
    let settings = relucert::train::TrainSettings { max_iters: iters, ..Default::default() };
    let out = relucert::train::train(&data, init, &settings, &mut |_| {}).expect("train");
    let bytes = (data.m() * data.d() * 8) as u64;
    let peak = peak_rss();
    println!(
        "m = {}, d = {}, width {k}: dataset {bytes} B; peak after reading {after_read} B; training-phase peak {peak} B = {:.2}x the dataset (peak reset: {reset}); kernel {}, {} proposals, median step {:.2} s",
        data.m(),
        data.d(),
        peak as f64 / bytes as f64,
        out.report.kernel_used,
        out.report.proposals,
        out.report.step_seconds_median
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 5 && args[1] == "train" {
        let (k, iters) = (args[3].parse().unwrap_or(1000), args[4].parse().unwrap_or(3));
        train_phase(&args[2], k, iters);
        return;
    }
    if args.len() != 5 || args[1] != "gen" {
        eprintln!("usage: train_memory gen OUT.safetensors M D | train DATA K ITERS");
        std::process::exit(2);
    }
    let out = PathBuf::from(&args[2]);
    let (m, d): (usize, usize) = match (args[3].parse(), args[4].parse()) {
        (Ok(m), Ok(d)) => (m, d),
        _ => {
            eprintln!("M and D must be integers");
            std::process::exit(2);
        }
    };
    let data = match Generator::Sphere.generate(d, m, 0) {
        Ok(data) => data,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = io::write_data(&out, &data, io::FileDtype::F64) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    println!("wrote {} (m = {m}, d = {d}, {} bytes of f64 data)", out.display(), m * d * 8);
}
