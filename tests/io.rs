//! File formats: exact round trips, the Python-written fixtures, and bad input refused
//! with one-line errors that name the file (never a panic).

use std::path::{Path, PathBuf};

use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use relucert::data::{Generator, Rng};
use relucert::io::{self, FileDtype, FileFormat, IoProblem};
use relucert::net::Net;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

fn random_net(k: usize, d: usize, bias: bool, seed: u64) -> Net {
    let mut r = Rng::seed_from_u64(seed);
    let w = DMatrix::from_fn(k, d, |_, _| r.normal() * 10f64.powi((r.below(7) as i32) - 3));
    let b = bias.then(|| DVector::from_fn(k, |_, _| r.normal()));
    let v = DVector::from_fn(k, |_, _| r.normal());
    Net::new(w, b, v).unwrap()
}

fn python_margins(key: &str) -> Vec<f64> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(fixture("python_margins.json")).unwrap()).unwrap();
    v[key].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

/// The safetensors file written by Python's `safetensors.numpy` with PyTorch names and its
/// JSON twin give identical margins, equal to numpy's own float64 computation.
#[test]
fn python_torch_fixture_and_json_twin_agree() {
    let net_st = io::read_net(&fixture("torch_net.safetensors")).unwrap();
    let net_js = io::read_net(&fixture("torch_net.json")).unwrap();
    assert_eq!(net_st, net_js);
    let data_st = io::read_data(&fixture("torch_data.safetensors")).unwrap();
    let data_js = io::read_data(&fixture("torch_data.json")).unwrap();
    assert_eq!(data_st, data_js);
    let q_st = net_st.margins(&data_st).unwrap();
    let q_js = net_js.margins(&data_js).unwrap();
    assert_eq!(q_st, q_js);
    for (a, b) in q_st.iter().zip(python_margins("torch")) {
        assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{a} vs numpy {b}");
    }
}

/// numpy.savez / savez_compressed files (f64 weights, int8 labels).
#[test]
fn numpy_npz_fixture_margins() {
    let net = io::read_net(&fixture("numpy_net.npz")).unwrap();
    let data = io::read_data(&fixture("numpy_data.npz")).unwrap();
    let q = net.margins(&data).unwrap();
    for (a, b) in q.iter().zip(python_margins("numpy")) {
        assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{a} vs numpy {b}");
    }
}

fn roundtrip_net(net: &Net, ext: &str, dtype: FileDtype) -> Net {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(format!("n.{ext}"));
    io::write_net(&p, net, dtype).unwrap();
    io::read_net(&p).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// write → read is exact for f64 in every format, and equals f32 rounding for f32.
    #[test]
    fn net_roundtrips(k in 1usize..6, d in 1usize..5, bias: bool, seed: u64) {
        let net = random_net(k, d, bias, seed);
        for ext in ["json", "safetensors", "npz"] {
            prop_assert_eq!(&roundtrip_net(&net, ext, FileDtype::F64), &net);
        }
        let f32net = {
            let (w, b, v) = net.clone().into_parts();
            let r = |x: f64| x as f32 as f64;
            Net::new(w.map(r), b.map(|b| b.map(r)), v.map(r)).unwrap()
        };
        for ext in ["safetensors", "npz"] {
            prop_assert_eq!(&roundtrip_net(&net, ext, FileDtype::F32), &f32net);
        }
    }

    #[test]
    fn data_roundtrips(m in 1usize..6, d in 1usize..5, seed: u64) {
        let data = Generator::Gaussian { variance: 3.0 }.generate(d, m, seed).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for ext in ["json", "safetensors", "npz"] {
            let p = dir.path().join(format!("d.{ext}"));
            io::write_data(&p, &data, FileDtype::F64).unwrap();
            prop_assert_eq!(&io::read_data(&p).unwrap(), &data);
        }
    }
}

/// Every finite f64: normal and subnormal, both signs, and ±0.
fn any_finite() -> impl Strategy<Value = f64> {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO
}

fn bits(xs: impl Iterator<Item = f64>) -> Vec<u64> {
    xs.map(f64::to_bits).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A network and a dataset written as JSON read back bit for bit, whatever their
    /// finite values (−0, subnormals, 17-digit decimals; serde_json's float_roundtrip).
    #[test]
    fn json_is_bit_identical(
        (k, d, bias, params) in (1usize..5, 1usize..5, any::<bool>())
            .prop_flat_map(|(k, d, bias)| (Just(k), Just(d), Just(bias), proptest::collection::vec(any_finite(), k * d + 2 * k))),
        xs in proptest::collection::vec(any_finite(), 12),
    ) {
        let (w, rest) = params.split_at(k * d);
        let (b, v) = rest.split_at(k);
        let net = Net::from_rows(d, w, bias.then_some(b), v).unwrap();
        let back = roundtrip_net(&net, "json", FileDtype::F64);
        prop_assert_eq!(bits(back.flatten().iter().copied()), bits(net.flatten().iter().copied()));
        let y: Vec<f64> = (0..4).map(|i| if xs[i] < 0.0 { -1.0 } else { 1.0 }).collect();
        let data = relucert::Dataset::from_rows(3, &xs, &y).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.json");
        io::write_data(&p, &data, FileDtype::F64).unwrap();
        let read = io::read_data(&p).unwrap();
        prop_assert_eq!(bits(read.x().iter().copied()), bits(data.x().iter().copied()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Readers never panic on arbitrary bytes, in any format.
    #[test]
    fn readers_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        for f in [FileFormat::Json, FileFormat::Safetensors, FileFormat::Npz] {
            let _ = io::parse_net("fuzz", f, &bytes);
            let _ = io::parse_data("fuzz", f, &bytes);
        }
    }

    /// …nor on valid files that were truncated or had bytes overwritten.
    #[test]
    fn readers_never_panic_on_damaged_files(cut in 0usize..2000, pos in 0usize..2000, val: u8, which in 0usize..4) {
        let names = ["torch_net.safetensors", "numpy_net.npz", "torch_net.json", "numpy_data.npz"];
        let name = names[which];
        let f = FileFormat::from_path(Path::new(name)).unwrap();
        let mut bytes = std::fs::read(fixture(name)).unwrap();
        if !bytes.is_empty() {
            let p = pos % bytes.len();
            bytes[p] = val;
        }
        bytes.truncate(cut.min(bytes.len()));
        let _ = io::parse_net(name, f, &bytes);
        let _ = io::parse_data(name, f, &bytes);
    }
}

fn write_tmp(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn safetensors_bytes(tensors: &[(&str, safetensors::Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, dt, s, b)| (n.to_string(), safetensors::tensor::TensorView::new(*dt, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize(views, None).unwrap()
}

fn f64b(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Expects an error whose one-line message names the file and contains `needle`.
fn expect_err<T: std::fmt::Debug>(r: Result<T, io::IoError>, path: &Path, needle: &str) -> IoProblem {
    let e = r.expect_err("bad input must be refused");
    let msg = e.to_string();
    assert!(!msg.contains('\n'), "one line: {msg}");
    assert!(msg.starts_with(&path.display().to_string()), "names the file: {msg}");
    assert!(msg.to_lowercase().contains(&needle.to_lowercase()), "{msg:?} should mention {needle:?}");
    e.problem
}

#[test]
fn bad_json_inputs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: &[(&str, &str, &str)] = &[
        ("trunc.json", r#"{"format":"relucert/net@1","d":2,"k":1,"bias":false,"w":[[1,2]"#, "invalid json"),
        ("ver.json", r#"{"format":"relucert/net@9","d":1,"k":1,"bias":false,"w":[[1]],"v":[1]}"#, "unknown format"),
        ("nofmt.json", r#"{"d":1,"k":1,"bias":false,"w":[[1]],"v":[1]}"#, "format"),
        ("shape.json", r#"{"format":"relucert/net@1","d":2,"k":1,"bias":false,"w":[[1]],"v":[1]}"#, "shape"),
        ("k.json", r#"{"format":"relucert/net@1","d":1,"k":2,"bias":false,"w":[[1]],"v":[1]}"#, "shape"),
        ("nan.json", r#"{"format":"relucert/net@1","d":1,"k":1,"bias":false,"w":[[NaN]],"v":[1]}"#, "invalid json"),
        ("inf.json", r#"{"format":"relucert/net@1","d":1,"k":1,"bias":false,"w":[[1e999]],"v":[1]}"#, "invalid json"),
        ("bias.json", r#"{"format":"relucert/net@1","d":1,"k":1,"bias":true,"w":[[1]],"v":[1]}"#, "bias"),
        ("empty.json", r#"{"format":"relucert/net@1","d":1,"k":0,"bias":false,"w":[],"v":[]}"#, "empty"),
    ];
    for (name, text, needle) in cases {
        let p = write_tmp(d, name, text.as_bytes());
        expect_err(io::read_net(&p), &p, needle);
    }
    let data_cases: &[(&str, &str, &str)] = &[
        ("label.json", r#"{"format":"relucert/data@1","d":1,"m":1,"x":[[1]],"y":[0]}"#, "label"),
        ("emptyd.json", r#"{"format":"relucert/data@1","d":1,"m":0,"x":[],"y":[]}"#, "empty"),
        ("netasdata.json", r#"{"format":"relucert/net@1","d":1,"k":1,"bias":false,"w":[[1]],"v":[1]}"#, "unknown format"),
        ("ylen.json", r#"{"format":"relucert/data@1","d":1,"m":2,"x":[[1],[2]],"y":[1]}"#, "shape"),
    ];
    for (name, text, needle) in data_cases {
        let p = write_tmp(d, name, text.as_bytes());
        expect_err(io::read_data(&p), &p, needle);
    }
    let p = d.join("missing.json");
    expect_err(io::read_net(&p), &p, "no such file");
    let p = write_tmp(d, "n.txt", b"");
    expect_err(io::read_net(&p), &p, "unknown file type");
}

#[test]
fn bad_tensor_inputs_are_refused() {
    use safetensors::Dtype as St;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = f64b(&[1.0, 2.0]);
    let one = f64b(&[1.0]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "second_bias.safetensors",
            safetensors_bytes(&[
                ("0.weight", St::F64, vec![1, 2], w.clone()),
                ("0.bias", St::F64, vec![1], one.clone()),
                ("2.weight", St::F64, vec![1, 1], one.clone()),
                ("2.bias", St::F64, vec![1], one.clone()),
            ]),
            "non-homogeneous",
        ),
        (
            "shape.safetensors",
            safetensors_bytes(&[("w", St::F64, vec![1, 2], w.clone()), ("v", St::F64, vec![2], f64b(&[1.0, 1.0]))]),
            "shape",
        ),
        (
            "dtype.safetensors",
            safetensors_bytes(&[("w", St::F16, vec![1, 2], vec![0, 60, 0, 60]), ("v", St::F64, vec![1], one.clone())]),
            "dtype",
        ),
        (
            "intw.safetensors",
            safetensors_bytes(&[("w", St::I64, vec![1, 1], one.clone()), ("v", St::F64, vec![1], one.clone())]),
            "dtype",
        ),
        (
            "nan.safetensors",
            safetensors_bytes(&[("w", St::F64, vec![1, 1], f64b(&[f64::NAN])), ("v", St::F64, vec![1], one.clone())]),
            "non-finite",
        ),
        ("missing.safetensors", safetensors_bytes(&[("w", St::F64, vec![1, 2], w.clone())]), "missing tensor"),
        ("truncated.safetensors", {
            let mut b = safetensors_bytes(&[("w", St::F64, vec![1, 2], w.clone()), ("v", St::F64, vec![1], one.clone())]);
            b.truncate(b.len() - 3);
            b
        }, "invalid safetensors"),
        ("huge.safetensors", {
            // A header that claims a tensor of 10^12 elements in a tiny file.
            let header = br#"{"w":{"dtype":"F64","shape":[1000000,1000000],"data_offsets":[0,8000000000000]},"v":{"dtype":"F64","shape":[1],"data_offsets":[8000000000000,8000000000008]}}"#;
            let mut b = (header.len() as u64).to_le_bytes().to_vec();
            b.extend_from_slice(header);
            b.extend_from_slice(&[0u8; 16]);
            b
        }, "invalid safetensors"),
    ];
    for (name, bytes, needle) in cases {
        let p = write_tmp(d, name, &bytes);
        expect_err(io::read_net(&p), &p, needle);
    }
    let label = write_tmp(
        d,
        "label.safetensors",
        &safetensors_bytes(&[("x", St::F64, vec![1, 1], one.clone()), ("y", St::F64, vec![1], f64b(&[2.0]))]),
    );
    expect_err(io::read_data(&label), &label, "label");
    let inf = write_tmp(
        d,
        "inf.safetensors",
        &safetensors_bytes(&[("x", St::F64, vec![1, 1], f64b(&[f64::INFINITY])), ("y", St::F64, vec![1], one.clone())]),
    );
    expect_err(io::read_data(&inf), &inf, "non-finite");
    let empty = write_tmp(
        d,
        "empty.safetensors",
        &safetensors_bytes(&[("x", St::F64, vec![0, 3], vec![]), ("y", St::F64, vec![0], vec![])]),
    );
    expect_err(io::read_data(&empty), &empty, "empty");
    // An npz whose array header claims far more data than the archive holds.
    let mut npz = std::fs::read(fixture("numpy_net.npz")).unwrap();
    let needle = b"(4, 5)";
    if let Some(pos) = npz.windows(needle.len()).position(|w| w == needle) {
        npz[pos..pos + needle.len()].copy_from_slice(b"(9, 9)");
    }
    let p = write_tmp(d, "claims.npz", &npz);
    assert!(io::read_net(&p).is_err());
}

/// A failed write leaves no file behind, and an existing file is replaced atomically.
#[test]
fn writes_are_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("no-such-dir").join("n.json");
    let net = random_net(2, 2, true, 1);
    assert!(io::write_net(&bad, &net, FileDtype::F64).is_err());
    assert!(!bad.exists());
    let p = dir.path().join("n.json");
    io::write_net(&p, &net, FileDtype::F64).unwrap();
    io::write_net(&p, &net.scaled(2.0), FileDtype::F64).unwrap();
    assert_eq!(io::read_net(&p).unwrap(), net.scaled(2.0));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().ends_with(".tmp")).collect();
    assert!(leftovers.is_empty());
}

#[test]
fn direction_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_tmp(dir.path(), "u.json", b"[1, 2, 3]");
    assert_eq!(io::read_vector(&p, 3).unwrap(), vec![1.0, 2.0, 3.0]);
    expect_err(io::read_vector(&p, 4), &p, "shape");
    let data = Generator::Sphere.generate(3, 1, 0).unwrap();
    let q = dir.path().join("u.npz");
    io::write_data(&q, &data, FileDtype::F64).unwrap();
    assert_eq!(io::read_vector(&q, 3).unwrap(), data.row(0));
}
