//! Quickstart: train a small two-layer network on a synthetic 3-class data set with
//! `jit(value_and_grad(loss))` over a parameter struct, then look at a jaxpr.
//!
//! Run: `cargo run --release --example quickstart`

use jaxon::numpy as jnp;
use jaxon::prelude::*;
use jaxon::{nn, tree_map2};

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

/// A two-layer perceptron: 2 -> 16 (tanh) -> 3.
#[derive(Tree, Clone)]
struct Mlp {
    w1: Array,
    b1: Array,
    w2: Array,
    b2: Array,
}

impl Mlp {
    fn init() -> Mlp {
        // Small deterministic weights (the PRNG arrives with its own issue).
        let w1: Vec<f32> = (0..32)
            .map(|i| ((i * 37 % 17) as f32 - 8.0) / 16.0)
            .collect();
        let w2: Vec<f32> = (0..48)
            .map(|i| ((i * 23 % 13) as f32 - 6.0) / 12.0)
            .collect();
        Mlp {
            w1: Array::from_vec(&[2, 16], w1),
            b1: jnp::zeros(&[16], DType::F32),
            w2: Array::from_vec(&[16, 3], w2),
            b2: jnp::zeros(&[3], DType::F32),
        }
    }

    fn logits(&self, x: &Array) -> Array {
        let h = (jnp::matmul(x, &self.w1) + &self.b1).tanh();
        jnp::matmul(&h, &self.w2) + &self.b2
    }
}

fn main() {
    let (x, labels) = make_blobs(100);
    let y = nn::one_hot(&labels, 3, DType::F32);
    println!(
        "data: x {:?} {}, labels {:?}",
        x.shape(),
        x.dtype(),
        labels.shape()
    );

    // Cross-entropy loss; the batch is an argument so jit sees it as an input.
    let loss = |(p, x, y): (Mlp, Array, Array)| -> Array {
        let logp = nn::log_softmax(p.logits(&x), -1);
        -(&y * &logp).sum(None) / x.shape()[0] as f64
    };
    let step = jit(move |(p, x, y): (Mlp, Array, Array)| {
        let (l, (g, _, _)) = value_and_grad(loss)((p.clone(), x, y));
        let p = tree_map2(|w: &Array, g: &Array| w - g * 0.5, &p, &g);
        (p, l)
    });

    let mut params = Mlp::init();
    let start = std::time::Instant::now();
    for i in 0..=200 {
        let (p, l) = step((params, x.clone(), y.clone()));
        params = p;
        if i % 40 == 0 {
            let pred = jnp::argmax(params.logits(&x), Some(-1));
            let acc = jnp::mean(pred.eq(&labels), None, false);
            println!(
                "step {i:3}  loss {:.4}  accuracy {:.3}",
                l.item::<f32>(),
                acc.item::<f32>()
            );
        }
    }
    println!("200 jitted training steps in {:.2?}", start.elapsed());
    let probe = jnp::array(&[[-2.0f32, 0.0], [2.0, 0.5], [0.0, 2.5]]);
    println!(
        "class probabilities at the three centers:\n{}",
        nn::softmax(params.logits(&probe), -1)
    );

    let per_example = vmap(
        grad(|(w, x): (Array, Array)| x.dot(&w).tanh().sum(None)),
        axes![None, 0],
    );
    let (gw, _) = per_example((jnp::array(&[0.5f32, -0.5]), x.i(0..4)));
    println!("per-example gradients of tanh(x·w):\n{gw}");
    let jaxpr =
        make_jaxpr(|x: Array| grad(|x: Array| x.sin().sum(None))(x))(jnp::ones(&[3], DType::F32));
    println!("the jaxpr of grad(sum(sin(x))):\n{jaxpr}");
}
