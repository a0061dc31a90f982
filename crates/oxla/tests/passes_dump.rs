//! `OXLA_DUMP=dir` writes each module's HLO text before and after every pass. This
//! test sets the variable, so it lives in a file (a process) of its own.

use oxla::passes::{Dce, Pipeline, Simplify};
use oxla::{BinaryOp, Builder, DType, Shape};

fn module() -> oxla::Module {
    let mut b = Builder::new("dumped");
    let x = b.parameter(Shape::new(DType::I32, [3]));
    let z = b.constant_i128(DType::I32, 0);
    let z = b.broadcast_in_dim(z, &[3], &[]);
    let out = b.binary(BinaryOp::Add, x, z);
    b.finish(&[out])
}

#[test]
fn dump_writes_before_and_after_each_pass() {
    let dir = std::env::temp_dir().join(format!("oxla_dump_test_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::env::set_var("OXLA_DUMP", &dir);
    let pipeline = Pipeline::new().add(Simplify).add(Dce);
    // Two modules with the same name must not overwrite each other.
    for _ in 0..2 {
        let mut m = module();
        pipeline.run(&mut m).unwrap();
    }
    std::env::remove_var("OXLA_DUMP");

    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 8, "{names:?}");
    for pass in ["simplify", "dce"] {
        for side in ["before", "after"] {
            let n = names
                .iter()
                .filter(|f| f.starts_with("dumped.") && f.ends_with(&format!(".{pass}.{side}.txt")))
                .count();
            assert_eq!(n, 2, "{pass} {side}: {names:?}");
        }
    }
    let read = |suffix: &str| {
        let f = names.iter().find(|f| f.ends_with(suffix)).unwrap();
        std::fs::read_to_string(dir.join(f)).unwrap()
    };
    let before = read("simplify.before.txt");
    let after = read("dce.after.txt");
    assert!(before.starts_with("HloModule dumped"), "{before}");
    assert!(before.contains(" add("), "{before}");
    assert!(
        !after.contains(" add(") && !after.contains("broadcast"),
        "{after}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
