//! Loading and comparing the JAX golden fixtures in `tests/golden/*.json`
//! (made by `tools/gen_golden.py`; each file documents its format in `"doc"`).

#![allow(dead_code)]

use jaxon::numpy::Operand;
use jaxon::{Array, DType};
use oxla::Literal;
use serde_json::{Map, Value};

/// One golden case.
pub struct Case {
    pub name: String,
    pub fn_: String,
    pub x64: bool,
    pub args: Vec<Value>,
    pub kwargs: Map<String, Value>,
    /// The expected outputs (a single ARRAY becomes a one-element list).
    pub out: Vec<Value>,
    pub error: Option<String>,
}

/// Reads every case of one fixture file.
pub fn load(file: &str) -> Vec<Case> {
    let path = format!("{}/../../tests/golden/{}", env!("CARGO_MANIFEST_DIR"), file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let root: Value = serde_json::from_str(&text).expect("valid JSON");
    root["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().expect("name").to_string(),
            fn_: c["fn"].as_str().expect("fn").to_string(),
            x64: c["x64"].as_bool().unwrap_or(false),
            args: c["args"].as_array().cloned().unwrap_or_default(),
            kwargs: c["kwargs"].as_object().cloned().unwrap_or_default(),
            out: match &c["out"] {
                Value::Array(v) => v.clone(),
                Value::Null => vec![],
                v => vec![v.clone()],
            },
            error: c["error"].as_str().map(str::to_string),
        })
        .collect()
}

pub fn dtype(name: &str) -> DType {
    DType::from_name(name).unwrap_or_else(|| panic!("unknown dtype {name}"))
}

/// A JSON number or "nan"/"inf"/"-inf" string as f64.
pub fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) => match s.as_str() {
            "nan" => f64::NAN,
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            _ => panic!("bad number {s}"),
        },
        Value::Bool(b) => *b as u8 as f64,
        v => v.as_f64().expect("number"),
    }
}

/// A JSON integer or bool as i128 (exact for int64/uint64).
pub fn int(v: &Value) -> i128 {
    match v {
        Value::Bool(b) => *b as i128,
        v => v
            .as_i64()
            .map(i128::from)
            .or_else(|| v.as_u64().map(i128::from))
            .unwrap_or_else(|| panic!("not an integer: {v}")),
    }
}

/// An ARRAY object as a (strongly typed) jaxon array.
pub fn array(v: &Value) -> Array {
    let dt = dtype(v["dtype"].as_str().expect("dtype"));
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|d| d.as_u64().expect("dim") as usize)
        .collect();
    let data = v["data"].as_array().expect("data");
    // 64-bit integers are built from exact integer vectors; everything else is
    // exactly representable in f64.
    let lit = match dt {
        DType::I64 => Literal::from_vec(&shape, data.iter().map(|x| int(x) as i64).collect()),
        DType::U64 => Literal::from_vec(&shape, data.iter().map(|x| int(x) as u64).collect()),
        _ => Literal::from_vec(&shape, data.iter().map(num).collect::<Vec<f64>>()).convert(dt),
    };
    Array::from_literal(lit, false)
}

/// A positional argument.
#[derive(Clone, Debug)]
pub enum Arg {
    A(Array),
    S(Operand),
    Str(String),
    List(Vec<Arg>),
    None,
}

impl Arg {
    pub fn parse(v: &Value) -> Arg {
        match v {
            Value::Null => Arg::None,
            Value::String(s) => Arg::Str(s.clone()),
            Value::Array(items) => Arg::List(items.iter().map(Arg::parse).collect()),
            Value::Object(o) if o.contains_key("scalar") => Arg::S(scalar(&o["scalar"])),
            Value::Object(_) => Arg::A(array(v)),
            _ => panic!("bad arg {v}"),
        }
    }

    /// The argument as a numpy operand (weak scalars stay weak).
    pub fn op(&self) -> Operand {
        match self {
            Arg::A(a) => Operand::Array(a.clone()),
            Arg::S(s) => s.clone(),
            other => panic!("not an operand: {other:?}"),
        }
    }

    pub fn arr(&self) -> Array {
        use jaxon::numpy::ArrayLike;
        self.op().to_array()
    }

    pub fn arrays(&self) -> Vec<Array> {
        match self {
            Arg::List(v) => v.iter().map(Arg::arr).collect(),
            other => panic!("not a list: {other:?}"),
        }
    }
}

/// A weak Python scalar: JSON ints are Python ints, other numbers Python floats.
pub fn scalar(v: &Value) -> Operand {
    match v {
        Value::Bool(b) => Operand::Bool(*b),
        Value::Number(n) if n.is_i64() || n.is_u64() => Operand::Int(int(v)),
        v => Operand::Float(num(v)),
    }
}

/// Tolerance for float comparisons: `None` means bit-exact (including the sign of zero).
#[derive(Clone, Copy, Debug)]
pub struct Tol {
    pub rtol: f64,
    pub atol: f64,
}

/// The tolerance for an inexact op at `dt`: a few ulps of the dtype.
pub fn approx(dt: DType) -> Tol {
    match dt {
        DType::F64 => Tol {
            rtol: 1e-13,
            atol: 1e-14,
        },
        DType::F32 => Tol {
            rtol: 2e-6,
            atol: 1e-6,
        },
        // 2 ulps of a 10-bit / 7-bit mantissa.
        DType::F16 => Tol {
            rtol: 2e-3,
            atol: 1e-3,
        },
        _ => Tol {
            rtol: 1.6e-2,
            atol: 1e-2,
        },
    }
}

fn float_eq(g: f64, w: f64, tol: Option<Tol>) -> bool {
    if g.is_nan() || w.is_nan() {
        return g.is_nan() && w.is_nan();
    }
    if g == w {
        // Exact ops: the sign of zero matters too.
        return tol.is_some() || g != 0.0 || g.is_sign_negative() == w.is_sign_negative();
    }
    match tol {
        Some(t) if g.is_finite() && w.is_finite() => (g - w).abs() <= t.atol + t.rtol * w.abs(),
        _ => false,
    }
}

/// Compares `got` with the expected ARRAY; `None` if they agree, else a description.
pub fn compare(got: &Array, want: &Value, tol: Option<Tol>, check_weak: bool) -> Option<String> {
    let wdt = dtype(want["dtype"].as_str().expect("dtype"));
    let wshape: Vec<usize> = want["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|d| d.as_u64().expect("dim") as usize)
        .collect();
    let wweak = want["weak_type"].as_bool().unwrap_or(false);
    if got.dtype() != wdt || got.shape() != wshape.as_slice() {
        return Some(format!(
            "got {}{:?} want {}{:?}",
            got.dtype(),
            got.shape(),
            wdt,
            wshape
        ));
    }
    if check_weak && got.weak_type() != wweak {
        return Some(format!("got weak_type={} want {}", got.weak_type(), wweak));
    }
    let lit = got.to_literal();
    let data = want["data"].as_array().expect("data");
    // The expected floats rounded to their dtype: serde_json's default float parsing
    // is not always correctly rounded, so the last f64 bit of a long decimal may be off.
    let wfloat = if wdt.is_float() {
        let v: Vec<f64> = data.iter().map(num).collect();
        Literal::from_vec(&[v.len()], v)
            .convert(wdt)
            .convert(DType::F64)
    } else {
        Literal::from_vec(&[0], Vec::<f64>::new())
    };
    let mut bad = vec![];
    for (i, w) in data.iter().enumerate() {
        let ok = if wdt.is_float() {
            float_eq(lit.data().get_f64(i), wfloat.data().get_f64(i), tol)
        } else {
            lit.data().get_i128(i) == int(w)
        };
        if !ok {
            bad.push(i);
        }
    }
    if bad.is_empty() {
        return None;
    }
    let show = |i: usize| {
        if wdt.is_float() {
            format!("[{i}] got {:e} want {}", lit.data().get_f64(i), data[i])
        } else {
            format!("[{i}] got {} want {}", lit.data().get_i128(i), data[i])
        }
    };
    Some(format!(
        "{} of {} elements differ: {}",
        bad.len(),
        data.len(),
        bad.iter()
            .take(4)
            .map(|&i| show(i))
            .collect::<Vec<_>>()
            .join("; ")
    ))
}

/// A string field of every case of a fixture file, by case name (for fields the
/// shared loader does not read, such as `"transform"`).
pub fn string_field(file: &str, field: &str) -> std::collections::HashMap<String, String> {
    let path = format!("{}/../../tests/golden/{}", env!("CARGO_MANIFEST_DIR"), file);
    let root: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("valid JSON");
    root["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            let name = c["name"].as_str().expect("name").to_string();
            (name, c[field].as_str().expect(field).to_string())
        })
        .collect()
}
