//! Threefry2x32, keys, split, fold_in and bits: known-answer vectors (Random123, and
//! JAX values quoted in the spec), in both `jax_threefry_partitionable` layouts.

use jaxon::prelude::*;
use jaxon::random;

fn u32s(a: &Array) -> Vec<u32> {
    a.to_vec::<u32>()
}

#[test]
fn threefry_random123_vectors() {
    let cases: [([u32; 2], [u32; 2], [u32; 2]); 3] = [
        ([0, 0], [0, 0], [0x6b200159, 0x99ba4efe]),
        (
            [u32::MAX, u32::MAX],
            [u32::MAX, u32::MAX],
            [0x1cb996fc, 0xbb002be7],
        ),
        (
            [0x13198a2e, 0x03707344],
            [0x243f6a88, 0x85a308d3],
            [0xc4923a9c, 0x483df7a0],
        ),
    ];
    for (k, x, want) in cases {
        let s = |v: u32| Array::scalar_i128(v as i128, DType::U32, false);
        let (y0, y1) = random::threefry2x32(&s(k[0]), &s(k[1]), &s(x[0]), &s(x[1]));
        assert_eq!(
            [y0.item::<u32>(), y1.item::<u32>()],
            want,
            "key {k:?} counter {x:?}"
        );
    }
    // Elementwise over vectors: the same three cases in one call.
    let v = |i: usize, j: usize| {
        Array::from_vec(
            &[3],
            cases.iter().map(|c| [c.0, c.1][i][j]).collect::<Vec<u32>>(),
        )
    };
    let (y0, y1) = random::threefry2x32(&v(0, 0), &v(0, 1), &v(1, 0), &v(1, 1));
    assert_eq!(u32s(&y0), cases.iter().map(|c| c.2[0]).collect::<Vec<_>>());
    assert_eq!(u32s(&y1), cases.iter().map(|c| c.2[1]).collect::<Vec<_>>());
}

#[test]
fn seeds() {
    assert_eq!(u32s(&random::key(0)), vec![0, 0]);
    assert_eq!(u32s(&random::key(42)), vec![0, 42]);
    assert_eq!(u32s(&random::key((1 << 40) + 5)), vec![256, 5]);
    assert_eq!(u32s(&random::key(u64::MAX)), vec![u32::MAX, u32::MAX]);
    // From seed arrays (traceable): int32 seeds give hi = 0, int64 seeds two words.
    let k = random::key_from_seed(&Array::scalar_i128(-1, DType::I32, false));
    assert_eq!(u32s(&k), vec![0, 4294967295]);
    let k = random::key_from_seed(&Array::scalar_i128(-3, DType::I64, false));
    assert_eq!(u32s(&k), vec![4294967295, 4294967293]);
    let k = random::key_from_seed(&Array::scalar_i128((1 << 40) + 5, DType::I64, false));
    assert_eq!(u32s(&k), vec![256, 5]);
}

#[test]
fn split_and_fold_in_partitionable() {
    let k0 = random::key(0);
    assert_eq!(
        u32s(&random::split(&k0, 2)),
        vec![1797259609, 2579123966, 928981903, 3453687069]
    );
    assert_eq!(
        u32s(&random::split(&k0, 4)),
        vec![
            1797259609, 2579123966, 928981903, 3453687069, 4146024105, 2718843009, 2467461003,
            3840466878
        ]
    );
    let s = random::split_shape(&k0, &[2, 2]);
    assert_eq!(s.shape(), &[2, 2, 2]);
    assert_eq!(u32s(&s), u32s(&random::split(&k0, 4)));
    let (a, b) = random::split2(&k0);
    assert_eq!(u32s(&a), vec![1797259609, 2579123966]);
    assert_eq!(u32s(&b), vec![928981903, 3453687069]);
    assert_eq!(u32s(&random::fold_in(&k0, 4)), vec![2285895361, 433833334]);
    assert_eq!(
        u32s(&random::fold_in(&random::key(42), 7)),
        vec![2547012911, 1371500959]
    );
    assert_eq!(u32s(&random::fold_in(&k0, 0)), vec![1797259609, 2579123966]);
    // split(key, n)[i] == fold_in(key, i) in the partitionable layout.
    let ks = u32s(&random::split(&random::key(42), 5));
    for i in 0..5u32 {
        let f = u32s(&random::fold_in(&random::key(42), i));
        assert_eq!(&ks[2 * i as usize..2 * i as usize + 2], &f[..]);
    }
}

#[test]
fn split_original() {
    let _g = random::PartitionableGuard::new(false);
    let k0 = random::key(0);
    assert_eq!(
        u32s(&random::split(&k0, 2)),
        vec![4146024105, 967050713, 2718843009, 1272950319]
    );
    assert_eq!(
        u32s(&random::split(&k0, 4)),
        vec![
            2285895361, 1501764800, 1518642379, 4090693311, 433833334, 4221794875, 839183663,
            3740430601
        ]
    );
    // fold_in does not depend on the layout.
    assert_eq!(u32s(&random::fold_in(&k0, 4)), vec![2285895361, 433833334]);
}

#[test]
fn bits_vectors() {
    let k = random::key(1701);
    let check = |part: bool, dt: DType, want: Vec<u64>| {
        let _g = random::PartitionableGuard::new(part);
        let b = random::bits(&k, &[3], dt);
        assert_eq!(b.dtype(), dt);
        assert_eq!(
            b.to_f64_vec().iter().map(|&v| v as u64).collect::<Vec<_>>(),
            want
        );
    };
    check(true, DType::U8, vec![37, 59, 52]);
    check(true, DType::U16, vec![42789, 29755, 60468]);
    check(true, DType::U32, vec![1111271205, 2679469115, 974515252]);
    check(false, DType::U8, vec![216, 115, 43]);
    check(false, DType::U16, vec![41682, 1300, 55017]);
    check(false, DType::U32, vec![56197195, 4200222568, 961309823]);
    let u64s = |part: bool| {
        let _g = random::PartitionableGuard::new(part);
        random::bits(&k, &[3], DType::U64).to_vec::<u64>()
    };
    assert_eq!(
        u64s(true),
        vec![3182764935064573181, 366096495144982249, 241365115613244543]
    );
    assert_eq!(
        u64s(false),
        vec![
            3982329540505020460,
            16822122385914693683,
            7882654074788531506
        ]
    );
    let k0 = random::key(0);
    assert_eq!(random::bits(&k0, &[], DType::U32).item::<u32>(), 4070199207);
    assert_eq!(
        u32s(&random::bits(&k0, &[2, 3], DType::U32)),
        vec![4070199207, 4202968722, 1427181096, 2012915765, 2447653815, 710830403]
    );
    let _g = random::PartitionableGuard::new(false);
    assert_eq!(random::bits(&k0, &[], DType::U32).item::<u32>(), 1797259609);
    assert_eq!(
        u32s(&random::bits(&k0, &[2, 3], DType::U32)),
        vec![2467461003, 428148500, 3186719485, 3840466878, 2562233961, 1946702221]
    );
}

/// The `random` lines of DESIGN.md §4, verbatim, with their documented shapes/dtypes.
#[test]
fn api_contract() {
    use jaxon::random;
    let key = random::key(42);
    let (k1, k2) = random::split2(&key);
    let ks = random::split(&key, 4);
    let f = random::fold_in(&key, 7);
    let b = random::bits(&key, &[8], DType::U32);
    let u = random::uniform(&k1, &[3], DType::F32, 0.0, 1.0);
    let n = random::normal(&k2, &[3], DType::F32);
    let r = random::randint(&key, &[8], 0, 10, DType::I32);
    let c = random::bernoulli(&key, 0.3, &[8]);
    assert_eq!((ks.shape(), ks.dtype()), (&[4, 2][..], DType::U32));
    assert_eq!(f.shape(), &[2]);
    assert_eq!((b.shape(), b.dtype()), (&[8][..], DType::U32));
    assert_eq!((u.shape(), u.dtype()), (&[3][..], DType::F32));
    assert_eq!((n.shape(), n.dtype()), (&[3][..], DType::F32));
    assert_eq!((r.shape(), r.dtype()), (&[8][..], DType::I32));
    assert_eq!((c.shape(), c.dtype()), (&[8][..], DType::Bool));
    assert!(u.to_vec::<f32>().iter().all(|v| (0.0..1.0).contains(v)));
    assert!(r.to_vec::<i32>().iter().all(|v| (0..10).contains(v)));
}
