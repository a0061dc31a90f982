//! Quickstart: train a softmax classifier on a synthetic 3-class data set with
//! NumPy-style jaxon code (gradients written by hand until `grad` lands), printing
//! the loss and accuracy as it learns.
//!
//! Run: `cargo run --release --example quickstart`

use jaxon::numpy as jnp;
use jaxon::prelude::*;
use jaxon::{lax, nn};

/// Three Gaussian blobs in 2-D, `n` points each, from a fixed xorshift stream.
fn make_blobs(n: usize) -> (Array, Array) {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let centers = [(-2.0, 0.0), (2.0, 0.5), (0.0, 2.5)];
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for (label, &(cx, cy)) in centers.iter().enumerate() {
        for _ in 0..n {
            // Box-Muller for standard normal noise.
            let (u1, u2) = (uniform().max(1e-12), uniform());
            let r = (-2.0 * u1.ln()).sqrt();
            let t = 2.0 * std::f64::consts::PI * u2;
            xs.push((cx + 0.8 * r * t.cos()) as f32);
            xs.push((cy + 0.8 * r * t.sin()) as f32);
            ys.push(label as i32);
        }
    }
    (
        Array::from_vec(&[3 * n, 2], xs),
        Array::from_vec(&[3 * n], ys),
    )
}

fn main() {
    let (x, labels) = make_blobs(100);
    let n = x.shape()[0] as f64;
    let y = nn::one_hot(&labels, 3, DType::F32);
    println!(
        "data: x {:?} {}, labels {:?}",
        x.shape(),
        x.dtype(),
        labels.shape()
    );

    let mut w = jnp::zeros(&[2, 3], DType::F32);
    let mut b = jnp::zeros(&[3], DType::F32);
    let lr = 0.5;
    for step in 0..=100 {
        let logits = jnp::matmul(&x, &w) + &b;
        let logp = nn::log_softmax(&logits, -1);
        let loss = -(&y * &logp).sum(None) / n;
        // d loss / d logits = (softmax - onehot) / n
        let dlogits = (logp.exp() - &y) / n;
        let dw = jnp::matmul(x.t(), &dlogits);
        let db = jnp::sum(&dlogits, Some(&[0]), false);
        w = &w - &dw * lr;
        b = &b - &db * lr;
        if step % 20 == 0 {
            let pred = jnp::argmax(&logits, Some(-1));
            let acc = jnp::mean(pred.eq(&labels), None, false);
            println!(
                "step {step:3}  loss {:.4}  accuracy {:.3}",
                loss.item::<f32>(),
                acc.item::<f32>()
            );
        }
    }
    println!("weights:\n{w}");
    println!("bias: {b}");
    let probe = jnp::array(&[[-2.0f32, 0.0], [2.0, 0.5], [0.0, 2.5]]);
    let probs = nn::softmax(jnp::matmul(&probe, &w) + &b, -1);
    println!("class probabilities at the three centers:\n{probs}");
    let jaxpr = make_jaxpr(|x: Array| nn::relu(lax::sin(&x) * 2.0))(jnp::ones(&[3], DType::F32));
    println!("a traced function: {jaxpr}");
}
