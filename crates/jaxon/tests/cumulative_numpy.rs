//! jnp.cumsum / cumprod / nancumsum / nancumprod: axes (None = flattened, negative),
//! jax.numpy accumulation dtypes, explicit dtypes, against loop references.

mod support;

use jaxon::numpy as jnp;
use jaxon::prelude::*;
use support::*;

fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    idx
}

/// Running sum or product along `axis` of a row-major array.
fn scan_ref(x: &[f64], shape: &[usize], axis: usize, prod: bool) -> Vec<f64> {
    let stride: usize = shape[axis + 1..].iter().product();
    (0..x.len())
        .map(|o| {
            let k = unravel(o, shape)[axis];
            let terms = (0..=k).map(|j| x[o - (k - j) * stride]);
            if prod {
                terms.product()
            } else {
                terms.sum()
            }
        })
        .collect()
}

/// jax.numpy's accumulation dtype (x64 off, but i64/u64 exist in jaxon).
fn acc_dtype(d: DType) -> DType {
    match d {
        DType::Bool | DType::I8 | DType::I16 => DType::I32,
        DType::U8 | DType::U16 => DType::U32,
        d => d,
    }
}

#[test]
fn cumsum_cumprod_on_every_dtype() {
    let mut rng = Rng::new(61);
    for dtype in DType::ALL {
        for trial in 0..4 {
            let shape: Vec<usize> = (0..rng.int(1, 3)).map(|_| rng.int(1, 3) as usize).collect();
            let nd = shape.len() as i64;
            let axis = rng.int(-nd, nd - 1);
            let flat = trial == 3;
            for prod in [false, true] {
                let (lo, hi) = if prod { (-2.0, 2.0) } else { (-30.0, 30.0) };
                let x = random_array(&mut rng, dtype, &shape, lo, hi);
                let ax = if flat { None } else { Some(axis) };
                let out = if prod {
                    jnp::cumprod(&x, ax)
                } else {
                    jnp::cumsum(&x, ax)
                };
                let (rshape, raxis) = if flat {
                    (vec![x.size()], 0)
                } else {
                    (shape.clone(), axis.rem_euclid(nd) as usize)
                };
                let want = scan_ref(&x.to_f64_vec(), &rshape, raxis, prod);
                let what = format!("prod={prod} {dtype} {shape:?} axis {ax:?}");
                assert_eq!(out.dtype(), acc_dtype(dtype), "{what}");
                assert_eq!(out.shape(), &rshape[..], "{what}");
                let rtol = if dtype.is_float() {
                    float_tol(dtype) * 8.0
                } else {
                    0.0
                };
                let mags: Vec<f64> = scan_ref(
                    &x.to_f64_vec().iter().map(|v| v.abs()).collect::<Vec<_>>(),
                    &rshape,
                    raxis,
                    prod,
                );
                let g = out.to_f64_vec();
                for i in 0..g.len() {
                    assert!(
                        (g[i] - want[i]).abs() <= rtol * mags[i],
                        "{what}: element {i}: got {}, want {}",
                        g[i],
                        want[i]
                    );
                }
            }
        }
    }
}

#[test]
fn explicit_dtypes_scalars_and_nan_variants() {
    let x = jnp::array(&[[1i8, 2, 3], [4, 5, 6]]);
    let f = jnp::cumsum_with(&x, Some(1), Some(DType::F32));
    assert_eq!(f.dtype(), DType::F32);
    assert_eq!(f.to_vec::<f32>(), vec![1.0, 3.0, 6.0, 4.0, 9.0, 15.0]);
    let i = jnp::cumsum_with(&x, Some(0), Some(DType::I8));
    assert_eq!(i.dtype(), DType::I8);
    assert_eq!(i.to_vec::<i8>(), vec![1, 2, 3, 5, 7, 9]);
    // dtype=bool accumulates in int and converts back: "any so far".
    let b = jnp::cumsum_with(jnp::array(&[0i32, 0, 2, -2]), None, Some(DType::Bool));
    assert_eq!(b.dtype(), DType::Bool);
    assert_eq!(b.to_vec::<bool>(), vec![false, false, true, true]);
    let p = jnp::cumprod_with(&x, None, Some(DType::I64));
    assert_eq!(p.to_vec::<i64>(), vec![1, 2, 6, 24, 120, 720]);
    // A 0-d input becomes 1-d; a weak scalar gives a strong result.
    let s = jnp::cumsum(2.5, None);
    assert_eq!(
        (s.shape(), s.dtype(), s.weak_type()),
        (&[1usize][..], DType::F32, false)
    );
    let n = jnp::array(&[1.0f32, f32::NAN, 2.0]);
    assert_eq!(
        jnp::nancumsum(&n, Some(0)).to_vec::<f32>(),
        vec![1.0, 1.0, 3.0]
    );
    assert_eq!(
        jnp::nancumprod(&n, Some(0)).to_vec::<f32>(),
        vec![1.0, 1.0, 2.0]
    );
    let plain = jnp::cumsum(&n, Some(0)).to_vec::<f32>();
    assert!(plain[1].is_nan() && plain[2].is_nan());
    // Bools count.
    let c = jnp::cumsum(jnp::array(&[true, true, false, true]), None);
    assert_eq!(
        (c.dtype(), c.to_vec::<i32>()),
        (DType::I32, vec![1, 2, 2, 3])
    );
    // Unsigned narrow ints accumulate in uint32.
    let u = jnp::cumsum(jnp::array(&[200u8, 100]), None);
    assert_eq!((u.dtype(), u.to_vec::<u32>()), (DType::U32, vec![200, 300]));
}

#[test]
fn bad_axis_names_the_function_and_caller_line() {
    let x = jnp::ones(&[2, 3], DType::F32);
    let line = line!() + 1;
    let msg = expect_panic(|| drop(jnp::cumsum(&x, Some(2))), &["cumsum", "axis 2"]);
    assert!(msg.contains(&format!("{}:{line}:", file!())), "{msg}");
    let line = line!() + 1;
    let msg = expect_panic(|| drop(jnp::cumprod(&x, Some(-3))), &["cumprod", "axis -3"]);
    assert!(msg.contains(&format!("{}:{line}:", file!())), "{msg}");
}
