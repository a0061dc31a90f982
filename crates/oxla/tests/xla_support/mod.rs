//! Runs StableHLO text in real XLA through `tools/run_stablehlo.py` (jaxlib's
//! parser and CPU compiler) and compares results. The python interpreter is
//! `$JAXON_PYTHON` if set, else `python3`; without jax a test prints a visible
//! `SKIPPED` message and passes. Shared by oxla's and jaxon's export tests.
#![allow(dead_code)]

use oxla::{DType, Data, Literal, Shape};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// What real XLA returned for one module: its outputs or its error message.
pub type XlaResult = Result<Vec<Literal>, String>;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/run_stablehlo.py")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex digit"))
        .collect()
}

/// `{"dtype": "float32", "shape": [2, 3], "hex": "..."}`.
fn literal_json(l: &Literal) -> String {
    let dims: Vec<String> = l.dims().iter().map(|d| d.to_string()).collect();
    format!(
        "{{\"dtype\": \"{}\", \"shape\": [{}], \"hex\": \"{}\"}}",
        l.dtype().numpy_name(),
        dims.join(", "),
        hex(&l.data().to_bytes())
    )
}

/// The text between `"key": ` and the next `end` in `s`.
fn field<'a>(s: &'a str, key: &str, end: char) -> &'a str {
    let start = s
        .find(&format!("\"{key}\": "))
        .unwrap_or_else(|| panic!("no {key} in {s}"))
        + key.len()
        + 4;
    let rest = &s[start..];
    &rest[..rest[1..].find(end).expect("field end") + 1]
}

/// Parses the script's `{"outputs": [...]}` / `{"error": ...}` line.
fn parse_line(line: &str) -> XlaResult {
    if line.starts_with("{\"error\"") {
        return Err(line.to_string());
    }
    let mut outs = Vec::new();
    for obj in line.split("{\"dtype\"").skip(1) {
        let obj = format!("{{\"dtype\"{obj}");
        let name = field(&obj, "dtype", '"').trim_matches('"');
        let dtype = DType::from_name(name).unwrap_or_else(|| panic!("unknown dtype {name}"));
        let shape = field(&obj, "shape", ']');
        let dims: Vec<usize> = shape
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().parse().expect("dim"))
            .collect();
        let bytes = unhex(field(&obj, "hex", '"').trim_matches('"'));
        outs.push(Literal::new(
            Shape::new(dtype, dims),
            Data::from_bytes(dtype, &bytes),
        ));
    }
    Ok(outs)
}

/// Compiles and runs every `(text, args)` case in one python process. `None` (after
/// printing `SKIPPED: ...`) when jax is not available.
pub fn run_in_xla(test: &str, cases: &[(String, Vec<Literal>)]) -> Option<Vec<XlaResult>> {
    let python = std::env::var("JAXON_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let skip = |why: String| {
        eprintln!(
            "SKIPPED: jax not installed (set JAXON_PYTHON to a python with jax): {test}: {why}"
        );
        None
    };
    let dir = std::env::temp_dir().join(format!("oxla-stablehlo-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut paths = Vec::new();
    for (i, (text, args)) in cases.iter().enumerate() {
        let module = dir.join(format!("case{i}.mlir"));
        let inputs = dir.join(format!("case{i}.json"));
        std::fs::write(&module, text).expect("write module");
        let json: Vec<String> = args.iter().map(literal_json).collect();
        std::fs::write(&inputs, format!("[{}]", json.join(", "))).expect("write args");
        paths.push(module);
        paths.push(inputs);
    }
    let start = Instant::now();
    let out = Command::new(&python).arg(script()).args(&paths).output();
    let _ = std::fs::remove_dir_all(&dir);
    let out = match out {
        Ok(o) => o,
        Err(e) => return skip(format!("cannot run {python}: {e}")),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) {
        return skip(stderr.trim().to_string());
    }
    assert!(
        out.status.success(),
        "{} failed: {stderr}",
        script().display()
    );
    eprintln!(
        "{test}: {} modules through real XLA in {:.2}s",
        cases.len(),
        start.elapsed().as_secs_f64()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let results: Vec<XlaResult> = stdout.lines().map(parse_line).collect();
    assert_eq!(results.len(), cases.len(), "one result per case: {stdout}");
    Some(results)
}

/// Whether two literals agree: same shape, integers and bools exactly, floats
/// within `rtol` relative (plus `rtol` absolute near zero), NaN matching NaN.
pub fn compare(got: &Literal, want: &Literal, rtol: f64) -> Result<(), String> {
    if got.shape() != want.shape() {
        return Err(format!(
            "shape {} but expected {}",
            got.shape(),
            want.shape()
        ));
    }
    if !want.dtype().is_float() {
        if got.data().to_bytes() != want.data().to_bytes() {
            return Err(format!("got {:?}, expected {:?}", got.data(), want.data()));
        }
        return Ok(());
    }
    for i in 0..want.num_elements() {
        let (g, w) = (got.data().get_f64(i), want.data().get_f64(i));
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= rtol * w.abs().max(1.0)
        };
        if !ok {
            return Err(format!("element {i}: XLA gave {g}, expected {w}"));
        }
    }
    Ok(())
}

/// Panics with `what` unless [`compare`] accepts the pair.
pub fn assert_matches(got: &Literal, want: &Literal, rtol: f64, what: &str) {
    if let Err(e) = compare(got, want, rtol) {
        panic!("{what}: {e}");
    }
}
