//! Random programs through the default pipeline: elementwise ops with identity and
//! absorbing constants, duplicated work, transpose/reshape/convert round trips,
//! selects and dead values; the optimized module must give bit-identical results
//! (signed zeros, infinities and NaNs included) and never grow.

mod passes_support;

use oxla::passes::optimize;
use oxla::{BinaryOp, Builder, CmpDir, DType, Literal, Module, Shape, UnaryOp, Value};
use passes_support::*;

/// One random program over values of `dtype[2,3]`.
fn random_program(rng: &mut Rng, dtype: DType) -> Module {
    let dims = [2usize, 3];
    let s = Shape::new(dtype, dims);
    let mut b = Builder::new("random");
    let mut vals: Vec<Value> = (0..2).map(|_| b.parameter(s.clone())).collect();
    let specials = [0.0, -0.0, 1.0, 2.0, -1.0, f64::INFINITY, f64::NAN];
    for _ in 0..(6 + rng.below(10)) {
        let pick = |rng: &mut Rng, vals: &[Value]| vals[rng.below(vals.len() as u64) as usize];
        let x = pick(rng, &vals);
        let y = pick(rng, &vals);
        let v = match rng.below(9) {
            0 => {
                let c = specials[rng.below(specials.len() as u64) as usize];
                let c = b.constant(Literal::scalar_f64(dtype, c));
                b.broadcast_in_dim(c, &dims, &[])
            }
            1 | 2 => {
                let ops = [
                    BinaryOp::Add,
                    BinaryOp::Sub,
                    BinaryOp::Mul,
                    BinaryOp::Div,
                    BinaryOp::Max,
                    BinaryOp::Min,
                ];
                b.binary(ops[rng.below(ops.len() as u64) as usize], x, y)
            }
            3 => b.unary([UnaryOp::Neg, UnaryOp::Abs][rng.below(2) as usize], x),
            4 => {
                let t = b.transpose(x, &[1, 0]);
                b.transpose(t, &[1, 0])
            }
            5 => {
                let r = b.reshape(x, &[6]);
                let r = b.reshape(r, &[3, 2]);
                b.reshape(r, &[2, 3])
            }
            6 => {
                let wide = if dtype.is_float() {
                    DType::F64
                } else {
                    DType::I64
                };
                let w = b.convert(x, wide);
                b.convert(w, dtype)
            }
            7 => {
                let p = b.compare(CmpDir::Lt, x, y);
                b.select(p, x, y)
            }
            // The same op again: work for CSE.
            _ => {
                let last = *vals.last().expect("values");
                b.binary(BinaryOp::Add, last, x)
            }
        };
        vals.push(v);
    }
    let n = vals.len();
    let results = [
        vals[n - 1],
        vals[n - 2],
        vals[2 + rng.below(n as u64 - 2) as usize],
    ];
    b.finish(&results)
}

#[test]
fn random_programs_optimize_exactly() {
    let mut rng = Rng::new(50);
    let mut shrunk = 0;
    for round in 0..150 {
        let dtype = [DType::F32, DType::F16, DType::F64, DType::I32, DType::U8][round % 5];
        let m = random_program(&mut rng, dtype);
        let mut out = m.clone();
        optimize(&mut out).unwrap();
        let len = |m: &Module| m.entry_computation().instrs.len();
        assert!(len(&out) <= len(&m), "grew:\n{m}\n{out}");
        shrunk += usize::from(len(&out) < len(&m));
        assert_same(&m, &out, 51 + round as u64, 4, true);
    }
    assert!(shrunk > 100, "only {shrunk} programs shrank");
}
