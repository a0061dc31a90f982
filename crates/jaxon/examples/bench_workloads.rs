//! The jaxon side of `bench/compare`: runs the benchmark workloads of issue 5 item 7
//! and prints one JSON line per workload (`name`, `median_ms`, `min_ms`, `iters`,
//! `desc`, and `bytes` for the bandwidth-bound ones), after a line with the machine's
//! memory bandwidth (STREAM copy and triad over all cores).
//!
//! Run: `cargo run --release -p jaxon --example bench_workloads -- [--quick]
//! [--only a,b,...] [--budget SECONDS] [--no-bandwidth] [--list]`

#[path = "../benches/shared/workloads.rs"]
mod workloads;

use serde_json::json;

struct Options {
    quick: bool,
    only: Vec<String>,
    budget: Option<f64>,
    bandwidth: bool,
    list: bool,
}

fn parse_args() -> Options {
    let mut o = Options {
        quick: false,
        only: Vec::new(),
        budget: None,
        bandwidth: true,
        list: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--no-bandwidth" => o.bandwidth = false,
            "--list" => o.list = true,
            "--only" => {
                let v = args
                    .next()
                    .expect("--only needs a list, e.g. a,c_matmul_512");
                o.only = v
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
            }
            "--budget" => {
                let v = args.next().expect("--budget needs seconds");
                o.budget = Some(v.parse().expect("--budget: a number of seconds"));
            }
            other => panic!(
                "unknown argument {other}; use --quick, --only a,b, --budget S, \
                 --no-bandwidth, --list"
            ),
        }
    }
    o
}

fn main() {
    let o = parse_args();
    let sizes = workloads::sizes(o.quick);
    let names = workloads::names(&sizes);
    if o.list {
        names.iter().for_each(|n| println!("{n}"));
        return;
    }
    if o.bandwidth {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (copy, triad) = workloads::bandwidth(64 << 20, threads, 10);
        let line = json!({"bandwidth": {
            "copy_gbs": copy / 1e9,
            "triad_gbs": triad / 1e9,
            "threads": threads,
            "array_mb": 64,
        }});
        println!("{line}");
    }
    let budget = o.budget.unwrap_or(if o.quick { 0.2 } else { 1.0 });
    for name in names
        .iter()
        .filter(|n| workloads::selected(n, &o.only, &names))
    {
        // A workload the backend cannot run yet becomes an error line, not the end
        // of the run.
        let result = std::panic::catch_unwind(|| {
            let mut w = workloads::build(name, &sizes);
            let m = workloads::measure(&mut w, budget, 3);
            (w.desc, w.bytes, m)
        });
        let line = match result {
            Ok((desc, bytes, m)) => {
                let mut line = json!({
                    "name": name,
                    "median_ms": m.median_s * 1e3,
                    "min_ms": m.min_s * 1e3,
                    "iters": m.iters,
                    "desc": desc,
                });
                if let Some(b) = bytes {
                    line["bytes"] = json!(b);
                }
                line
            }
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".to_string());
                json!({"name": name, "error": msg})
            }
        };
        println!("{line}");
    }
}
