//! Transformation rules of the indexing primitives (dynamic_slice,
//! dynamic_update_slice, gather, scatter, scatter-add/mul/min/max) and of the numpy
//! indexing functions built on them: jvp and vjp vs finite differences (orders 1-2,
//! f64), vmap vs a loop over the batch for several in_axes, vmap/jit of the VJP, and
//! jit vs eager, on random shapes, indices (duplicates and out-of-bounds ones) and
//! values.

mod rules_index_support;

use jaxon::core::trace::bind1;
use jaxon::lax::{
    self, GatherDimensionNumbers as GD, GatherScatterMode as Mode, Scatter,
    ScatterDimensionNumbers as SD, ScatterKind,
};
use jaxon::numpy::{self as jnp, TakeMode};
use jaxon::transform::jvp::jvp_flat;
use jaxon::Array;
use rules_index_support::{Case, Counts, Rng};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

const MODES: [Mode; 3] = [Mode::Clip, Mode::FillOrDrop, Mode::PromiseInBounds];

/// Indices of shape `[.., c]` whose component `j` lies in `ranges[j]`.
fn index_array(rng: &mut Rng, shape: &[usize], ranges: &[(i64, i64)]) -> Array {
    let n: usize = shape.iter().product();
    let c = ranges.len();
    let v: Vec<i32> = (0..n)
        .map(|e| {
            let (lo, hi) = ranges[e % c];
            rng.int(lo, hi) as i32
        })
        .collect();
    Array::from_vec(shape, v)
}

/// Start index bounds per indexed dim: out-of-bounds windows too unless the mode
/// promises none (then every window fits).
fn window_bounds(mode: Mode, dims: &[usize], sizes: &[usize]) -> Vec<(i64, i64)> {
    dims.iter()
        .zip(sizes)
        .map(|(&d, &s)| match mode {
            Mode::PromiseInBounds => (0, (d - s) as i64),
            _ => (-2, d as i64 + 1),
        })
        .collect()
}

/// `k <= n` distinct indices in `0..n`, as `[k, 1]` int32.
fn distinct(rng: &mut Rng, n: usize, k: usize) -> Array {
    let mut v: Vec<i32> = (0..n as i32).collect();
    for i in (1..n).rev() {
        v.swap(i, rng.below(i + 1));
    }
    v.truncate(k);
    Array::from_vec(&[k, 1], v)
}

fn dynamic_slice_case(rng: &mut Rng) -> Case {
    let shape = rng.shape(1, 3, 4);
    let sizes: Vec<usize> = shape.iter().map(|&d| 1 + rng.below(d)).collect();
    let gshape = shape.clone();
    Case {
        prim: "dynamic_slice",
        f: Rc::new(move |a| vec![lax::dynamic_slice(&a[0], &a[1..], &sizes)]),
        gen: Rc::new(move |r| {
            let mut v = vec![r.f64s(&gshape)];
            v.extend(gshape.iter().map(|&d| r.ints(&[], -2, d as i64 + 1)));
            v
        }),
        grads: true,
    }
}

fn dynamic_update_slice_case(rng: &mut Rng) -> Case {
    let shape = rng.shape(1, 3, 4);
    let ushape: Vec<usize> = shape.iter().map(|&d| 1 + rng.below(d)).collect();
    Case {
        prim: "dynamic_update_slice",
        f: Rc::new(|a| vec![lax::dynamic_update_slice(&a[0], &a[1], &a[2..])]),
        gen: Rc::new(move |r| {
            let mut v = vec![r.f64s(&shape), r.f64s(&ushape)];
            v.extend(shape.iter().map(|&d| r.ints(&[], -2, d as i64 + 1)));
            v
        }),
        grads: true,
    }
}

/// Gathers of three layouts: rows (`x[i]`), 2-d windows, and a gather with
/// batching dims (`x[b, i[b]]`).
fn gather_case(rng: &mut Rng, layout: usize, mode: Mode) -> Case {
    let (n, m, k) = (2 + rng.below(3), 1 + rng.below(3), 1 + rng.below(4));
    // A finite fill keeps finite differences finite.
    let fill = (mode == Mode::FillOrDrop).then_some(0.25);
    let (dn, sizes, xs, is) = match layout {
        0 => (
            GD {
                offset_dims: vec![1],
                collapsed_slice_dims: vec![0],
                start_index_map: vec![0],
                ..Default::default()
            },
            vec![1, m],
            vec![n, m],
            vec![k, 1],
        ),
        1 => (
            GD {
                offset_dims: vec![1, 2],
                start_index_map: vec![0, 1],
                ..Default::default()
            },
            vec![1 + rng.below(n), 1 + rng.below(m)],
            vec![n, m],
            vec![k, 2],
        ),
        _ => (
            GD {
                collapsed_slice_dims: vec![1],
                start_index_map: vec![1],
                operand_batching_dims: vec![0],
                start_indices_batching_dims: vec![0],
                ..Default::default()
            },
            vec![1, 1],
            vec![m, n],
            vec![m, k, 1],
        ),
    };
    let idims: Vec<usize> = dn.start_index_map.iter().map(|&d| xs[d]).collect();
    let isizes: Vec<usize> = dn.start_index_map.iter().map(|&d| sizes[d]).collect();
    let ranges = window_bounds(mode, &idims, &isizes);
    Case {
        prim: "gather",
        f: Rc::new(move |a| vec![lax::gather(&a[0], &a[1], &dn, &sizes, mode, fill)]),
        gen: Rc::new(move |r| vec![r.f64s(&xs), index_array(r, &is, &ranges)]),
        grads: true,
    }
}

/// Dimension numbers, operand / indices / updates shapes, index ranges.
type ScatterLayout = (SD, Vec<usize>, Vec<usize>, Vec<usize>, Vec<(i64, i64)>);

/// The scatter of `layout` (rows, 2-d windows, batching dims) with its shapes.
fn scatter_layout(rng: &mut Rng, layout: usize, mode: Mode) -> ScatterLayout {
    let (n, m, k) = (2 + rng.below(3), 1 + rng.below(3), 1 + rng.below(4));
    match layout {
        0 => (
            SD {
                update_window_dims: vec![1],
                inserted_window_dims: vec![0],
                scatter_dims_to_operand_dims: vec![0],
                ..Default::default()
            },
            vec![n, m],
            vec![k, 1],
            vec![k, m],
            window_bounds(mode, &[n], &[1]),
        ),
        1 => {
            let (s0, s1) = (1 + rng.below(n), 1 + rng.below(m));
            (
                SD {
                    update_window_dims: vec![1, 2],
                    scatter_dims_to_operand_dims: vec![0, 1],
                    ..Default::default()
                },
                vec![n, m],
                vec![k, 2],
                vec![k, s0, s1],
                window_bounds(mode, &[n, m], &[s0, s1]),
            )
        }
        _ => (
            SD {
                inserted_window_dims: vec![1],
                scatter_dims_to_operand_dims: vec![1],
                operand_batching_dims: vec![0],
                scatter_indices_batching_dims: vec![0],
                ..Default::default()
            },
            vec![m, n],
            vec![m, k, 1],
            vec![m, k],
            window_bounds(mode, &[n], &[1]),
        ),
    }
}

fn kind_name(kind: ScatterKind) -> &'static str {
    match kind {
        ScatterKind::Set => "scatter",
        ScatterKind::Add => "scatter-add",
        ScatterKind::Mul => "scatter-mul",
        ScatterKind::Min => "scatter-min",
        ScatterKind::Max => "scatter-max",
    }
}

/// A scatter of `kind` (non-unique indices, duplicates and out-of-bounds ones).
/// scatter-mul is differentiated with respect to the operand only (its updates are
/// fixed), as JAX supports only that without unique indices.
fn scatter_case(rng: &mut Rng, kind: ScatterKind, layout: usize, mode: Mode) -> Case {
    let (dn, xs, is, us, ranges) = scatter_layout(rng, layout, mode);
    if kind == ScatterKind::Mul {
        let u = rng.f64s(&us);
        return Case {
            prim: kind_name(kind),
            f: Rc::new(move |a| vec![lax::scatter_mul(&a[0], &a[1], &u, &dn, mode)]),
            gen: Rc::new(move |r| vec![r.f64s(&xs), index_array(r, &is, &ranges)]),
            grads: true,
        };
    }
    Case {
        prim: kind_name(kind),
        f: Rc::new(move |a| vec![lax::scatter_kind(kind, &a[0], &a[1], &a[2], &dn, mode)]),
        gen: Rc::new(move |r| vec![r.f64s(&xs), index_array(r, &is, &ranges), r.f64s(&us)]),
        grads: true,
    }
}

/// A scatter with `unique_indices=True` (distinct row indices).
fn unique_scatter_case(rng: &mut Rng, kind: ScatterKind) -> Case {
    let (n, m) = (2 + rng.below(3), 1 + rng.below(3));
    let k = 1 + rng.below(n);
    let prim = Scatter {
        kind,
        dimension_numbers: SD {
            update_window_dims: vec![1],
            inserted_window_dims: vec![0],
            scatter_dims_to_operand_dims: vec![0],
            ..Default::default()
        },
        indices_are_sorted: false,
        unique_indices: true,
        mode: Mode::FillOrDrop,
    };
    Case {
        prim: kind_name(kind),
        f: Rc::new(move |a| vec![bind1(prim.clone(), a)]),
        gen: Rc::new(move |r| vec![r.f64s(&[n, m]), distinct(r, n, k), r.f64s(&[k, m])]),
        grads: true,
    }
}

/// numpy indexing built on these primitives.
fn numpy_cases(rng: &mut Rng) -> Vec<Case> {
    let (n, m, k) = (2 + rng.below(3), 1 + rng.below(3), 1 + rng.below(4));
    let (ni, mi) = (n as i64, m as i64);
    let mut cases = vec![
        Case {
            prim: "numpy x.i(index array)",
            f: Rc::new(|a| vec![a[0].i(&a[1])]),
            gen: Rc::new(move |r| vec![r.f64s(&[n, m]), r.ints(&[k], -ni, ni - 1)]),
            grads: true,
        },
        Case {
            prim: "numpy x.i((.., 0-d index))",
            f: Rc::new(|a| vec![a[0].i((jnp::s(None, None, 1), &a[1]))]),
            gen: Rc::new(move |r| vec![r.f64s(&[n, m]), r.ints(&[], -mi, mi - 1)]),
            grads: true,
        },
        Case {
            prim: "numpy take",
            f: Rc::new(|a| vec![jnp::take(&a[0], &a[1], Some(1))]),
            gen: Rc::new(move |r| vec![r.f64s(&[n, m]), r.ints(&[k], 0, mi - 1)]),
            grads: true,
        },
        Case {
            prim: "numpy take (fill, out of bounds)",
            f: Rc::new(|a| {
                vec![jnp::take_with(
                    &a[0],
                    &a[1],
                    Some(0),
                    TakeMode::Fill,
                    Some(0.5),
                )]
            }),
            gen: Rc::new(move |r| vec![r.f64s(&[n, m]), r.ints(&[k], -2, ni + 1)]),
            grads: true,
        },
        Case {
            prim: "numpy take_along_axis",
            f: Rc::new(|a| vec![jnp::take_along_axis(&a[0], &a[1], 1)]),
            gen: Rc::new(move |r| vec![r.f64s(&[n, m]), r.ints(&[n, k], 0, mi - 1)]),
            grads: true,
        },
    ];
    type Upd = fn(&jnp::At, &Array) -> Array;
    let updates: [(&'static str, Upd); 4] = [
        ("numpy at().set", |at, v| at.set(v)),
        ("numpy at().add", |at, v| at.add(v)),
        ("numpy at().min", |at, v| at.min(v)),
        ("numpy at().max", |at, v| at.max(v)),
    ];
    for (prim, upd) in updates {
        cases.push(Case {
            prim,
            f: Rc::new(move |a| vec![upd(&a[0].at(&a[1]), &a[2])]),
            gen: Rc::new(move |r| {
                vec![r.f64s(&[n, m]), r.ints(&[k], -ni, ni + 1), r.f64s(&[k, m])]
            }),
            grads: true,
        });
    }
    let u = rng.f64s(&[k, m]);
    cases.push(Case {
        prim: "numpy at().mul",
        f: Rc::new(move |a| vec![a[0].at(&a[1]).mul(&u)]),
        gen: Rc::new(move |r| vec![r.f64s(&[n, m]), r.ints(&[k], -ni, ni + 1)]),
        grads: true,
    });
    cases
}

#[test]
fn index_rules_all_checks() {
    let mut rng = Rng::new(7);
    let mut counts = Counts::default();
    for _ in 0..3 {
        let c = dynamic_slice_case(&mut rng);
        rules_index_support::run_case(&c, &mut rng, &mut counts);
        let c = dynamic_update_slice_case(&mut rng);
        rules_index_support::run_case(&c, &mut rng, &mut counts);
    }
    for layout in 0..3 {
        for mode in MODES {
            let c = gather_case(&mut rng, layout, mode);
            rules_index_support::run_case(&c, &mut rng, &mut counts);
        }
    }
    let kinds = [
        ScatterKind::Add,
        ScatterKind::Set,
        ScatterKind::Mul,
        ScatterKind::Min,
        ScatterKind::Max,
    ];
    for kind in kinds {
        for layout in 0..3 {
            for mode in MODES {
                let c = scatter_case(&mut rng, kind, layout, mode);
                rules_index_support::run_case(&c, &mut rng, &mut counts);
            }
        }
    }
    for kind in [ScatterKind::Set, ScatterKind::Mul, ScatterKind::Add] {
        let c = unique_scatter_case(&mut rng, kind);
        rules_index_support::run_case(&c, &mut rng, &mut counts);
    }
    for c in numpy_cases(&mut rng) {
        rules_index_support::run_case(&c, &mut rng, &mut counts);
    }
    counts.report("index_rules");
}

/// Tied winners of scatter-max/min share the tangent evenly (JAX's convention):
/// each output's tangent is the mean of the tangents of the operand and updates
/// equal to it.
#[test]
fn scatter_extremal_ties_average() {
    let mut rng = Rng::new(11);
    let dn = SD {
        update_window_dims: vec![],
        inserted_window_dims: vec![0],
        scatter_dims_to_operand_dims: vec![0],
        ..Default::default()
    };
    for kind in [ScatterKind::Max, ScatterKind::Min] {
        for _ in 0..4 {
            let (n, k) = (2 + rng.below(3), 2 + rng.below(5));
            // Few distinct values, so ties are common.
            let x: Vec<f64> = (0..n).map(|_| rng.int(0, 2) as f64).collect();
            let u: Vec<f64> = (0..k).map(|_| rng.int(0, 2) as f64).collect();
            let i: Vec<i32> = (0..k).map(|_| rng.int(0, n as i64 - 1) as i32).collect();
            let (tx, tu) = (rng.f64s(&[n]).to_f64_vec(), rng.f64s(&[k]).to_f64_vec());
            let idx = Array::from_vec(&[k, 1], i.clone());
            let f = |a: &[Array]| {
                vec![lax::scatter_kind(
                    kind,
                    &a[0],
                    &idx,
                    &a[1],
                    &dn,
                    Mode::FillOrDrop,
                )]
            };
            let prim = [
                Array::from_vec(&[n], x.clone()),
                Array::from_vec(&[k], u.clone()),
            ];
            let tang = [
                Array::from_vec(&[n], tx.clone()),
                Array::from_vec(&[k], tu.clone()),
            ];
            let (out, t) = jvp_flat(f, &prim, &tang);
            let out = out[0].to_f64_vec();
            for p in 0..n {
                let mut won = vec![];
                if x[p] == out[p] {
                    won.push(tx[p]);
                }
                for j in 0..k {
                    if i[j] as usize == p && u[j] == out[p] {
                        won.push(tu[j]);
                    }
                }
                let want = won.iter().sum::<f64>() / won.len() as f64;
                let got = t[0].to_f64_vec()[p];
                assert!(
                    (got - want).abs() < 1e-12,
                    "{kind:?} tie at {p}: {got} vs {want}"
                );
            }
        }
    }
}

fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// The missing case of JAX's rules (scatter-mul updates without unique indices) is
/// a clear error naming the primitive, the case, and the user's line.
#[test]
fn scatter_mul_updates_jvp_needs_unique_indices() {
    let x = Array::from_vec(&[3], vec![1.0f64, 2.0, 3.0]);
    let u = Array::from_vec(&[2], vec![4.0f64, 5.0]);
    let idx = Array::from_vec(&[2, 1], vec![0i32, 0]);
    let dn = SD {
        inserted_window_dims: vec![0],
        scatter_dims_to_operand_dims: vec![0],
        ..Default::default()
    };
    let line = std::cell::Cell::new(0);
    let msg = panic_message(|| {
        let f = |a: &[Array]| {
            line.set(line!() + 1);
            vec![lax::scatter_mul(&a[0], &idx, &a[1], &dn, Mode::FillOrDrop)]
        };
        jvp_flat(f, &[x.clone(), u.clone()], &[x.clone(), u.clone()]);
    });
    for needle in [
        "scatter-mul",
        "unique_indices",
        file!(),
        &format!(":{}:", line.get()),
    ] {
        assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
    }
}
