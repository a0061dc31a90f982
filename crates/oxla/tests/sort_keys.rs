//! Sorts whose comparator orders by keys run as a stable sort by integer keys;
//! here every recognized comparator form is checked against the general path (the
//! same comparator hidden behind `and(.., true)`, which runs the reference merge
//! sort evaluating the region per comparison): identical values and permutations,
//! on data full of ties, signed zeros, NaNs of both signs and payloads, infinities
//! and subnormals. The recognition itself is asserted, and comparators that must
//! not be recognized (IEEE partial float compares) are checked to fall back.

mod common;

use common::{lit, lit_i, run_cpu, Rng, FLOATS};
use oxla::backend::interp::{evaluate, sort_comparator_has_keys};
use oxla::{BinaryOp, Builder, CmpDir, DType, Literal, Op, Shape, Value};

/// A comparator body: params `(a_0, b_0, a_1, b_1, ...)` to "a goes first".
type Body = fn(&mut Builder, &[Value]) -> Value;

fn compare(b: &mut Builder, dir: CmpDir, total: bool, x: Value, y: Value) -> Value {
    b.add(
        Op::Compare {
            dir,
            total_order: total,
        },
        &[x, y],
    )
}

/// -0.0 -> 0.0 and every NaN -> one NaN (jaxon's and JAX's sort comparator).
fn canonical(b: &mut Builder, x: Value) -> Value {
    let dtype = b.shape(x).dtype;
    if !dtype.is_float() {
        return x;
    }
    let zero = b.constant_f64(dtype, 0.0);
    let nan = b.constant_f64(dtype, f64::NAN);
    let is_zero = b.compare(CmpDir::Eq, x, zero);
    let x = b.select(is_zero, zero, x);
    let is_nan = b.compare(CmpDir::Ne, x, x);
    b.select(is_nan, nan, x)
}

fn canonical_lt(b: &mut Builder, p: &[Value]) -> Value {
    let (x, y) = (canonical(b, p[0]), canonical(b, p[1]));
    compare(b, CmpDir::Lt, true, x, y)
}

fn canonical_gt_swapped(b: &mut Builder, p: &[Value]) -> Value {
    // b > a: ascending, written the other way round.
    let (x, y) = (canonical(b, p[0]), canonical(b, p[1]));
    compare(b, CmpDir::Gt, true, y, x)
}

fn canonical_descending(b: &mut Builder, p: &[Value]) -> Value {
    let (x, y) = (canonical(b, p[0]), canonical(b, p[1]));
    compare(b, CmpDir::Gt, true, x, y)
}

fn total_lt(b: &mut Builder, p: &[Value]) -> Value {
    compare(b, CmpDir::Lt, true, p[0], p[1])
}

fn total_lt_swapped(b: &mut Builder, p: &[Value]) -> Value {
    // b < a: descending.
    compare(b, CmpDir::Lt, true, p[1], p[0])
}

/// Two keys, lexicographically: operand 0 (canonicalized), then operand 1.
fn two_keys(b: &mut Builder, p: &[Value]) -> Value {
    let (x0, y0) = (canonical(b, p[0]), canonical(b, p[1]));
    let (x1, y1) = (canonical(b, p[2]), canonical(b, p[3]));
    let lt1 = compare(b, CmpDir::Lt, true, x1, y1);
    let lt0 = compare(b, CmpDir::Lt, true, x0, y0);
    let eq0 = compare(b, CmpDir::Eq, true, x0, y0);
    let tie = b.binary(BinaryOp::And, eq0, lt1);
    b.binary(BinaryOp::Or, lt0, tie)
}

/// An IEEE (partial) compare on floats: NaN pairs are inconsistent, so it must
/// keep the general path.
fn partial_lt(b: &mut Builder, p: &[Value]) -> Value {
    compare(b, CmpDir::Lt, false, p[0], p[1])
}

/// Sorts `xs` along `dim` with `body`, recognizably or hidden; returns the module's
/// results (from the interpreter) and whether the comparator was recognized.
fn sort(xs: &[Literal], dim: usize, body: Body, hidden: bool) -> (Vec<Literal>, bool) {
    let mut b = Builder::new("sort");
    let ps: Vec<_> = xs.iter().map(|x| b.parameter(x.shape().clone())).collect();
    let params: Vec<Shape> = xs
        .iter()
        .flat_map(|x| [Shape::scalar(x.dtype()), Shape::scalar(x.dtype())])
        .collect();
    let region = b.region("cmp", &params, |b, p| {
        let v = body(b, p);
        if hidden {
            let t = b.constant(Literal::scalar(true));
            vec![b.binary(BinaryOp::And, v, t)]
        } else {
            vec![v]
        }
    });
    let r = b.add_multi(
        Op::Sort {
            dim,
            is_stable: true,
            body: region,
        },
        &ps,
    );
    let module = b.finish(&r);
    let refs: Vec<&Literal> = xs.iter().collect();
    let recognized = sort_comparator_has_keys(&module, region, &refs);
    let out = evaluate(&module, xs).expect("sort evaluates");
    // The CPU backend runs the same code: same results.
    for (c, o) in run_cpu(module, xs).iter().zip(&out) {
        assert_eq!(
            c.data().to_bytes(),
            o.data().to_bytes(),
            "cpu vs interpreter"
        );
    }
    (out, recognized)
}

/// Float data full of ties and special values (as f64, rounded by `lit`).
fn special_floats(rng: &mut Rng, n: usize) -> Vec<f64> {
    let specials = [
        0.0,
        -0.0,
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7ff8_0000_0000_1234),
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e-40,
        -1e-310,
        1.0,
        -1.0,
        2.5,
    ];
    (0..n)
        .map(|_| {
            if rng.int(0, 2) == 0 {
                specials[rng.int(0, specials.len() as i64 - 1) as usize]
            } else {
                rng.int(-4, 4) as f64 * 0.5
            }
        })
        .collect()
}

fn bits(ls: &[Literal]) -> Vec<Vec<u8>> {
    ls.iter().map(|l| l.data().to_bytes()).collect()
}

#[test]
fn recognized_float_comparators_match_the_merge_sort() {
    let mut rng = Rng::new(0x50);
    let forms: [(&str, Body); 5] = [
        ("canonical <", canonical_lt),
        ("canonical > swapped", canonical_gt_swapped),
        ("canonical descending", canonical_descending),
        ("total <", total_lt),
        ("total < swapped", total_lt_swapped),
    ];
    for dtype in FLOATS {
        for (name, body) in forms {
            for (dims, dim) in [(vec![300], 0), (vec![7, 40], 1), (vec![40, 7], 0)] {
                let n: usize = dims.iter().product();
                let x = lit(dtype, &dims, &special_floats(&mut rng, n));
                let tag = Literal::from_vec(&dims, (0..n as i32).collect::<Vec<_>>());
                let args = [x, tag];
                let (fast, recognized) = sort(&args, dim, body, false);
                let (slow, hidden) = sort(&args, dim, body, true);
                assert!(recognized, "{name} {dtype} not recognized");
                assert!(!hidden, "{name} {dtype}: the hidden form was recognized");
                assert_eq!(
                    bits(&fast),
                    bits(&slow),
                    "{name} {dtype} {dims:?} dim {dim}"
                );
            }
        }
    }
}

#[test]
fn recognized_integer_and_two_key_comparators_match_the_merge_sort() {
    let mut rng = Rng::new(0x51);
    let extremes: [(DType, i128, i128); 6] = [
        (DType::I8, -128, 127),
        (DType::U8, 0, 255),
        (DType::I32, i32::MIN as i128, i32::MAX as i128),
        (DType::U32, 0, u32::MAX as i128),
        (DType::I64, i64::MIN as i128, i64::MAX as i128),
        (DType::U64, 0, u64::MAX as i128),
    ];
    for (dtype, lo, hi) in extremes {
        let vals: Vec<i128> = (0..200)
            .map(|_| match rng.int(0, 3) {
                0 => lo,
                1 => hi,
                _ => rng.int(-3, 3) as i128 + if lo == 0 { 3 } else { 0 },
            })
            .collect();
        let x = lit_i(dtype, &[200], &vals);
        let tag = Literal::from_vec(&[200], (0..200).collect::<Vec<i32>>());
        for body in [total_lt as Body, total_lt_swapped, partial_lt] {
            let args = [x.clone(), tag.clone()];
            let (fast, recognized) = sort(&args, 0, body, false);
            let (slow, _) = sort(&args, 0, body, true);
            // Integers order the same in every compare mode.
            assert!(recognized, "{dtype}");
            assert_eq!(bits(&fast), bits(&slow), "{dtype}");
        }
    }
    // Two keys: a float with many ties, then an integer.
    for dtype in FLOATS {
        let k0 = lit(dtype, &[250], &special_floats(&mut rng, 250));
        let k1v: Vec<i128> = (0..250).map(|_| rng.int(-2, 2) as i128).collect();
        let k1 = lit_i(DType::I32, &[250], &k1v);
        let tag = Literal::from_vec(&[250], (0..250).collect::<Vec<i32>>());
        let args = [k0, k1, tag];
        let (fast, recognized) = sort(&args, 0, two_keys, false);
        let (slow, _) = sort(&args, 0, two_keys, true);
        assert!(recognized, "two keys {dtype}");
        assert_eq!(bits(&fast), bits(&slow), "two keys {dtype}");
    }
}

#[test]
fn partial_float_compares_keep_the_general_path() {
    let mut rng = Rng::new(0x52);
    for dtype in FLOATS {
        let x = lit(dtype, &[100], &special_floats(&mut rng, 100));
        let tag = Literal::from_vec(&[100], (0..100).collect::<Vec<i32>>());
        let (_, recognized) = sort(&[x, tag], 0, partial_lt, false);
        assert!(
            !recognized,
            "{dtype}: an IEEE float compare must not be recognized"
        );
    }
}
