#!/usr/bin/env python3
"""Runs StableHLO MLIR text in real XLA (through jaxlib) and prints the results.

Usage: run_stablehlo.py MODULE.mlir ARGS.json [MODULE.mlir ARGS.json ...]

ARGS.json is a JSON list of arrays, each {"dtype": "float32", "shape": [2, 3],
"hex": "<raw little-endian bytes in hex, row-major>"} (bool is one byte per element).
For every (module, args) pair one JSON line is printed: {"outputs": [arrays in the
same format]} or {"error": "..."}, followed by {"seconds": {...}} timings on stderr.

Exit status 3 (with a message on stderr) means jax is not installed.
"""

import json
import sys
import time


def main(argv):
    if len(argv) % 2 != 0 or not argv:
        print(__doc__, file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        import jax
        import jax.numpy as jnp
        import numpy as np
        from jax._src.lib import xla_client
    except ImportError as e:
        print(f"jax is not importable: {e}", file=sys.stderr)
        return 3
    # 64-bit arguments must stay 64-bit (jax truncates them to 32 bits by default).
    jax.config.update("jax_enable_x64", True)
    device = jax.devices("cpu")[0]
    client = device.client
    import_s = time.perf_counter() - start
    for module_path, args_path in zip(argv[::2], argv[1::2]):
        t0 = time.perf_counter()
        try:
            with open(module_path) as f:
                text = f.read()
            with open(args_path) as f:
                specs = json.load(f)
            args = [
                np.frombuffer(bytes.fromhex(s["hex"]), dtype=jnp.dtype(s["dtype"])).reshape(s["shape"])
                for s in specs
            ]
            exe = client.compile_and_load(text.encode(), [device], xla_client.CompileOptions())
            t1 = time.perf_counter()
            results = exe.execute_sharded([jax.device_put(a, device) for a in args])
            outs = [np.asarray(shards[0]) for shards in results.disassemble_into_single_device_arrays()]
            record = {
                "outputs": [
                    {"dtype": o.dtype.name, "shape": list(o.shape), "hex": np.ascontiguousarray(o).tobytes().hex()}
                    for o in outs
                ]
            }
            t2 = time.perf_counter()
            print(
                json.dumps({"module": module_path, "seconds": {"compile": t1 - t0, "run": t2 - t1}}),
                file=sys.stderr,
            )
        except Exception as e:  # one failing module must not hide the others' results
            record = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(record), flush=True)
    print(json.dumps({"seconds": {"import": import_s, "total": time.perf_counter() - start}}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
