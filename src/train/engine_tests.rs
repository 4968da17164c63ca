//! Unit tests of the training kernel in `engine` (kept apart so the kernel's file stays
//! one concept of readable size).

use super::*;

/// The tiled direct kernel (pre-activations recomputed, no m×k buffer) takes the same
/// steps as the stored one, screened and minibatch rows included.
#[test]
fn streamed_direct_kernel_matches_stored() {
    let (m, d, k) = (2 * TILE_ROWS + 37, 6, 5);
    let mut seed = 1u64;
    let mut next = || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((seed >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    };
    let x: Vec<f64> = (0..m * d).map(|_| next()).collect();
    let y: Vec<f64> = (0..m).map(|i| if i % 3 == 0 { 1.0 } else { -1.0 }).collect();
    let w: Vec<f64> = (0..k * d).map(|_| next()).collect();
    let b: Vec<f64> = (0..k).map(|_| next()).collect();
    let v: Vec<f64> = (0..k).map(|_| next()).collect();
    let build = || Engine::<f64>::new(&x, &y, d, &w, Some(&b), &v, Loss::Exp, Mode::Direct, 64, 1);
    let mut stored = build();
    let mut streamed = build();
    streamed.store_u = false;
    streamed.u = vec![0.0; TILE_ROWS * k];
    let batch: Vec<usize> = (0..m).filter(|i| i % 2 == 1).collect();
    for step in 0..6 {
        let bref = if step % 2 == 0 { None } else { Some(&batch[..]) };
        for e in [&mut stored, &mut streamed] {
            let ln = e.ln_loss(&e.q, bref);
            e.gradient(bref, ln, true);
            assert!(e.propose(0.05));
            e.accept(0.05);
        }
        assert_eq!(stored.active, streamed.active);
        for (a, c) in stored.q.iter().zip(&streamed.q) {
            assert!((a - c).abs() <= 1e-12 * (1.0 + a.abs()), "step {step}: {a} vs {c}");
        }
    }
    let (wa, _, va) = stored.export();
    let (wb, _, vb) = streamed.export();
    for (a, c) in wa.iter().chain(&va).zip(wb.iter().chain(&vb)) {
        assert!((a - c).abs() <= 1e-12 * (1.0 + a.abs()));
    }
}
