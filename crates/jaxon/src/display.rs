//! NumPy-style printing of arrays.

use crate::array::Array;
use oxla::DType;

const THRESHOLD: usize = 1000;
const EDGE_ITEMS: usize = 3;
const PRECISION: usize = 8;

/// Formats an f64 the way Python's `repr` does for floats (`1.0`, `0.1`, `1e-05`).
pub fn python_float_repr(v: f64) -> String {
    if v.is_nan() {
        return "nan".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        let s = format!("{v:e}");
        let (mant, exp) = s.split_once('e').expect("exponent");
        let exp: i32 = exp.parse().expect("exponent digits");
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    let s = format!("{v}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// The value of a 0-d (or one-element) concrete array as a jaxpr literal prints it.
pub fn scalar_repr(a: &Array) -> String {
    let lit = a.to_literal();
    let d = lit.data();
    match a.dtype() {
        DType::Bool => if d.get_i128(0) != 0 { "True" } else { "False" }.to_string(),
        t if t.is_float() => python_float_repr(shortest_f64(d, 0, t)),
        _ => d.get_i128(0).to_string(),
    }
}

/// The element as f64, rounded to the shortest decimal that round-trips in its dtype
/// (so f32 0.1 prints as 0.1, not 0.10000000149011612).
fn shortest_f64(d: &oxla::Data, i: usize, dtype: DType) -> f64 {
    let v = d.get_f64(i);
    match dtype {
        DType::F64 => v,
        DType::F32 => format!("{}", v as f32).parse().unwrap_or(v),
        // f16/bf16: at most 5 significant digits are meaningful.
        _ => format!("{:.4e}", v)
            .parse::<f64>()
            .map(|x| trim_sig(x, v, dtype))
            .unwrap_or(v),
    }
}

fn trim_sig(_rounded: f64, v: f64, dtype: DType) -> f64 {
    // The shortest precision whose decimal rounds back to the same half value.
    for p in 0..6 {
        let s = format!("{:.*e}", p, v);
        let x: f64 = s.parse().unwrap_or(v);
        let back = match dtype {
            DType::F16 => half::f16::from_f64(x).to_f64(),
            _ => half::bf16::from_f64(x).to_f64(),
        };
        if back == v {
            return x;
        }
    }
    v
}

/// Formats the elements of a float array with a shared style, like NumPy.
fn format_floats(vals: &[f64]) -> Vec<String> {
    let finite: Vec<f64> = vals.iter().copied().filter(|v| v.is_finite()).collect();
    let max_abs = finite.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let min_abs = finite
        .iter()
        .filter(|v| **v != 0.0)
        .fold(f64::INFINITY, |m, v| m.min(v.abs()));
    let scientific =
        max_abs >= 1e16 || (min_abs < 1e-4) || (min_abs.is_finite() && max_abs / min_abs > 1e3);
    if scientific && !finite.is_empty() {
        let digits = finite
            .iter()
            .map(|v| {
                let s = format!("{:.*e}", PRECISION, v);
                let (m, _) = s.split_once('e').expect("exponent");
                m.trim_end_matches('0')
                    .split('.')
                    .nth(1)
                    .map_or(0, str::len)
            })
            .max()
            .unwrap_or(0);
        return vals
            .iter()
            .map(|v| {
                if !v.is_finite() {
                    return special(*v);
                }
                let s = format!("{:.*e}", digits, v);
                let (m, e) = s.split_once('e').expect("exponent");
                let e: i32 = e.parse().expect("exponent digits");
                let m = if digits == 0 {
                    format!("{m}.")
                } else {
                    m.to_string()
                };
                format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
            })
            .collect();
    }
    let frac_digits = |v: f64| -> usize {
        let s = format!("{:.*}", PRECISION, v);
        s.trim_end_matches('0')
            .split('.')
            .nth(1)
            .map_or(0, str::len)
    };
    let digits = finite.iter().map(|&v| frac_digits(v)).max().unwrap_or(0);
    vals.iter()
        .map(|&v| {
            if !v.is_finite() {
                return special(v);
            }
            let s = format!("{:.*}", digits, v);
            let own = frac_digits(v);
            // NumPy pads unused fractional digits with spaces: `1.  2.5`.
            let s = if digits == 0 {
                format!("{s}.")
            } else {
                let keep = s.len() - (digits - own);
                let mut t = s[..keep].to_string();
                if own == 0 {
                    t.pop();
                    t.push('.');
                    if t.ends_with("..") {
                        t.pop();
                    }
                }
                format!("{t}{}", " ".repeat(digits - own))
            };
            s
        })
        .collect()
}

fn special(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v > 0.0 {
        "inf".into()
    } else {
        "-inf".into()
    }
}

/// The array's values formatted like `str(np.asarray(x))`.
pub fn array_str(a: &Array) -> String {
    let lit = a.to_literal();
    let d = lit.data();
    let n = lit.num_elements();
    let dtype = a.dtype();
    let shape = a.shape().to_vec();
    let summarize = n > THRESHOLD;
    let shown: Vec<usize> = visible_indices(&shape, summarize);
    let texts: Vec<String> = match dtype {
        DType::Bool => shown
            .iter()
            .map(|&i| {
                if d.get_i128(i) != 0 {
                    "True".into()
                } else {
                    "False".into()
                }
            })
            .collect(),
        t if t.is_float() => {
            let vals: Vec<f64> = shown.iter().map(|&i| shortest_f64(d, i, t)).collect();
            format_floats(&vals)
        }
        _ => shown.iter().map(|&i| d.get_i128(i).to_string()).collect(),
    };
    let width = texts.iter().map(String::len).max().unwrap_or(0);
    let mut padded = texts.into_iter().map(|t| format!("{t:>width$}"));
    if shape.is_empty() {
        return padded.next().unwrap_or_default().trim().to_string();
    }
    let mut out = String::new();
    write_nested(&mut out, &shape, 0, summarize, &mut padded);
    out
}

/// Flat indices of the elements shown (all, or the edges when summarizing).
fn visible_indices(shape: &[usize], summarize: bool) -> Vec<usize> {
    let strides = oxla::strides_of(shape);
    let mut out = Vec::new();
    fn rec(
        shape: &[usize],
        strides: &[usize],
        dim: usize,
        base: usize,
        summarize: bool,
        out: &mut Vec<usize>,
    ) {
        if dim == shape.len() {
            out.push(base);
            return;
        }
        for i in axis_items(shape[dim], summarize).into_iter().flatten() {
            rec(
                shape,
                strides,
                dim + 1,
                base + i * strides[dim],
                summarize,
                out,
            );
        }
    }
    rec(shape, &strides, 0, 0, summarize, &mut out);
    out
}

/// The indices shown along one axis; `None` marks the `...` gap.
fn axis_items(n: usize, summarize: bool) -> Vec<Option<usize>> {
    if summarize && n > 2 * EDGE_ITEMS {
        let mut v: Vec<Option<usize>> = (0..EDGE_ITEMS).map(Some).collect();
        v.push(None);
        v.extend((n - EDGE_ITEMS..n).map(Some));
        v
    } else {
        (0..n).map(Some).collect()
    }
}

fn write_nested(
    out: &mut String,
    shape: &[usize],
    dim: usize,
    summarize: bool,
    items: &mut impl Iterator<Item = String>,
) {
    out.push('[');
    let rank = shape.len();
    let entries = axis_items(shape[dim], summarize);
    for (k, e) in entries.iter().enumerate() {
        if k > 0 {
            if dim + 1 == rank {
                out.push(' ');
            } else {
                out.push_str(&"\n".repeat(rank - dim - 1));
                out.push_str(&" ".repeat(dim + 1));
            }
        }
        match e {
            None => out.push_str("..."),
            Some(_) if dim + 1 == rank => out.push_str(&items.next().unwrap_or_default()),
            Some(_) => write_nested(out, shape, dim + 1, summarize, items),
        }
    }
    out.push(']');
}
