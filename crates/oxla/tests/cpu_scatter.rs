//! Scatter on the CPU backend (in place into an operand that dies there, a copy of
//! one that does not) against the interpreter, bit for bit: rows and single
//! elements, duplicate indices (combined in update order), windows partly out of
//! bounds (skipped), add / max / overwrite bodies, f32 and i32.

mod common;

use common::{lit, Rng};
use oxla::backend::interp::evaluate;
use oxla::{BinaryOp, Builder, Client, DType, Literal, Module, Op, ScatterDims, Shape};

/// `scatter(base, indices, updates)` where `base` is the parameter itself
/// (`in_place == false`: the caller still holds it) or `base * 1 + 0`-style kernel
/// output that dies at the scatter (`in_place == true`). `rows`: updates are whole
/// rows of a [n, w] operand; else single elements of a [n] operand.
fn module(
    dtype: DType,
    (n, w, k): (usize, usize, usize),
    rows: bool,
    body_op: Option<BinaryOp>,
    in_place: bool,
) -> Module {
    let operand = if rows {
        Shape::new(dtype, [n, w])
    } else {
        Shape::new(dtype, [n])
    };
    let updates = if rows {
        Shape::new(dtype, [k, w])
    } else {
        Shape::new(dtype, [k])
    };
    let mut b = Builder::new("scatter");
    let x = b.parameter(operand.clone());
    let i = b.parameter(Shape::new(DType::I32, [k, 1]));
    let u = b.parameter(updates);
    let base = if in_place {
        // A kernel output only the scatter reads.
        b.binary(BinaryOp::Add, x, x)
    } else {
        x
    };
    let body = match body_op {
        Some(op) => b.scalar_binary_region(op, dtype),
        None => {
            let s = Shape::scalar(dtype);
            b.region("overwrite", &[s.clone(), s], |_, p| vec![p[1]])
        }
    };
    let dims = ScatterDims {
        update_window_dims: if rows { vec![1] } else { vec![] },
        inserted_window_dims: vec![0],
        input_batching_dims: vec![],
        scatter_indices_batching_dims: vec![],
        scatter_dims_to_operand_dims: vec![0],
    };
    let r = b.add(
        Op::Scatter {
            dims,
            body,
            indices_are_sorted: false,
            unique_indices: false,
        },
        &[base, i, u],
    );
    // The parameter is also a result when not scattered in place, so it must stay
    // intact.
    if in_place {
        b.finish(&[r])
    } else {
        b.finish(&[r, x])
    }
}

#[test]
fn scatters_match_the_interpreter_in_place_or_copied() {
    let mut rng = Rng::new(0x5c);
    for dtype in [DType::F32, DType::I32] {
        for rows in [true, false] {
            for body in [Some(BinaryOp::Add), Some(BinaryOp::Max), None] {
                for in_place in [true, false] {
                    let (n, w, k) = (9, 5, 30);
                    let m = module(dtype, (n, w, k), rows, body, in_place);
                    let x_len = if rows { n * w } else { n };
                    let u_len = if rows { k * w } else { k };
                    let value = |rng: &mut Rng| rng.int(-8, 8) as f64 * 0.75;
                    let xv: Vec<f64> = (0..x_len).map(|_| value(&mut rng)).collect();
                    let uv: Vec<f64> = (0..u_len).map(|_| value(&mut rng)).collect();
                    // Duplicates, and indices out of bounds (-2, n, n + 3): skipped.
                    let iv: Vec<i32> = (0..k).map(|_| rng.int(-2, n as i64 + 3) as i32).collect();
                    let x_dims = if rows { vec![n, w] } else { vec![n] };
                    let u_dims = if rows { vec![k, w] } else { vec![k] };
                    let args = [
                        lit(dtype, &x_dims, &xv),
                        Literal::from_vec(&[k, 1], iv),
                        lit(dtype, &u_dims, &uv),
                    ];
                    let want = evaluate(&m, &args).expect("interpreter");
                    let client = Client::cpu();
                    let exe = client.compile(m).expect("compile");
                    let bufs: Vec<_> = args
                        .iter()
                        .map(|a| client.buffer_from_literal(a.clone()))
                        .collect();
                    let refs: Vec<_> = bufs.iter().collect();
                    let got = exe.execute(&refs).expect("run");
                    let what = format!("{dtype:?} rows {rows} body {body:?} in place {in_place}");
                    assert_eq!(got.len(), want.len(), "{what}");
                    for (g, w) in got.iter().zip(&want) {
                        assert_eq!(g.literal().data().to_bytes(), w.data().to_bytes(), "{what}");
                    }
                    // The caller's operand is untouched.
                    assert_eq!(
                        bufs[0].to_literal().data().to_bytes(),
                        args[0].data().to_bytes()
                    );
                }
            }
        }
    }
}
