//! The public API contract of DESIGN.md §4 for arrays, numpy and nn: these lines use
//! exactly the names and signatures written there, and check what they compute.
//! (Transformations, control flow and random come with their own issues.)

use jaxon::prelude::*;
use jaxon::{lax, nn, numpy as jnp};

#[test]
fn arrays_as_in_the_design() {
    let x = jnp::array(&[1.0f32, 2.0, 3.0]);
    let m = jnp::array(&[[1.0f32, 2.0], [3.0, 4.0]]);
    let s = jnp::array(2.5f32); // 0-d
    let z = jnp::zeros(&[2, 3], DType::F32);
    assert_eq!(z.shape(), &[2, 3]);
    let v: Vec<f32> = x.to_vec::<f32>();
    assert_eq!(v, vec![1.0, 2.0, 3.0]);
    assert_eq!(x.shape(), &[3]);
    assert_eq!(x.dtype(), DType::F32);
    assert_eq!(s.item::<f32>(), 2.5);
    x.block_until_ready();
    let r = m.reshape(&[4]);
    assert_eq!(r.to_vec::<f32>(), vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(m.reshape(&[-1, 1]).shape(), &[4, 1]);
    assert_eq!(m.t().to_vec::<f32>(), vec![1.0, 3.0, 2.0, 4.0]);
    assert_eq!(x.astype(DType::I32).to_vec::<i32>(), vec![1, 2, 3]);
    let y = (&x * 2.0 + 1.0).exp().sum(None);
    let want: f32 = [3.0f32, 5.0, 7.0].iter().map(|v| v.exp()).sum();
    assert!((y.item::<f32>() - want).abs() <= 1e-6 * want);
    let c = x.gt(1.5);
    assert_eq!(c.to_vec::<bool>(), vec![false, true, true]);
    assert_eq!(x.lt(2.0).to_vec::<bool>(), vec![true, false, false]);
    assert_eq!(x.le(2.0).to_vec::<bool>(), vec![true, true, false]);
    assert_eq!(x.ge(2.0).to_vec::<bool>(), vec![false, true, true]);
    assert_eq!(x.eq(2.0).to_vec::<bool>(), vec![false, true, false]);
    assert_eq!(x.ne(2.0).to_vec::<bool>(), vec![true, false, true]);
    let e = x.i(0);
    assert_eq!(e.item::<f32>(), 1.0);
    assert_eq!(m.i((.., 1)).to_vec::<f32>(), vec![2.0, 4.0]);
    assert_eq!(m.i((0, 0..1)).to_vec::<f32>(), vec![1.0]);
    assert_eq!(m.i((NewAxis, Ellipsis)).shape(), &[1, 2, 2]);
    let u = x.at(1).set(7.0);
    assert_eq!(u.to_vec::<f32>(), vec![1.0, 7.0, 3.0]);
    assert_eq!(x.at(0..2).add(1.0).to_vec::<f32>(), vec![2.0, 3.0, 3.0]);
}

#[test]
fn numpy_functions_as_in_the_design() {
    let x = jnp::array(&[1.0f32, -2.0, 3.0]);
    let m = jnp::array(&[[1.0f32, 2.0], [3.0, 4.0]]);
    let c = x.gt(0.0);
    let idx = jnp::array(&[[1i32], [0]]);
    assert_eq!(
        jnp::sum(&m, Some(&[1]), false).to_vec::<f32>(),
        vec![3.0, 7.0]
    );
    assert_eq!(jnp::mean(&m, None, false).item::<f32>(), 2.5);
    assert_eq!(jnp::max(&m, Some(&[0]), true).shape(), &[1, 2]);
    assert_eq!(jnp::maximum(&x, 0.0).to_vec::<f32>(), vec![1.0, 0.0, 3.0]);
    assert_eq!(
        jnp::where_(&c, &x, 0.0).to_vec::<f32>(),
        vec![1.0, 0.0, 3.0]
    );
    assert_eq!(jnp::power(&m, 0.5).to_vec::<f32>()[3], 2.0);
    let v = jnp::array(&[1.0f32, 1.0]);
    assert_eq!(jnp::matmul(&m, &v).to_vec::<f32>(), vec![3.0, 7.0]);
    assert_eq!(jnp::stack(&[x.clone(), x.clone()], 0).shape(), &[2, 3]);
    assert_eq!(
        jnp::take_along_axis(&m, &idx, 1).to_vec::<f32>(),
        vec![2.0, 3.0]
    );
    assert_eq!(jnp::ones_like(&x).to_vec::<f32>(), vec![1.0; 3]);
    assert_eq!(jnp::argmax(&m, Some(1)).to_vec::<i32>(), vec![1, 1]);
    assert_eq!(
        jnp::cumsum(&x, Some(0)).to_vec::<f32>(),
        vec![1.0, -1.0, 2.0]
    );
    assert_eq!(jnp::sort(&x, Some(0)).to_vec::<f32>(), vec![-2.0, 1.0, 3.0]);
    assert_eq!(jnp::clip(&x, 0.0, 1.0).to_vec::<f32>(), vec![1.0, 0.0, 1.0]);
    assert_eq!(jnp::concatenate(&[x.clone(), x.clone()], 0).shape(), &[6]);
    let e = jnp::einsum("ij,kj->ik", &[&m, &m]);
    assert_eq!(e.to_vec::<f32>(), vec![5.0, 11.0, 11.0, 25.0]);
    let p = jnp::pad(&m, &[(1, 0), (0, 2)], 0.0);
    assert_eq!(p.shape(), &[3, 4]);
    assert_eq!(jnp::arange(5).to_vec::<i32>(), vec![0, 1, 2, 3, 4]);
    assert_eq!(
        jnp::linspace(0.0, 1.0, 5).to_vec::<f32>(),
        vec![0.0, 0.25, 0.5, 0.75, 1.0]
    );
    assert_eq!(
        jnp::eye(3).to_vec::<f32>(),
        vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    );
    assert_eq!(
        lax::integer_pow(&x, 3).to_vec::<f32>(),
        vec![1.0, -8.0, 27.0]
    );
}

#[test]
fn nn_functions_as_in_the_design() {
    let x = jnp::array(&[1.0f32, -2.0, 3.0]);
    let m = jnp::array(&[[1.0f32, 2.0], [3.0, 4.0]]);
    assert_eq!(nn::relu(&x).to_vec::<f32>(), vec![1.0, 0.0, 3.0]);
    let sm = nn::softmax(&m, -1).to_vec::<f32>();
    assert!((sm[0] + sm[1] - 1.0).abs() < 1e-6 && sm[1] > sm[0]);
    let lsm = nn::log_softmax(&m, -1).to_vec::<f32>();
    assert!((lsm[0].exp() - sm[0]).abs() < 1e-6);
    let lse = nn::logsumexp(&m, Some(&[1])).to_vec::<f32>();
    assert!((lse[0] - (1.0f32.exp() + 2.0f32.exp()).ln()).abs() < 1e-6);
}
