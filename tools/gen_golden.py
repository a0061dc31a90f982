#!/usr/bin/env python3
"""Generate golden JSON fixtures under tests/golden/ from real JAX.

Usage (see tools/README.md):
    python3 -m venv /tmp/jaxvenv && /tmp/jaxvenv/bin/pip install "jax[cpu]"
    /tmp/jaxvenv/bin/python tools/gen_golden.py [--out tests/golden]

Every topic is one function that returns a list of cases; each case is
computed by actually calling JAX, so the fixtures record JAX's behaviour
(including its surprises), not what we think it should be.  Reruns are
byte-identical (fixed seeds, no timestamps).
"""

import argparse
import json
import math
import os
import sys
import time
import warnings

import numpy as np

import jax

jax.config.update("jax_platforms", "cpu")
jax.config.update("jax_enable_x64", False)

import jax.numpy as jnp  # noqa: E402
import jax.nn as jnn  # noqa: E402
import jax.scipy.special as jss  # noqa: E402
from jax import lax  # noqa: E402
import ml_dtypes  # noqa: E402

DOC = {
    "format": (
        'Top level: {"jax_version", "doc", "cases": [CASE...]}. '
        'CASE: {"name", "fn", "x64", "args": [ARG...], "kwargs": {..}, "out": OUT} '
        'plus optional "index" (getitem/at_* cases), "value" (at_* cases), '
        '"error" (exception class name; then "out" is null), "note".'
    ),
    "array": (
        'ARRAY = {"dtype": numpy dtype name, "shape": [..], "weak_type": bool, '
        '"data": [flat row-major values]}. Floats are written as the exact Python '
        'float (repr) of the stored value; NaN/Inf are the strings "nan", "inf", '
        '"-inf". Integers (incl. int64/uint64) are exact JSON integers; bools are '
        "JSON booleans. A shape [] array has one data element."
    ),
    "arg": (
        'ARG = ARRAY (a concrete input array, never weak) | {"scalar": v} (a Python '
        "scalar, i.e. weakly typed; v is int, float (or \"nan\"/\"inf\"/\"-inf\") or bool; "
        "a Python float is always written with a '.' or exponent (3.0), a Python int never is (3)) "
        "| a JSON string (a Python str positional arg, e.g. einsum subscripts) "
        "| a JSON list of ARGs (a Python sequence argument, e.g. for concatenate/stack, "
        "or the operand tuple of lax.sort) | null (Python None, e.g. clip's missing bound)."
    ),
    "out": "OUT = ARRAY | [ARRAY...] (tuple/list results, e.g. split, lax.top_k, lax.sort).",
    "kwargs": (
        "Keyword arguments passed by JAX's own parameter names, JSON-encoded: tuples "
        "become lists, non-finite floats become \"nan\"/\"inf\"/\"-inf\", dtypes are "
        "numpy dtype names. Special: for lax.reduce_window, kwargs.computation is "
        '"max" | "add" | "min" (the reducer, lax.max/lax.add/lax.min) and init_value is '
        "a float."
    ),
    "fn": (
        "Bare names are jax.numpy functions (e.g. \"add\", \"floor_divide\"); "
        "\"lax.X\" = jax.lax.X, \"nn.X\" = jax.nn.X, \"scipy.special.X\" = "
        "jax.scipy.special.X. Indexing pseudo-functions: \"getitem\" = x[index]; "
        "\"at_set\"/\"at_add\"/\"at_mul\"/\"at_min\"/\"at_max\"/\"at_get\" = "
        "x.at[index].set(value, **kwargs) etc. (at_get has no value). \"astype\" = "
        "args[0].astype(kwargs.dtype)."
    ),
    "index": (
        "INDEX = list of ITEMs forming the Python index tuple. ITEM = "
        '{"int": n} (static Python int) | {"slice": [start|null, stop|null, step|null]} '
        '| {"newaxis": true} | {"ellipsis": true} | {"array": ARRAY} (an int or bool '
        "jax array; a shape-[] int array is a dynamic (traced-style) scalar index)."
    ),
    "x64": (
        "x64=true means jax_enable_x64 was on for that case (weak Python ints/floats "
        "then default to int64/float64); x64=false is JAX's default mode (weak int -> "
        "int32, weak float -> float32, no 64-bit arrays)."
    ),
}


# --------------------------------------------------------------------------
# Encoding helpers
# --------------------------------------------------------------------------

def enc_float(v):
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def dtype_name(dt):
    dt = np.dtype(dt)
    if dt == np.dtype(ml_dtypes.bfloat16):
        return "bfloat16"
    return dt.name


def enc_array(x, weak=None):
    if weak is None:
        weak = bool(getattr(x, "weak_type", False))
    a = np.asarray(x)
    dt = a.dtype
    name = dtype_name(dt)
    flat = a.reshape(-1)
    if dt == np.bool_:
        data = [bool(v) for v in flat.tolist()]
    elif np.issubdtype(dt, np.integer):
        data = [int(v) for v in flat.tolist()]
    elif name in ("float16", "bfloat16", "float32", "float64"):
        data = [enc_float(v) for v in flat.astype(np.float64).tolist()]
    else:
        raise TypeError(f"unsupported dtype {dt}")
    return {"dtype": name, "shape": [int(s) for s in a.shape], "weak_type": weak, "data": data}


def enc_scalar(v):
    if isinstance(v, bool):
        return {"scalar": v}
    if isinstance(v, int):
        return {"scalar": int(v)}
    return {"scalar": enc_float(v)}


def enc_arg(a):
    if a is None:
        return None
    if isinstance(a, (bool, int, float)):
        return enc_scalar(a)
    if isinstance(a, str):
        return a
    if isinstance(a, (list, tuple)):
        return [enc_arg(e) for e in a]
    if isinstance(a, (np.ndarray, np.generic)):
        return enc_array(a, weak=False)
    if isinstance(a, jax.Array):
        return enc_array(a)
    raise TypeError(f"cannot encode arg {type(a)}")


def enc_kw(v):
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return enc_float(v)
    if isinstance(v, (list, tuple)):
        return [enc_kw(e) for e in v]
    if isinstance(v, dict):
        return {k: enc_kw(e) for k, e in v.items()}
    if isinstance(v, (np.ndarray, np.generic, jax.Array)):
        return enc_array(v, weak=False)
    if isinstance(v, np.dtype) or isinstance(v, type):
        return dtype_name(v)
    raise TypeError(f"cannot encode kwarg {type(v)}")


def enc_out(r):
    if isinstance(r, (list, tuple)):
        return [enc_out(e) for e in r]
    return enc_array(r)


def to_jax(a):
    """Convert a spec argument (numpy arrays -> jax arrays, keep Python scalars)."""
    if isinstance(a, (np.ndarray, np.generic)):
        return jnp.asarray(a)
    if isinstance(a, list):
        return [to_jax(e) for e in a]
    if isinstance(a, tuple):
        return tuple(to_jax(e) for e in a)
    return a


def arr(data, dtype):
    """numpy array from (nested) Python data with an explicit dtype."""
    if dtype == "bfloat16":
        return np.asarray(np.asarray(data, dtype=np.float64), dtype=ml_dtypes.bfloat16)
    return np.asarray(data, dtype=np.dtype(dtype))


def rnd(seed, shape, lo=-3.0, hi=3.0, decimals=2, dtype="float32"):
    rng = np.random.default_rng(seed)
    v = np.round(rng.uniform(lo, hi, size=shape), decimals)
    return arr(v, dtype)


def rint(seed, shape, lo=-4, hi=5, dtype="int32"):
    rng = np.random.default_rng(seed)
    return arr(rng.integers(lo, hi, size=shape), dtype)


def iota(shape, dtype="float32", start=0):
    n = int(np.prod(shape)) if len(shape) else 1
    return arr(np.arange(start, start + n).reshape(shape), dtype)


# --------------------------------------------------------------------------
# Case runner
# --------------------------------------------------------------------------

class Cases:
    def __init__(self):
        self.cases = []
        self.names = set()

    def add(self, name, fn, call, args=(), kwargs=None, x64=False, extra=None, note=None):
        """Run `call(*jax_args, **kwargs)` and record the case.

        fn: the recorded function name; call: the Python callable to run.
        """
        kwargs = dict(kwargs or {})
        if name in self.names:
            raise ValueError(f"duplicate case name {name}")
        self.names.add(name)
        jax.config.update("jax_enable_x64", bool(x64))
        try:
            case = {"name": name, "fn": fn, "x64": bool(x64)}
            case["args"] = [enc_arg(a) for a in args]
            case["kwargs"] = {k: enc_kw(v) for k, v in kwargs.items()}
            if extra:
                case.update(extra)
            if note:
                case["note"] = note
            try:
                jargs = [to_jax(a) for a in args]
                res = call(*jargs, **kwargs)
                res = jax.block_until_ready(res)
                case["out"] = enc_out(res)
            except Exception as e:  # record JAX's refusal, it's part of the contract
                case["out"] = None
                case["error"] = type(e).__name__
                print(f"  [error recorded] {name}: {type(e).__name__}: {str(e)[:120]}",
                      file=sys.stderr)
            self.cases.append(case)
        finally:
            jax.config.update("jax_enable_x64", False)

    def jnp_(self, name, fn, *args, x64=False, note=None, **kwargs):
        """Shortcut: fn is a dotted name resolved against jnp / lax / nn / scipy.special."""
        self.add(name, fn, resolve(fn), args, kwargs, x64=x64, note=note)


def resolve(fn):
    if fn.startswith("lax."):
        return getattr(lax, fn[4:])
    if fn.startswith("nn."):
        return getattr(jnn, fn[3:])
    if fn.startswith("scipy.special."):
        return getattr(jss, fn[len("scipy.special."):])
    if fn.startswith("linalg."):
        return getattr(jnp.linalg, fn[len("linalg."):])
    return getattr(jnp, fn)


# --------------------------------------------------------------------------
# 1. Type promotion
# --------------------------------------------------------------------------

PROMO_DTYPES = ["bool", "uint8", "uint16", "uint32", "int8", "int16", "int32",
                "bfloat16", "float16", "float32"]


def promo_operand(kind):
    if kind == "weak_int":
        return 3
    if kind == "weak_float":
        return 0.25
    if kind == "bool":
        return arr([True, False], "bool")
    if kind in ("bfloat16", "float16", "float32", "float64"):
        return arr([0.5, 1.5], kind)
    return arr([1, 2], kind)


def topic_promotion():
    c = Cases()
    kinds = PROMO_DTYPES + ["weak_int", "weak_float"]
    for a in kinds:
        for b in kinds:
            c.jnp_(f"add_{a}_{b}", "add", promo_operand(a), promo_operand(b))
    # Weak bool scalar.
    c.jnp_("add_int8_weakbool", "add", arr([1, 2], "int8"), True)
    c.jnp_("add_bool_weakbool", "add", arr([True, False], "bool"), True)
    # Wrapping of weak ints that do not fit the array dtype.
    c.jnp_("add_int8_weakint_wrap", "add", arr([1], "int8"), 1000,
           note="weak int 1000 is converted to int8 with wraparound (1000 -> -24)")
    c.jnp_("add_uint8_weakint_neg", "add", arr([1, 200], "uint8"), -1)
    c.jnp_("add_int8_int8_overflow", "add", arr([127, -128], "int8"), arr([1, -1], "int8"))
    c.jnp_("multiply_uint8_uint8_overflow", "multiply", arr([16, 255], "uint8"), arr([16, 2], "uint8"))
    c.jnp_("add_float16_weakfloat_big", "add", arr([1.0], "float16"), 70000.0,
           note="weak float that overflows float16 becomes inf")
    c.jnp_("add_int32_weakfloat", "add", arr([1, 2], "int32"), 0.5)
    c.jnp_("multiply_bool_bool", "multiply", arr([True, False], "bool"), arr([True, True], "bool"))
    c.jnp_("subtract_uint8_uint8_wrap", "subtract", arr([1], "uint8"), arr([2], "uint8"))
    # 64-bit promotion with x64 enabled.
    pairs64 = [
        ("int64", "uint64"), ("float32", "float64"), ("int64", "float16"),
        ("int32", "uint32"), ("uint32", "int8"), ("int64", "int8"), ("uint64", "uint8"),
        ("int64", "bfloat16"), ("uint64", "float32"), ("float64", "bfloat16"),
        ("int64", "weak_int"), ("int64", "weak_float"), ("float64", "weak_int"),
        ("uint64", "weak_int"), ("int32", "weak_int"), ("float32", "weak_float"),
        ("bool", "weak_int"), ("bool", "weak_float"), ("weak_int", "weak_int"),
        ("weak_int", "weak_float"), ("int8", "weak_float"), ("uint64", "int64"),
    ]
    for a, b in pairs64:
        c.jnp_(f"add_x64_{a}_{b}", "add", promo_operand(a), promo_operand(b), x64=True)
    c.jnp_("add_x64_uint64_big", "add", arr([2**64 - 2, 2**63], "uint64"), arr([1, 1], "uint64"),
           x64=True)
    c.jnp_("add_x64_int64_big", "add", arr([2**63 - 2, -2**63], "int64"), arr([1, 1], "int64"),
           x64=True)
    # Conversions via astype (float -> int truncation, nan/inf handling).
    src = arr([-2.7, -0.5, 0.5, 2.7, 300.0, -300.0], "float32")
    for dt in ["int8", "uint8", "int32", "bool", "float16", "bfloat16"]:
        c.add(f"astype_float32_{dt}", "astype", lambda x, dtype: x.astype(dtype), [src],
              {"dtype": dt})
    c.add("astype_float32_nan_inf_int32", "astype", lambda x, dtype: x.astype(dtype),
          [arr([np.nan, np.inf, -np.inf, 3e9, -3e9], "float32")], {"dtype": "int32"})
    c.add("astype_int32_bool", "astype", lambda x, dtype: x.astype(dtype),
          [arr([0, 1, -1, 2], "int32")], {"dtype": "bool"})
    c.add("astype_int32_int8", "astype", lambda x, dtype: x.astype(dtype),
          [arr([127, 128, -129, 1000], "int32")], {"dtype": "int8"})
    c.add("astype_float32_bfloat16_rounding", "astype", lambda x, dtype: x.astype(dtype),
          [arr([1.00390625, 1.01171875, 3.14159, 1e-40], "float32")], {"dtype": "bfloat16"})
    c.add("astype_float32_float16_rounding", "astype", lambda x, dtype: x.astype(dtype),
          [arr([1.00048828125, 3.14159, 65520.0, 1e-8], "float32")], {"dtype": "float16"})
    # result_type without arrays.
    return c.cases


# --------------------------------------------------------------------------
# 2. Integer division / remainder
# --------------------------------------------------------------------------

def topic_intdiv():
    c = Cases()
    a_i = arr([7, -7, 7, -7, 6, -6, 0, 1], "int32")
    b_i = arr([2, 2, -2, -2, 3, -3, 5, -5], "int32")
    for fn in ["floor_divide", "remainder", "mod", "fmod", "true_divide", "divide",
               "lax.div", "lax.rem"]:
        c.jnp_(f"{fn}_int32", fn, a_i, b_i)
    c.jnp_("divmod_int32", "divmod", a_i, b_i)
    # Division by zero and INT_MIN / -1 for integers (XLA-defined behaviour).
    a_z = arr([7, -7, 0, -2147483648], "int32")
    b_z = arr([0, 0, 0, -1], "int32")
    for fn in ["floor_divide", "remainder", "fmod", "lax.div", "lax.rem"]:
        c.jnp_(f"{fn}_int32_by_zero", fn, a_z, b_z)
    a_u = arr([7, 200, 0, 5], "uint8")
    b_u = arr([2, 7, 3, 0], "uint8")
    for fn in ["floor_divide", "remainder", "lax.div", "lax.rem"]:
        c.jnp_(f"{fn}_uint8", fn, a_u, b_u)
    c.jnp_("floor_divide_int32_weakint", "floor_divide", a_i, 3)
    c.jnp_("remainder_int32_weakint_neg", "remainder", a_i, -3)
    c.jnp_("true_divide_int32_int32_dtype", "true_divide", arr([1, 2], "int32"), arr([2, 4], "int32"))
    c.jnp_("true_divide_int8_int8_dtype", "true_divide", arr([1, 2], "int8"), arr([2, 4], "int8"))
    # Floats: all sign combos, zero, inf, nan.
    a_f = arr([7.5, -7.5, 7.5, -7.5, 6.0, -6.0, 0.0, -0.0, 1.0, -1.0, 0.0, np.inf, 5.0, np.nan],
              "float32")
    b_f = arr([2.0, 2.0, -2.0, -2.0, 3.0, 3.0, 5.0, 5.0, 0.0, 0.0, 0.0, 2.0, np.inf, 1.0],
              "float32")
    for fn in ["floor_divide", "remainder", "mod", "fmod", "true_divide", "lax.div", "lax.rem"]:
        c.jnp_(f"{fn}_float32", fn, a_f, b_f)
    c.jnp_("divmod_float32", "divmod", a_f, b_f)
    c.jnp_("remainder_float32_neg_zero", "remainder", arr([-4.0, 4.0, -0.0], "float32"),
           arr([2.0, -2.0, 3.0], "float32"))
    c.jnp_("remainder_float32_small", "remainder", arr([-1e-8, 1e-8], "float32"),
           arr([1.0, -1.0], "float32"))
    c.jnp_("floor_divide_float32_weakfloat", "floor_divide", a_f, 0.5)
    return c.cases


# --------------------------------------------------------------------------
# 3. Rounding
# --------------------------------------------------------------------------

def topic_rounding():
    c = Cases()
    x = arr([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -2.7, -0.2, 0.2, 2.7, 3.5, -0.0, np.nan, np.inf,
             -np.inf, 1e9 + 0.5], "float32")
    for fn in ["round", "floor", "ceil", "trunc", "rint"]:
        c.jnp_(f"{fn}_float32", fn, x)
    y = arr([0.25, 0.35, 1.45, -0.25, -1.55, 2.675, 0.125, 123.456, -0.05, 0.05, 1.005, 9.995],
            "float32")
    for d in [1, 2, -1, 0]:
        c.jnp_(f"round_decimals_{d}".replace("-", "m"), "round", y, decimals=d)
    c.jnp_("round_int32", "round", arr([-15, -5, 5, 15, 25, 123], "int32"))
    c.jnp_("round_int32_decimals_m1", "round", arr([-15, -5, 5, 15, 25, 123], "int32"), decimals=-1)
    c.jnp_("floor_int32", "floor", arr([-3, 0, 3], "int32"))
    c.jnp_("round_float16", "round", arr([0.5, 1.5, 2.5, -0.5], "float16"))
    c.jnp_("round_bfloat16", "round", arr([0.5, 1.5, 2.5, -0.5], "bfloat16"))
    c.jnp_("lax.round_away", "lax.round", x, rounding_method=0,
           note="rounding_method 0 = AWAY_FROM_ZERO")
    c.jnp_("lax.round_even", "lax.round", x, rounding_method=1,
           note="rounding_method 1 = TO_NEAREST_EVEN")
    return c.cases


# --------------------------------------------------------------------------
# 4. Math
# --------------------------------------------------------------------------

def topic_math():
    c = Cases()
    gen = arr([-2.0, -1.0, -0.5, -0.0, 0.0, 0.25, 0.5, 1.0, 2.0, 10.0, np.nan, np.inf, -np.inf],
              "float32")
    pos = arr([0.0, 1e-6, 0.1, 0.5, 1.0, 2.0, 3.5, 100.0, np.inf, -1.0, np.nan], "float32")
    unit = arr([-1.0, -0.9, -0.5, 0.0, 0.3, 0.5, 0.99, 1.0, 1.5, -1.5, np.nan], "float32")
    ge1 = arr([1.0, 1.5, 2.0, 10.0, 0.5, np.inf, np.nan], "float32")
    angles = arr([-3.0, -1.5, -0.5, 0.0, 0.5, 1.0, 1.5707964, 3.1415927, 10.0, np.inf, np.nan],
                 "float32")
    for fn in ["exp", "exp2", "expm1", "sinh", "cosh", "tanh", "arcsinh", "arctan", "square",
               "reciprocal", "sign", "abs", "negative", "sinc", "deg2rad", "rad2deg", "cbrt",
               "signbit", "isnan", "isinf", "isfinite", "positive", "fabs"]:
        c.jnp_(f"{fn}_float32", fn, gen)
    for fn in ["log", "log1p", "log2", "log10", "sqrt", "cbrt", "rsqrt"]:
        if fn == "rsqrt":
            c.jnp_("lax.rsqrt_float32", "lax.rsqrt", pos)
        else:
            c.jnp_(f"{fn}_float32_pos", fn, pos)
    c.jnp_("log1p_float32_neg", "log1p", arr([-1.0, -0.5, -2.0, 1e-7], "float32"))
    for fn in ["arcsin", "arccos", "arctanh"]:
        c.jnp_(f"{fn}_float32", fn, unit)
    c.jnp_("arccosh_float32", "arccosh", ge1)
    for fn in ["sin", "cos", "tan"]:
        c.jnp_(f"{fn}_float32", fn, angles)
    # Binary float ops.
    a = arr([1.0, -1.0, 0.0, -0.0, 3.0, -3.0, 0.0, np.inf, np.nan, 2.0, 1.0], "float32")
    b = arr([1.0, 1.0, 0.0, 0.0, -4.0, -4.0, -1.0, np.inf, 1.0, np.nan, -0.0], "float32")
    for fn in ["arctan2", "hypot", "logaddexp", "logaddexp2", "maximum", "minimum", "fmax", "fmin",
               "copysign", "nextafter"]:
        c.jnp_(f"{fn}_float32", fn, a, b)
    c.jnp_("logaddexp_float32_inf", "logaddexp", arr([-np.inf, np.inf, -np.inf, 1000.0], "float32"),
           arr([-np.inf, np.inf, 0.0, 1000.0], "float32"))
    c.jnp_("lax.nextafter_float32", "lax.nextafter",
           arr([1.0, 1.0, 0.0, 0.0, -0.0, np.inf, 3.4028235e38, np.nan], "float32"),
           arr([2.0, 0.0, 1.0, -1.0, 1.0, 0.0, np.inf, 1.0], "float32"))
    # Power.
    base = arr([2.0, -2.0, 0.0, 0.5, -0.5, 4.0, 1.0, -8.0, np.nan, 0.0], "float32")
    expo = arr([3.0, 3.0, 0.0, -2.0, 2.0, 0.5, np.nan, 1.0 / 3.0, 0.0, -1.0], "float32")
    c.jnp_("power_float32_float32", "power", base, expo)
    c.jnp_("power_float32_weakint", "power", base, 3)
    c.jnp_("power_float32_weakint_neg", "power", base, -2)
    c.jnp_("power_float32_weakfloat", "power", base, 0.5)
    ib = arr([2, -2, 0, 3, -1, 1, 10], "int32")
    c.jnp_("power_int32_weakint", "power", ib, 3)
    c.jnp_("power_int32_int32", "power", ib, arr([3, 3, 0, 2, 5, 100, 9], "int32"))
    c.jnp_("power_int32_int32_neg_exp", "power", arr([2, 1, -1, 0], "int32"),
           arr([-1, -2, -3, -1], "int32"))
    c.jnp_("power_int32_overflow", "power", arr([2, 3], "int32"), arr([31, 21], "int32"))
    c.jnp_("power_int32_weakfloat", "power", ib, 2.0)
    c.jnp_("float_power_float32", "float_power", base, expo)
    c.jnp_("lax.integer_pow_float32_3", "lax.integer_pow", base, y=3)
    c.jnp_("lax.integer_pow_float32_m2", "lax.integer_pow", base, y=-2)
    c.jnp_("lax.integer_pow_float32_0", "lax.integer_pow", base, y=0)
    c.jnp_("lax.integer_pow_int32_5", "lax.integer_pow", ib, y=5)
    c.jnp_("lax.integer_pow_int32_0", "lax.integer_pow", ib, y=0)
    c.jnp_("lax.pow_float32_int32", "lax.pow", base, arr([3, 3, 0, -2, 2, 2, 5, 1, 0, -1], "int32"))
    # Integer elementwise.
    i32 = arr([-7, -1, 0, 1, 5, 2147483647, -2147483648], "int32")
    u8 = arr([0, 1, 5, 127, 128, 255], "uint8")
    for fn in ["abs", "sign", "square", "negative", "positive"]:
        c.jnp_(f"{fn}_int32", fn, i32)
        c.jnp_(f"{fn}_uint8", fn, u8)
    c.jnp_("sqrt_int32", "sqrt", arr([0, 1, 4, 9, 2], "int32"))
    c.jnp_("exp_int8", "exp", arr([0, 1, 2], "int8"))
    c.jnp_("sin_bool", "sin", arr([True, False], "bool"))
    c.jnp_("reciprocal_int32", "reciprocal", arr([1, 2, -1, 4], "int32"))
    c.jnp_("maximum_int32", "maximum", arr([1, -5, 7], "int32"), arr([2, -6, 7], "int32"))
    c.jnp_("maximum_uint8_int8", "maximum", arr([1, 200], "uint8"), arr([-1, 5], "int8"))
    c.jnp_("abs_float16", "abs", arr([-1.5, 0.0, -0.0, 65504.0, -np.inf], "float16"))
    c.jnp_("exp_bfloat16", "exp", arr([0.0, 1.0, -1.0, 10.0], "bfloat16"))
    c.jnp_("tanh_float16", "tanh", arr([0.0, 0.5, -3.0, 20.0], "float16"))
    # Clip / where.
    xc = arr([-3.0, -1.0, 0.0, 0.5, 2.0, 5.0, np.nan], "float32")
    c.jnp_("clip_float32", "clip", xc, -1.0, 2.0)
    c.jnp_("clip_float32_min_only", "clip", xc, -1.0, None)
    c.jnp_("clip_float32_max_only", "clip", xc, None, 1.0)
    c.jnp_("clip_float32_kw", "clip", xc, min=0.0, max=1.0)
    c.jnp_("clip_float32_array_bounds", "clip", xc,
           arr([0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0], "float32"), arr([1.0] * 7, "float32"))
    c.jnp_("clip_float32_inverted", "clip", xc, 2.0, -1.0,
           note="min > max: result is max (minimum(maximum(x, lo), hi))")
    c.jnp_("clip_int32_weakfloat", "clip", arr([-5, 0, 5], "int32"), -1.5, 2.5)
    c.jnp_("clip_uint8", "clip", arr([0, 100, 250], "uint8"), 10, 200)
    cond = arr([[True, False, True], [False, False, True]], "bool")
    xa = iota([2, 3])
    yb = arr([[-1.0, -2.0, -3.0]], "float32")
    c.jnp_("where_broadcast", "where", cond, xa, yb)
    c.jnp_("where_scalar_branches", "where", cond, 1.0, 0)
    c.jnp_("where_int_float", "where", cond, arr([1, 2, 3], "int32"), arr([0.5], "float32"))
    c.jnp_("where_nonbool_cond", "where", arr([0, 2, -1], "int32"), arr([1, 1, 1], "int8"),
           arr([0, 0, 0], "int8"))
    c.jnp_("where_one_arg", "where", arr([0.0, 1.0, 0.0, -2.0], "float32"), size=3, fill_value=-1,
           note="where(cond) == nonzero(cond); size/fill_value make it static-shape")
    c.jnp_("nonzero_2d", "nonzero", arr([[0, 1, 0], [2, 0, 3]], "int32"))
    # Special functions (lax).
    erfx = arr([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, np.inf, -np.inf, np.nan], "float32")
    c.jnp_("lax.erf_float32", "lax.erf", erfx)
    c.jnp_("lax.erfc_float32", "lax.erfc", erfx)
    c.jnp_("lax.erf_inv_float32", "lax.erf_inv",
           arr([-1.0, -0.99, -0.5, 0.0, 0.3, 0.5, 0.999, 1.0, 1.5, np.nan], "float32"))
    gx = arr([0.5, 1.0, 1.5, 2.0, 3.0, 4.5, 10.0, -0.5, -1.5, 0.0, -1.0, np.inf], "float32")
    c.jnp_("lax.lgamma_float32", "lax.lgamma", gx)
    c.jnp_("lax.digamma_float32", "lax.digamma", gx)
    c.jnp_("scipy.special.gammaln_float32", "scipy.special.gammaln", gx)
    c.jnp_("scipy.special.erf_float32", "scipy.special.erf", erfx)
    c.jnp_("lax.logistic_float32", "lax.logistic", gen)
    # Bit ops.
    c.jnp_("lax.population_count_int32", "lax.population_count",
           arr([0, 1, 7, -1, -2147483648, 255, 2147483647], "int32"))
    c.jnp_("lax.population_count_uint8", "lax.population_count", u8)
    c.jnp_("lax.clz_int32", "lax.clz", arr([0, 1, 7, -1, 255, 65536], "int32"))
    vals = arr([1, -1, 5, -8, 2147483647, -2147483648, 1, -1, 1, -1], "int32")
    shifts = arr([1, 1, 2, 2, 1, 1, 31, 31, 32, 33], "int32")
    for fn in ["lax.shift_left", "lax.shift_right_logical", "lax.shift_right_arithmetic"]:
        c.jnp_(f"{fn}_int32", fn, vals, shifts)
    uv = arr([1, 128, 255, 3, 255, 1, 200], "uint8")
    us = arr([1, 1, 4, 7, 8, 9, 0], "uint8")
    for fn in ["lax.shift_left", "lax.shift_right_logical", "lax.shift_right_arithmetic"]:
        c.jnp_(f"{fn}_uint8", fn, uv, us)
    c.jnp_("left_shift_int32", "left_shift", vals, shifts)
    c.jnp_("right_shift_int32", "right_shift", vals, shifts)
    c.jnp_("right_shift_uint8", "right_shift", uv, us)
    c.jnp_("bitwise_and_int32", "bitwise_and", vals, shifts)
    c.jnp_("bitwise_or_uint8", "bitwise_or", uv, us)
    c.jnp_("bitwise_xor_int32", "bitwise_xor", vals, shifts)
    c.jnp_("bitwise_not_int32", "bitwise_not", vals)
    c.jnp_("bitwise_not_uint8", "bitwise_not", uv)
    c.jnp_("invert_bool", "invert", arr([True, False], "bool"))
    c.jnp_("logical_and_float32", "logical_and", arr([0.0, 1.0, np.nan, -0.0], "float32"),
           arr([1.0, 1.0, 1.0, 1.0], "float32"))
    c.jnp_("logical_not_int32", "logical_not", arr([0, 1, -3], "int32"))
    c.jnp_("logical_xor_bool", "logical_xor", arr([True, True, False], "bool"),
           arr([True, False, False], "bool"))
    # Comparisons with NaN / mixed types.
    c.jnp_("equal_float32_nan", "equal", a, b)
    c.jnp_("less_float32_nan", "less", a, b)
    c.jnp_("not_equal_float32_nan", "not_equal", a, b)
    c.jnp_("greater_equal_int32_weakfloat", "greater_equal", arr([1, 2, 3], "int32"), 1.5)
    c.jnp_("less_uint8_int8", "less", arr([1, 200], "uint8"), arr([-1, 5], "int8"))
    c.jnp_("isclose_float32", "isclose", arr([1.0, 1.0, np.nan, np.inf], "float32"),
           arr([1.0 + 1e-6, 1.1, np.nan, np.inf], "float32"))
    return c.cases


# --------------------------------------------------------------------------
# 5. Reductions
# --------------------------------------------------------------------------

def topic_reductions():
    c = Cases()
    x23 = rnd(1, (2, 3), decimals=1)
    x234 = rnd(2, (2, 3, 4), decimals=1)
    axes23 = [None, 0, 1, -1, (0, 1)]
    axes234 = [None, 0, 2, (0, 2), (1, 2), -2]

    def axname(ax):
        if ax is None:
            return "none"
        if isinstance(ax, tuple):
            return "t" + "_".join(str(a).replace("-", "m") for a in ax)
        return str(ax).replace("-", "m")

    for fn in ["sum", "mean", "prod", "max", "min", "var", "std", "all", "any"]:
        for ax in axes23:
            c.jnp_(f"{fn}_2x3_ax{axname(ax)}", fn, x23, axis=ax)
        c.jnp_(f"{fn}_2x3_ax1_keepdims", fn, x23, axis=1, keepdims=True)
        c.jnp_(f"{fn}_2x3_axnone_keepdims", fn, x23, axis=None, keepdims=True)
        for ax in axes234:
            c.jnp_(f"{fn}_2x3x4_ax{axname(ax)}", fn, x234, axis=ax)
        c.jnp_(f"{fn}_2x3x4_t0_2_keepdims", fn, x234, axis=(0, 2), keepdims=True)
    for fn in ["var", "std"]:
        for ax in [None, 0, 1]:
            c.jnp_(f"{fn}_2x3_ax{axname(ax)}_ddof1", fn, x23, axis=ax, ddof=1)
        c.jnp_(f"{fn}_2x3x4_t0_2_ddof1", fn, x234, axis=(0, 2), ddof=1)
        c.jnp_(f"{fn}_1elem_ddof1", fn, arr([3.0], "float32"), ddof=1,
               note="ddof >= n gives nan/inf")
        c.jnp_(f"{fn}_int32", fn, arr([1, 2, 3, 4], "int32"))
    for fn in ["argmax", "argmin"]:
        for ax in [None, 0, 1, -1]:
            c.jnp_(f"{fn}_2x3_ax{axname(ax)}", fn, x23, axis=ax)
        c.jnp_(f"{fn}_2x3_ax1_keepdims", fn, x23, axis=1, keepdims=True)
        c.jnp_(f"{fn}_2x3x4_ax1", fn, x234, axis=1)
        c.jnp_(f"{fn}_ties", fn, arr([1.0, 3.0, 3.0, -1.0, -1.0, 3.0], "float32"))
        c.jnp_(f"{fn}_nan", fn, arr([1.0, np.nan, 5.0, np.nan, -5.0], "float32"))
        c.jnp_(f"{fn}_nan_2d_ax1", fn, arr([[1.0, np.nan, 2.0], [0.0, 4.0, np.nan]], "float32"),
               axis=1)
        c.jnp_(f"{fn}_inf", fn, arr([-np.inf, np.inf, 0.0, np.inf, -np.inf], "float32"))
        c.jnp_(f"{fn}_int32_ties", fn, arr([[2, 5, 5], [-1, -1, 0]], "int32"), axis=1)
        c.jnp_(f"{fn}_bool", fn, arr([False, True, True, False], "bool"))
        c.jnp_(f"{fn}_negzero", fn, arr([0.0, -0.0, 0.0], "float32"))
    c.jnp_("max_nan", "max", arr([1.0, np.nan, 5.0], "float32"))
    c.jnp_("min_nan_axis", "min", arr([[1.0, np.nan], [2.0, 3.0]], "float32"), axis=0)
    c.jnp_("nanmax_nan", "nanmax", arr([1.0, np.nan, 5.0], "float32"))
    c.jnp_("nansum_nan", "nansum", arr([1.0, np.nan, 5.0], "float32"))
    c.jnp_("sum_inf_minus_inf", "sum", arr([np.inf, -np.inf, 1.0], "float32"))
    c.jnp_("max_negzero", "max", arr([-0.0, 0.0], "float32"))
    c.jnp_("min_negzero", "min", arr([0.0, -0.0], "float32"))
    c.jnp_("max_empty_initial", "max", arr(np.zeros((0,)), "float32"), initial=-1.0)
    c.jnp_("sum_empty", "sum", arr(np.zeros((0,)), "float32"))
    c.jnp_("prod_empty", "prod", arr(np.zeros((0, 3)), "float32"), axis=0)
    c.jnp_("mean_empty", "mean", arr(np.zeros((0,)), "float32"))
    c.jnp_("max_empty", "max", arr(np.zeros((0,)), "float32"))
    c.jnp_("max_empty_int32", "max", arr(np.zeros((0,)), "int32"))
    c.jnp_("all_empty", "all", arr(np.zeros((0,)), "bool"))
    c.jnp_("any_empty", "any", arr(np.zeros((0,)), "bool"))
    c.jnp_("argmax_empty", "argmax", arr(np.zeros((0,)), "float32"))
    # dtype of integer / bool reductions.
    b = arr([[True, False, True], [True, True, False]], "bool")
    i8 = arr([[100, 100, -100], [127, 1, 2]], "int8")
    u8 = arr([[200, 200, 1], [255, 0, 9]], "uint8")
    i16 = arr([[30000, 30000, 1], [2, 3, 4]], "int16")
    u32 = arr([[4000000000, 1, 2], [3, 4, 5]], "uint32")
    f16 = arr([[60000.0, 60000.0, 1.0], [0.5, 0.25, 2.0]], "float16")
    bf16 = arr([[1.5, 2.5, 256.0], [1.0, 1.0, 1.0]], "bfloat16")
    for nm, v in [("bool", b), ("int8", i8), ("uint8", u8), ("int16", i16), ("uint32", u32),
                  ("float16", f16), ("bfloat16", bf16)]:
        for fn in ["sum", "prod", "mean", "max", "cumsum"]:
            c.jnp_(f"{fn}_{nm}", fn, v)
        c.jnp_(f"sum_{nm}_ax1", "sum", v, axis=1)
        c.jnp_(f"var_{nm}", "var", v)
    c.jnp_("sum_int8_dtype_int8", "sum", i8, dtype="int8")
    c.jnp_("sum_float32_dtype_int32", "sum", x23, dtype="int32")
    c.jnp_("mean_int32_dtype_float16", "mean", arr([1, 2, 4], "int32"), dtype="float16")
    c.jnp_("all_float32", "all", arr([1.0, np.nan, -0.0], "float32"))
    c.jnp_("any_float32", "any", arr([0.0, -0.0, np.nan], "float32"))
    c.jnp_("all_int32_ax0", "all", arr([[1, 0], [2, 3]], "int32"), axis=0)
    c.jnp_("sum_int64_x64", "sum", arr([2**40, 2**40], "int64"), x64=True)
    c.jnp_("sum_int8_x64", "sum", i8, x64=True)
    c.jnp_("sum_bool_x64", "sum", b, x64=True)
    c.jnp_("sum_uint8_x64", "sum", u8, x64=True)
    c.jnp_("mean_int32_x64", "mean", arr([1, 2, 4], "int32"), x64=True)
    c.jnp_("mean_float32_x64", "mean", x23, x64=True)
    # logsumexp.
    ls = arr([[1.0, 2.0, 3.0], [-np.inf, -np.inf, -np.inf]], "float32")
    ls2 = arr([[1000.0, 1000.0, -5.0], [np.inf, 1.0, 0.0]], "float32")
    for fn in ["nn.logsumexp", "scipy.special.logsumexp"]:
        for ax in [None, 0, 1]:
            c.jnp_(f"{fn}_ax{axname(ax)}", fn, x23, axis=ax)
        c.jnp_(f"{fn}_2x3x4_t0_2", fn, x234, axis=(0, 2))
        c.jnp_(f"{fn}_ax1_keepdims", fn, x23, axis=1, keepdims=True)
        c.jnp_(f"{fn}_neginf_row", fn, ls, axis=1)
        c.jnp_(f"{fn}_large_inf", fn, ls2, axis=1)
        c.jnp_(f"{fn}_with_b", fn, x23, axis=1, b=arr([[1.0, 2.0, 0.5]], "float32"))
        c.jnp_(f"{fn}_return_sign", fn, x23, axis=1, b=arr([[1.0, -2.0, 0.5]], "float32"),
               return_sign=True)
    # Cumulative.
    for fn in ["cumsum", "cumprod"]:
        c.jnp_(f"{fn}_2x3_axnone", fn, x23)
        for ax in [0, 1, -1]:
            c.jnp_(f"{fn}_2x3_ax{axname(ax)}", fn, x23, axis=ax)
        c.jnp_(f"{fn}_2x3x4_ax1", fn, x234, axis=1)
        c.jnp_(f"{fn}_int32", fn, arr([[1, 2, 3], [4, 5, 6]], "int32"), axis=1)
        c.jnp_(f"{fn}_nan", fn, arr([1.0, np.nan, 2.0], "float32"))
    c.jnp_("cumsum_int8_dtype", "cumsum", arr([100, 100, 100], "int8"))
    c.jnp_("cumulative_sum_include_initial", "cumulative_sum", x23, axis=1, include_initial=True)
    c.jnp_("lax.cummax_float32", "lax.cummax", arr([1.0, 3.0, 2.0, np.nan, 5.0], "float32"), axis=0)
    c.jnp_("lax.cummin_reverse", "lax.cummin", arr([1.0, 3.0, 0.0, 4.0, 5.0], "float32"), axis=0,
           reverse=True)
    c.jnp_("lax.cumsum_reverse", "lax.cumsum", arr([1, 2, 3, 4], "int32"), axis=0, reverse=True)
    c.jnp_("count_nonzero_2x3", "count_nonzero", arr([[0, 1, 2], [0, 0, 3]], "int32"), axis=1)
    c.jnp_("average_weights", "average", x23, axis=1, weights=arr([1.0, 2.0, 3.0], "float32"))
    c.jnp_("median_2x3", "median", x23, axis=1)
    c.jnp_("ptp_2x3", "ptp", x23, axis=1)
    return c.cases


# --------------------------------------------------------------------------
# 6. Indexing
# --------------------------------------------------------------------------

def idx_int(n):
    return {"int": n}


def idx_slice(a=None, b=None, s=None):
    return {"slice": [a, b, s]}


NEWAXIS = {"newaxis": True}
ELLIPSIS = {"ellipsis": True}


def idx_arr(data, dtype="int32"):
    return {"array": arr(data, dtype)}


def decode_index(items):
    out = []
    for it in items:
        if "int" in it:
            out.append(it["int"])
        elif "slice" in it:
            out.append(slice(*it["slice"]))
        elif "newaxis" in it:
            out.append(None)
        elif "ellipsis" in it:
            out.append(Ellipsis)
        elif "array" in it:
            out.append(jnp.asarray(it["array"]))
        else:
            raise ValueError(it)
    return tuple(out)


def enc_index(items):
    res = []
    for it in items:
        if "array" in it:
            res.append({"array": enc_array(it["array"], weak=False)})
        else:
            res.append(dict(it))
    return res


def topic_indexing():
    c = Cases()
    v = iota([6])
    m = iota([3, 4])
    t = iota([2, 3, 4])

    def getitem(name, x, items, note=None):
        c.add(name, "getitem", lambda a: a[decode_index(items)], [x],
              extra={"index": enc_index(items)}, note=note)

    def at(name, op, x, items, value=None, note=None, **kw):
        def call(a, **kw):
            ref = a.at[decode_index(items)]
            if op == "get":
                return ref.get(**kw)
            val = to_jax(value)
            return getattr(ref, op)(val, **kw)
        extra = {"index": enc_index(items)}
        if op != "get":
            extra["value"] = enc_arg(value)
        c.add(name, f"at_{op}", call, [x], kw, extra=extra, note=note)

    # Basic integer indexing.
    for i in [0, 5, -1, -6, 6, -7, 100]:
        getitem(f"getitem_1d_int_{i}".replace("-", "m"), v, [idx_int(i)],
                note="static out-of-range Python int: JAX clamps (no IndexError)"
                if i in (6, -7, 100) else None)
    for i in [0, 5, -1, 6, 100, -7, -100]:
        getitem(f"getitem_1d_dynint_{i}".replace("-", "m"), v, [idx_arr(i)],
                note="0-d int array index: out of range is clamped (after negative wrap)")
    getitem("getitem_2d_int_int", m, [idx_int(1), idx_int(-1)])
    getitem("getitem_2d_row", m, [idx_int(-2)])
    # Slices.
    for nm, sl in [("rev", (None, None, -1)), ("5_1_m2", (5, 1, -2)), ("m3_", (-3, None, None)),
                   ("1_4", (1, 4, None)), ("step2", (None, None, 2)), ("m1_m5_m1", (-1, -5, -1)),
                   ("oob", (2, 100, None)), ("empty", (4, 2, None)), ("m100_2", (-100, 2, None)),
                   ("1_m1_3", (1, -1, 3)), ("rev_step3", (None, None, -3)),
                   ("10_none_m2", (10, None, -2)), ("none_m10_m1", (None, -10, -1))]:
        getitem(f"getitem_1d_slice_{nm}", v, [idx_slice(*sl)])
    getitem("getitem_2d_slice_slice", m, [idx_slice(None, None, -1), idx_slice(1, None, 2)])
    getitem("getitem_2d_int_slice", m, [idx_int(1), idx_slice(None, None, -2)])
    getitem("getitem_2d_slice_int", m, [idx_slice(0, 2), idx_int(-1)])
    # newaxis / ellipsis.
    getitem("getitem_newaxis_front", m, [NEWAXIS])
    getitem("getitem_newaxis_mid", m, [idx_slice(), NEWAXIS, idx_slice()])
    getitem("getitem_newaxis_end", m, [ELLIPSIS, NEWAXIS])
    getitem("getitem_ellipsis_int", t, [ELLIPSIS, idx_int(1)])
    getitem("getitem_int_ellipsis", t, [idx_int(-1), ELLIPSIS])
    getitem("getitem_ellipsis_mid", t, [idx_int(0), ELLIPSIS, idx_slice(None, None, -1)])
    getitem("getitem_ellipsis_only", t, [ELLIPSIS])
    getitem("getitem_empty_tuple", m, [])
    getitem("getitem_newaxis_int_newaxis", m, [NEWAXIS, idx_int(1), NEWAXIS, idx_slice(1, 3)])
    # Integer array indexing.
    getitem("getitem_1d_intarray", v, [idx_arr([0, 2, -1, 2])])
    getitem("getitem_1d_intarray_oob", v, [idx_arr([0, 6, 100, -7, -100])],
            note="out-of-bounds array indices are clamped (negative ones wrapped first)")
    getitem("getitem_1d_intarray_2d", v, [idx_arr([[0, 1], [5, 4]])])
    getitem("getitem_2d_intarray_rows", m, [idx_arr([2, 0])])
    getitem("getitem_2d_two_intarrays", m, [idx_arr([0, 2, 1]), idx_arr([3, 0, -1])])
    getitem("getitem_2d_intarray_broadcast", m, [idx_arr([[0], [2]]), idx_arr([1, 3])])
    getitem("getitem_2d_slice_intarray", m, [idx_slice(), idx_arr([3, 3, 0])])
    getitem("getitem_3d_adv_separated", t, [idx_arr([0, 1]), idx_slice(), idx_arr([1, 2])],
            note="advanced indices separated by a slice: advanced dims go first")
    getitem("getitem_3d_adv_adjacent", t, [idx_slice(), idx_arr([0, 2]), idx_arr([1, 3])],
            note="adjacent advanced indices: result dims replace them in place")
    getitem("getitem_3d_int_slice_array", t, [idx_int(1), idx_slice(), idx_arr([0, 3])],
            note="int counts as advanced index here")
    getitem("getitem_2d_intarray_oob_2d", m, [idx_arr([5, -5]), idx_arr([10, -10])])
    getitem("getitem_uint8_indices", v, [idx_arr([1, 255], "uint8")])
    # Boolean masks.
    getitem("getitem_1d_bool_mask", v, [idx_arr([True, False, True, True, False, False], "bool")])
    getitem("getitem_2d_bool_mask", m, [idx_arr([[True, False, False, True],
                                                 [False, False, False, False],
                                                 [True, True, True, True]], "bool")])
    getitem("getitem_2d_bool_rows", m, [idx_arr([False, True, True], "bool")])
    getitem("getitem_2d_slice_bool_cols", m, [idx_slice(), idx_arr([True, False, True, False],
                                                                   "bool")])
    getitem("getitem_scalar_bool_true", v, [idx_arr(True, "bool")])
    # take.
    c.jnp_("take_default_fill", "take", v, arr([0, 5, 6, -1, -7, 100], "int32"),
           note="default mode for take is 'fill': out-of-bounds -> NaN (floats)")
    c.jnp_("take_clip", "take", v, arr([0, 5, 6, -1, -7, 100], "int32"), mode="clip")
    c.jnp_("take_wrap", "take", v, arr([0, 5, 6, -1, -7, 100], "int32"), mode="wrap")
    c.jnp_("take_fill_value", "take", v, arr([0, 6], "int32"), mode="fill", fill_value=-9.0)
    c.jnp_("take_int_default_fill", "take", arr([10, 20, 30], "int32"), arr([0, 3, -4], "int32"))
    c.jnp_("take_uint8_default_fill", "take", arr([10, 20, 30], "uint8"), arr([0, 3], "int32"))
    c.jnp_("take_bool_default_fill", "take", arr([False, False], "bool"), arr([0, 3], "int32"))
    c.jnp_("take_axis1", "take", m, arr([3, 0, 4], "int32"), axis=1)
    c.jnp_("take_axis0_2d_idx", "take", m, arr([[0, 2], [1, 1]], "int32"), axis=0)
    c.jnp_("take_axis_none", "take", m, arr([0, 11, 12], "int32"))
    ia = arr([[0, 2, 1, 3], [3, 3, 0, 0], [1, 0, 5, -1]], "int32")
    c.jnp_("take_along_axis_ax1", "take_along_axis", m, ia, axis=1)
    c.jnp_("take_along_axis_ax0", "take_along_axis", m, arr([[2, 0, 1, 1]], "int32"), axis=0)
    c.jnp_("take_along_axis_clip", "take_along_axis", m, ia, axis=1, mode="clip")
    c.jnp_("take_along_axis_argsort", "take_along_axis", rnd(3, (2, 4), decimals=1),
           arr([[3, 2, 1, 0], [0, 1, 2, 3]], "int32"), axis=-1)
    c.jnp_("take_along_axis_none", "take_along_axis", m, arr([11, 0, 5], "int32"), axis=None)
    # Scatter via .at.
    at("at_set_basic", "set", v, [idx_int(2)], 9.0)
    at("at_set_neg", "set", v, [idx_int(-1)], 9.0)
    at("at_set_slice", "set", v, [idx_slice(None, None, 2)], arr([7.0, 8.0, 9.0], "float32"))
    at("at_set_slice_broadcast", "set", m, [idx_slice(), idx_int(1)], -1.0)
    at("at_set_array_oob", "set", v, [idx_arr([0, 7, -1, -7, 100])],
       arr([10.0, 11.0, 12.0, 13.0, 14.0], "float32"),
       note="out-of-bounds scatter indices are dropped (negatives wrapped once first)")
    at("at_set_dup", "set", v, [idx_arr([1, 1, 1])], arr([5.0, 6.0, 7.0], "float32"),
       note="duplicate indices with set: which update wins is unspecified in general")
    at("at_add_dup", "add", v, [idx_arr([1, 1, 3, 1])], arr([1.0, 2.0, 3.0, 4.0], "float32"),
       note="duplicates accumulate")
    at("at_add_oob", "add", v, [idx_arr([0, 6, -7, 5])], arr([1.0, 1.0, 1.0, 1.0], "float32"))
    at("at_add_scalar_oob_static", "add", v, [idx_int(10)], 1.0)
    at("at_mul_dup", "multiply", v, [idx_arr([2, 2, 5])], arr([2.0, 3.0, 0.5], "float32"))
    at("at_min_dup", "min", v, [idx_arr([3, 3, 0, 9])], arr([1.0, -2.0, 5.0, -9.0], "float32"))
    at("at_max_dup", "max", v, [idx_arr([3, 3, 0, 9])], arr([1.0, 8.0, 5.0, 99.0], "float32"))
    at("at_add_2d_rows", "add", m, [idx_arr([0, 0, 2])], arr([[1.0, 1.0, 1.0, 1.0]], "float32"))
    at("at_set_2d_two_arrays", "set", m, [idx_arr([0, 2, 5]), idx_arr([1, 3, 0])],
       arr([-1.0, -2.0, -3.0], "float32"))
    at("at_set_bool_mask", "set", v, [idx_arr([True, False, True, False, False, True], "bool")],
       0.0)
    at("at_set_clip_mode", "set", v, [idx_arr([0, 7, -100])], arr([1.0, 2.0, 3.0], "float32"),
       mode="clip")
    at("at_set_int_weakfloat", "set", arr([1, 2, 3], "int32"), [idx_int(0)], 7.9,
       note="value is cast to the array dtype (JAX emits a FutureWarning for float->int here)")
    at("at_add_int8_wrap", "add", arr([100, 0], "int8"), [idx_int(0)], 100)
    at("at_get_oob_default", "get", v, [idx_arr([0, 6, -7, 100])])
    at("at_get_fill", "get", v, [idx_arr([0, 6, -7, 100])], mode="fill", fill_value=-1.0)
    at("at_get_drop", "get", v, [idx_arr([0, 6, -1])], mode="drop")
    at("at_get_clip", "get", v, [idx_arr([0, 6, -100])], mode="clip")
    at("at_set_ellipsis_int", "set", m, [ELLIPSIS, idx_int(0)], arr([5.0, 6.0, 7.0], "float32"))
    return c.cases


# --------------------------------------------------------------------------
# 7. Sort
# --------------------------------------------------------------------------

def topic_sort():
    c = Cases()
    ties = arr([3.0, 1.0, 2.0, 1.0, 3.0, 2.0, 1.0], "float32")
    special = arr([np.nan, 1.0, -np.inf, 0.0, -0.0, np.inf, -1.0, np.nan, 0.0, -0.0], "float32")
    m = arr([[3.0, 1.0, 2.0, 1.0], [0.0, 0.0, -1.0, 5.0], [2.0, 2.0, 2.0, -3.0]], "float32")
    mi = arr([[3, 1, 2, 1], [0, 0, -1, 5], [2, 2, 2, -3]], "int32")
    for fn in ["sort", "argsort"]:
        c.jnp_(f"{fn}_ties", fn, ties)
        c.jnp_(f"{fn}_special", fn, special)
        for ax in [0, 1, -1, None]:
            c.jnp_(f"{fn}_2d_ax{ax}".replace("-", "m"), fn, m, axis=ax)
        c.jnp_(f"{fn}_int32_ax0", fn, mi, axis=0)
        c.jnp_(f"{fn}_descending", fn, ties, descending=True)
        c.jnp_(f"{fn}_special_descending", fn, special, descending=True)
        c.jnp_(f"{fn}_uint8", fn, arr([200, 3, 0, 255, 3], "uint8"))
        c.jnp_(f"{fn}_bool", fn, arr([True, False, True, False], "bool"))
        c.jnp_(f"{fn}_unstable", fn, ties, stable=False,
               note="stable=False: XLA on CPU may or may not be stable")
    c.jnp_("argsort_2d_ax0_ties", "argsort", arr([[1, 1], [0, 1], [1, 0], [0, 0]], "int32"), axis=0)
    c.jnp_("lax.top_k_basic", "lax.top_k", ties, k=3)
    c.jnp_("lax.top_k_special", "lax.top_k", special, k=5)
    c.jnp_("lax.top_k_2d", "lax.top_k", m, k=2, note="top_k works along the last axis")
    c.jnp_("lax.top_k_int32", "lax.top_k", arr([5, -1, 5, 7, 0], "int32"), k=4)
    keys = arr([2, 1, 2, 0, 1, 2], "int32")
    vals = arr([10.0, 11.0, 12.0, 13.0, 14.0, 15.0], "float32")
    vals2 = arr([0, 1, 2, 3, 4, 5], "int32")

    def lax_sort(ops, **kw):
        return lax.sort(tuple(ops), **kw)
    c.add("lax.sort_two_operands", "lax.sort", lax_sort, [[keys, vals]], {"num_keys": 1})
    c.add("lax.sort_three_operands", "lax.sort", lax_sort, [[special, vals2[:5].repeat(2),
                                                             arr(np.arange(10), "int32")]],
          {"num_keys": 1, "is_stable": True})
    c.add("lax.sort_two_keys", "lax.sort", lax_sort,
          [[arr([1, 0, 1, 0, 1], "int32"), arr([5.0, 3.0, 1.0, 3.0, 2.0], "float32"),
            arr([0, 1, 2, 3, 4], "int32")]], {"num_keys": 2})
    c.add("lax.sort_2d_dim0", "lax.sort", lax_sort,
          [[m, arr(np.arange(12).reshape(3, 4), "int32")]], {"dimension": 0, "num_keys": 1})
    c.jnp_("lax.sort_single", "lax.sort", special)
    c.jnp_("lexsort", "lexsort", [arr([1, 0, 1, 0], "int32"), arr([2, 2, 1, 1], "int32")])
    c.jnp_("searchsorted_left", "searchsorted", arr([1.0, 2.0, 2.0, 3.0], "float32"),
           arr([0.0, 2.0, 2.5, 4.0, np.nan], "float32"))
    c.jnp_("searchsorted_right", "searchsorted", arr([1.0, 2.0, 2.0, 3.0], "float32"),
           arr([0.0, 2.0, 2.5, 4.0, np.nan], "float32"), side="right")
    c.jnp_("unique_sorted", "unique", arr([3, 1, 2, 3, 1, 0], "int32"))
    return c.cases


# --------------------------------------------------------------------------
# 8. einsum
# --------------------------------------------------------------------------

def topic_einsum():
    c = Cases()
    A = rint(10, (2, 3))
    B = rint(11, (3, 4))
    Bt = rint(12, (4, 3))
    S = rint(13, (3, 3))
    Bb = rint(14, (2, 2, 3))
    Cb = rint(15, (2, 3, 2))
    v3 = rint(16, (3,))
    w3 = rint(17, (3,))
    w4 = rint(18, (4,))
    f = lambda a: a.astype(np.float32)  # noqa: E731
    specs = [
        ("ij,jk->ik", [A, B]), ("ij,kj->ik", [A, Bt]), ("ii->i", [S]), ("ii", [S]),
        ("ij->ji", [A]), ("ij->", [A]), ("bij,bjk->bik", [Bb, Cb]), ("i,i", [v3, w3]),
        ("i,j->ij", [v3, w4]), ("ij,jk", [A, B]), ("ba,ac", [A.T.copy(), rint(21, (2, 4))]),
        ("ij->i", [A]), ("ij,ij->ij", [A, A]), ("i,i->", [v3, w3]), ("ij,j->i", [A, v3]),
        ("...ij,...jk->...ik", [Bb, Cb]), ("bij->bji", [Bb]), ("ijk->kji", [Bb]),
        ("ij,jk,kl->il", [A, B, rint(19, (4, 2))]), ("i->", [v3]), ("ji", [A]),
        ("ij,ij", [A, A]), ("iij->ij", [rint(20, (2, 2, 3))]),
    ]
    for k, (sub, ops) in enumerate(specs):
        nm = sub.replace(",", "_").replace("->", "_to_").replace("...", "ell")
        c.jnp_(f"einsum_f32_{k:02d}_{nm}", "einsum", sub, *[f(o) for o in ops])
    for k, (sub, ops) in enumerate(specs[:3]):
        nm = sub.replace(",", "_").replace("->", "_to_")
        c.jnp_(f"einsum_i32_{k:02d}_{nm}", "einsum", sub, *ops)
    c.jnp_("einsum_mixed_i8_f32", "einsum", "ij,jk->ik", A.astype(np.int8), f(B))
    c.jnp_("einsum_bf16", "einsum", "ij,jk->ik", arr(A, "bfloat16"), arr(B, "bfloat16"))
    c.jnp_("einsum_preferred_f32", "einsum", "ij,jk->ik", arr(A, "bfloat16"), arr(B, "bfloat16"),
           preferred_element_type="float32")
    return c.cases


# --------------------------------------------------------------------------
# 9. conv / reduce_window
# --------------------------------------------------------------------------

def topic_conv():
    c = Cases()
    conv = "lax.conv_general_dilated"
    x = rint(30, (1, 2, 5, 6), lo=-2, hi=3, dtype="float32")     # NCHW
    w = rint(31, (3, 2, 3, 2), lo=-1, hi=2, dtype="float32")     # OIHW
    base = dict(window_strides=(1, 1), padding="VALID", dimension_numbers=("NCHW", "OIHW", "NCHW"))
    variants = [
        ("valid", {}),
        ("same", {"padding": "SAME"}),
        ("explicit_pad", {"padding": ((1, 0), (2, 1))}),
        ("strides_2_1", {"window_strides": (2, 1)}),
        ("strides_2_1_same", {"window_strides": (2, 1), "padding": "SAME"}),
        ("lhs_dilation_valid_string", {"lhs_dilation": (2, 2)}),
        ("lhs_dilation", {"lhs_dilation": (2, 2), "padding": ((0, 0), (0, 0))}),
        ("lhs_dilation_pad", {"lhs_dilation": (2, 2), "padding": ((1, 1), (0, 2))}),
        ("rhs_dilation", {"rhs_dilation": (2, 1)}),
        ("rhs_dilation_same", {"rhs_dilation": (2, 1), "padding": "SAME"}),
        ("all", {"window_strides": (2, 1), "padding": ((1, 0), (2, 1)), "lhs_dilation": (1, 2),
                 "rhs_dilation": (2, 1)}),
        ("neg_pad", {"padding": ((-1, 0), (0, -1))}),
        ("same_lower", {"padding": "SAME_LOWER", "window_strides": (2, 2)}),
    ]
    for nm, kw in variants:
        kws = dict(base)
        kws.update(kw)
        c.jnp_(f"conv_nchw_{nm}", conv, x, w, **kws)
    # NHWC / HWIO.
    xh = np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1)))
    wh = np.ascontiguousarray(np.transpose(w, (2, 3, 1, 0)))
    for nm, kw in variants[:5]:
        kws = dict(base)
        kws.update(kw)
        kws["dimension_numbers"] = ("NHWC", "HWIO", "NHWC")
        c.jnp_(f"conv_nhwc_{nm}", conv, xh, wh, **kws)
    # Mixed layout output.
    c.jnp_("conv_nhwc_out_nchw", conv, xh, wh, window_strides=(1, 1), padding="SAME",
           dimension_numbers=("NHWC", "HWIO", "NCHW"))
    # Feature groups.
    xg = rint(32, (2, 4, 4, 3), lo=-2, hi=3, dtype="float32")   # NCHW, C=4
    wg = rint(33, (6, 2, 2, 2), lo=-1, hi=2, dtype="float32")   # O=6, I=C/groups=2
    c.jnp_("conv_groups2", conv, xg, wg, window_strides=(1, 1), padding="VALID",
           dimension_numbers=("NCHW", "OIHW", "NCHW"), feature_group_count=2)
    c.jnp_("conv_groups4_depthwise", conv, xg, rint(34, (4, 1, 2, 2), lo=-1, hi=2, dtype="float32"),
           window_strides=(1, 1), padding="SAME", dimension_numbers=("NCHW", "OIHW", "NCHW"),
           feature_group_count=4)
    c.jnp_("conv_batch_groups2", conv, xg, rint(35, (4, 4, 2, 2), lo=-1, hi=2, dtype="float32"),
           window_strides=(1, 1), padding="VALID", dimension_numbers=("NCHW", "OIHW", "NCHW"),
           batch_group_count=2)
    # 1-D conv and default dimension numbers (None -> NCH/OIH).
    c.jnp_("conv_1d_default_dn", conv, rint(36, (1, 1, 7), dtype="float32"),
           rint(37, (2, 1, 3), lo=-1, hi=2, dtype="float32"), window_strides=(1,), padding="SAME")
    c.jnp_("conv_1d_nwc_wio", conv, rint(36, (1, 7, 1), dtype="float32"),
           rint(37, (3, 1, 2), lo=-1, hi=2, dtype="float32"), window_strides=(2,),
           padding=((2, 2),), dimension_numbers=("NWC", "WIO", "NWC"))
    c.jnp_("lax.conv_simple", "lax.conv", x, w, window_strides=(1, 1), padding="SAME")
    c.jnp_("lax.conv_transpose_2d", "lax.conv_transpose",
           rint(38, (1, 3, 3, 1), lo=-2, hi=3, dtype="float32"),
           rint(39, (2, 2, 1, 2), lo=-1, hi=2, dtype="float32"),
           strides=(2, 2), padding="SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    c.jnp_("convolve_1d_full", "convolve", arr([1.0, 2.0, 3.0], "float32"),
           arr([0.0, 1.0, 0.5], "float32"))
    c.jnp_("convolve_1d_same", "convolve", arr([1.0, 2.0, 3.0, 4.0], "float32"),
           arr([1.0, -1.0], "float32"), mode="same")
    c.jnp_("correlate_1d_valid", "correlate", arr([1.0, 2.0, 3.0, 4.0], "float32"),
           arr([1.0, -1.0], "float32"))

    # reduce_window.
    comps = {"max": lax.max, "add": lax.add, "min": lax.min}

    def rw(operand, computation, init_value, **kw):
        return lax.reduce_window(operand, init_value, comps[computation], **kw)

    xp = rint(40, (1, 1, 4, 5), lo=-5, hi=6, dtype="float32")
    pools = [
        ("max_2x2_s2_valid", "max", -np.inf, (1, 1, 2, 2), (1, 1, 2, 2), "VALID"),
        ("max_2x2_s1_valid", "max", -np.inf, (1, 1, 2, 2), (1, 1, 1, 1), "VALID"),
        ("max_2x2_s2_same", "max", -np.inf, (1, 1, 2, 2), (1, 1, 2, 2), "SAME"),
        ("add_2x2_s2_valid", "add", 0.0, (1, 1, 2, 2), (1, 1, 2, 2), "VALID"),
        ("add_2x2_s1_same", "add", 0.0, (1, 1, 2, 2), (1, 1, 1, 1), "SAME"),
        ("add_3x3_s1_explicit", "add", 0.0, (1, 1, 3, 3), (1, 1, 1, 1),
         ((0, 0), (0, 0), (1, 1), (1, 1))),
        ("max_3x2_s2_explicit", "max", -np.inf, (1, 1, 3, 2), (1, 1, 2, 1),
         ((0, 0), (0, 0), (1, 0), (0, 1))),
        ("min_2x2_s2_valid", "min", np.inf, (1, 1, 2, 2), (1, 1, 2, 2), "VALID"),
        ("max_2x2_s2_same_init0", "max", 0.0, (1, 1, 2, 2), (1, 1, 2, 2), "SAME"),
    ]
    for nm, comp, init, wd, ws, pad in pools:
        c.add(f"reduce_window_{nm}", "lax.reduce_window", rw, [xp],
              {"computation": comp, "init_value": init, "window_dimensions": wd,
               "window_strides": ws, "padding": pad})
    c.add("reduce_window_add_dilated", "lax.reduce_window", rw, [xp],
          {"computation": "add", "init_value": 0.0, "window_dimensions": (1, 1, 2, 2),
           "window_strides": (1, 1, 1, 1), "padding": "VALID", "window_dilation": (1, 1, 2, 2)})
    c.add("reduce_window_add_base_dilated", "lax.reduce_window", rw, [xp],
          {"computation": "add", "init_value": 0.0, "window_dimensions": (1, 1, 2, 2),
           "window_strides": (1, 1, 1, 1), "padding": "VALID", "base_dilation": (1, 1, 2, 1)})
    c.add("reduce_window_max_int32", "lax.reduce_window", rw,
          [rint(41, (4, 4), lo=-5, hi=6)],
          {"computation": "max", "init_value": -2147483648, "window_dimensions": (2, 2),
           "window_strides": (2, 2), "padding": "VALID"})
    return c.cases


# --------------------------------------------------------------------------
# 10. Shape ops
# --------------------------------------------------------------------------

def topic_shape():
    c = Cases()
    v = iota([6])
    m = iota([2, 3])
    t = iota([2, 3, 4])
    c.jnp_("reshape_m1", "reshape", t, shape=(-1,))
    c.jnp_("reshape_3_m1", "reshape", t, shape=(3, -1))
    c.jnp_("reshape_F", "reshape", m, shape=(3, 2), order="F")
    c.jnp_("ravel", "ravel", t)
    c.jnp_("transpose_default", "transpose", t)
    c.jnp_("transpose_axes", "transpose", t, axes=(1, 2, 0))
    c.jnp_("transpose_neg_axes", "transpose", t, axes=(-1, 0, -2))
    c.jnp_("swapaxes", "swapaxes", t, axis1=0, axis2=2)
    c.jnp_("moveaxis", "moveaxis", t, source=0, destination=-1)
    c.jnp_("moveaxis_multi", "moveaxis", t, source=(0, 1), destination=(2, 0))
    c.jnp_("broadcast_to", "broadcast_to", arr([[1.0], [2.0]], "float32"), shape=(2, 2, 3))
    c.jnp_("broadcast_to_scalar", "broadcast_to", arr(5, "int32"), shape=(2, 2))
    c.jnp_("broadcast_arrays", "broadcast_arrays", arr([[1.0], [2.0]], "float32"),
           arr([1, 2, 3], "int32"))
    c.jnp_("expand_dims_0", "expand_dims", m, axis=0)
    c.jnp_("expand_dims_m1", "expand_dims", m, axis=-1)
    c.jnp_("expand_dims_tuple", "expand_dims", m, axis=(0, 3))
    sq = iota([1, 3, 1])
    c.jnp_("squeeze_all", "squeeze", sq)
    c.jnp_("squeeze_axis", "squeeze", sq, axis=2)
    c.jnp_("squeeze_axis_non1", "squeeze", sq, axis=1, note="squeezing a non-1 axis is an error")
    c.jnp_("concatenate_ax0", "concatenate", [m, iota([1, 3], start=10)], axis=0)
    c.jnp_("concatenate_ax1", "concatenate", [m, iota([2, 2], start=10)], axis=1)
    c.jnp_("concatenate_axnone", "concatenate", [m, iota([2, 2], start=10)], axis=None)
    c.jnp_("concatenate_mixed_dtype", "concatenate", [arr([1, 2], "int32"), arr([0.5], "float32")])
    c.jnp_("stack_ax0", "stack", [v, iota([6], start=10)])
    c.jnp_("stack_ax1", "stack", [v, iota([6], start=10)], axis=1)
    c.jnp_("stack_axm1_2d", "stack", [m, iota([2, 3], start=10)], axis=-1)
    c.jnp_("hstack_1d", "hstack", [arr([1, 2], "int32"), arr([3], "int32")])
    c.jnp_("hstack_2d", "hstack", [m, iota([2, 1], start=10)])
    c.jnp_("vstack_1d", "vstack", [arr([1, 2], "int32"), arr([3, 4], "int32")])
    c.jnp_("vstack_2d", "vstack", [m, iota([1, 3], start=10)])
    c.jnp_("dstack", "dstack", [arr([1, 2], "int32"), arr([3, 4], "int32")])
    c.jnp_("column_stack", "column_stack", [arr([1, 2], "int32"), arr([3, 4], "int32")])
    c.jnp_("split_sections", "split", v, indices_or_sections=3)
    c.jnp_("split_indices", "split", v, indices_or_sections=[1, 4])
    c.jnp_("split_indices_oob", "split", v, indices_or_sections=[2, 10])
    c.jnp_("split_axis1", "split", iota([2, 4]), indices_or_sections=2, axis=1)
    c.jnp_("split_uneven_error", "split", v, indices_or_sections=4)
    c.jnp_("array_split_uneven", "array_split", v, indices_or_sections=4)
    c.jnp_("tile_int", "tile", arr([1, 2, 3], "int32"), reps=2)
    c.jnp_("tile_tuple", "tile", m, reps=(2, 1))
    c.jnp_("tile_more_dims", "tile", arr([1, 2], "int32"), reps=(2, 1, 2))
    c.jnp_("repeat_scalar_flat", "repeat", m, repeats=2)
    c.jnp_("repeat_scalar_ax1", "repeat", m, repeats=2, axis=1)
    c.jnp_("repeat_per_elem_ax0", "repeat", m, repeats=arr([1, 3], "int32"), axis=0)
    c.jnp_("repeat_per_elem_ax1", "repeat", m, repeats=arr([0, 2, 1], "int32"), axis=1)
    c.jnp_("flip_all", "flip", m)
    c.jnp_("flip_ax1", "flip", t, axis=1)
    c.jnp_("flip_tuple", "flip", t, axis=(0, 2))
    c.jnp_("fliplr", "fliplr", m)
    c.jnp_("flipud", "flipud", m)
    c.jnp_("roll_flat", "roll", m, shift=2)
    c.jnp_("roll_flat_neg", "roll", m, shift=-1)
    c.jnp_("roll_ax1", "roll", m, shift=1, axis=1)
    c.jnp_("roll_ax0_neg_big", "roll", m, shift=-5, axis=0)
    c.jnp_("roll_multi", "roll", t, shift=(1, -2), axis=(0, 2))
    c.jnp_("rot90", "rot90", m)
    c.jnp_("rot90_k2", "rot90", m, k=2)
    p = iota([2, 3], start=1)
    c.jnp_("pad_constant_zero", "pad", p, pad_width=((1, 0), (0, 2)))
    c.jnp_("pad_constant_value", "pad", p, pad_width=1, constant_values=-1.0)
    c.jnp_("pad_constant_values_pairs", "pad", p, pad_width=((1, 1), (2, 0)),
           constant_values=((-1.0, -2.0), (-3.0, -4.0)))
    c.jnp_("pad_int_weakfloat", "pad", arr([1, 2], "int32"), pad_width=1, constant_values=7.9)
    for mode in ["edge", "reflect", "symmetric", "wrap"]:
        c.jnp_(f"pad_{mode}", "pad", p, pad_width=((1, 2), (2, 1)), mode=mode)
        c.jnp_(f"pad_{mode}_1d_big", "pad", arr([1.0, 2.0, 3.0], "float32"), pad_width=(4, 5),
               mode=mode)
    c.jnp_("pad_reflect_odd", "pad", arr([1.0, 2.0, 4.0], "float32"), pad_width=2, mode="reflect",
           reflect_type="odd")
    c.jnp_("pad_linear_ramp", "pad", arr([1.0, 2.0], "float32"), pad_width=2, mode="linear_ramp")
    c.jnp_("pad_maximum", "pad", arr([1.0, 5.0, 2.0], "float32"), pad_width=1, mode="maximum")
    c.jnp_("lax.pad_interior_negative", "lax.pad", arr([1.0, 2.0, 3.0], "float32"), -9.0,
           padding_config=((-1, 2, 1),))
    sqm = iota([3, 4], start=1)
    for k in [0, 1, -1, 5, -5]:
        c.jnp_(f"tril_k{k}".replace("-", "m"), "tril", sqm, k=k)
        c.jnp_(f"triu_k{k}".replace("-", "m"), "triu", sqm, k=k)
    c.jnp_("tril_3d", "tril", iota([2, 3, 3], start=1))
    c.jnp_("tri_3", "tri", N=3)
    c.jnp_("tri_3_4_k1", "tri", N=3, M=4, k=1)
    c.jnp_("tri_3_2_km1", "tri", N=3, M=2, k=-1)
    c.jnp_("tri_dtype_int", "tri", N=2, dtype="int32")
    c.jnp_("eye_3", "eye", N=3)
    c.jnp_("eye_3_4_k1", "eye", N=3, M=4, k=1)
    c.jnp_("eye_3_km2", "eye", N=3, k=-2)
    c.jnp_("eye_int", "eye", N=2, dtype="int32")
    c.jnp_("identity_3", "identity", n=3)
    c.jnp_("identity_bool", "identity", n=2, dtype="bool")
    c.jnp_("arange_5", "arange", 5)
    c.jnp_("arange_2_10_3", "arange", 2, 10, 3)
    c.jnp_("arange_neg_step", "arange", 5, -3, -2)
    c.jnp_("arange_float", "arange", 0.0, 1.0, 0.1,
           note="length ceil((stop-start)/step); values start + i*step in float32")
    c.jnp_("arange_float_step", "arange", 1.0, 2.0, 0.25)
    c.jnp_("arange_float_stop", "arange", 3.5)
    c.jnp_("arange_dtype", "arange", 4, dtype="float16")
    c.jnp_("arange_empty", "arange", 5, 2)
    c.jnp_("linspace_endpoint", "linspace", 0.0, 1.0, num=5)
    c.jnp_("linspace_no_endpoint", "linspace", 0.0, 1.0, num=5, endpoint=False)
    c.jnp_("linspace_retstep", "linspace", 2.0, 3.0, num=4, retstep=True)
    c.jnp_("linspace_int_dtype", "linspace", 0, 10, num=4, dtype="int32")
    c.jnp_("linspace_num1", "linspace", 2.0, 3.0, num=1)
    c.jnp_("linspace_neg", "linspace", 1.0, -1.0, num=7)
    c.jnp_("linspace_thirds", "linspace", 0.0, 1.0, num=4)
    c.jnp_("logspace", "logspace", 0.0, 2.0, num=3)
    c.jnp_("zeros_like_int8", "zeros_like", arr([1, 2], "int8"))
    c.jnp_("full_weakint", "full", shape=(2, 2), fill_value=3)
    c.jnp_("full_weakfloat", "full", shape=(2,), fill_value=1.5)
    c.jnp_("full_like_int_float", "full_like", arr([1, 2], "int32"), fill_value=2.7)
    c.jnp_("ones_default", "ones", shape=(2,))
    c.jnp_("zeros_bool", "zeros", shape=(2,), dtype="bool")
    c.jnp_("diag_vec_k1", "diag", arr([1.0, 2.0], "float32"), k=1)
    c.jnp_("diag_mat", "diag", sqm)
    c.jnp_("diag_mat_km1", "diag", sqm, k=-1)
    c.jnp_("diagonal_3d", "diagonal", iota([2, 3, 3]), axis1=1, axis2=2)
    c.jnp_("trace", "trace", sqm, offset=1)
    c.jnp_("atleast_2d", "atleast_2d", arr([1, 2], "int32"))
    c.jnp_("atleast_3d", "atleast_3d", arr([1, 2], "int32"))
    c.jnp_("meshgrid_xy", "meshgrid", arr([1, 2, 3], "int32"), arr([4, 5], "int32"))
    c.jnp_("meshgrid_ij", "meshgrid", arr([1, 2, 3], "int32"), arr([4, 5], "int32"), indexing="ij")
    return c.cases


# --------------------------------------------------------------------------
# 11. nn and linear algebra products
# --------------------------------------------------------------------------

def topic_nn():
    c = Cases()
    x = arr([-10.0, -3.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 3.0, 10.0, 50.0, -50.0, np.nan, np.inf,
             -np.inf], "float32")
    for fn in ["relu", "relu6", "silu", "swish", "softplus", "sigmoid", "log_sigmoid", "elu",
               "leaky_relu", "hard_tanh", "hard_sigmoid", "hard_silu", "selu", "celu",
               "soft_sign", "mish", "sparse_plus"]:
        if hasattr(jnn, fn):
            c.jnp_(f"nn.{fn}", f"nn.{fn}", x)
    c.jnp_("nn.gelu_approx_true", "nn.gelu", x, approximate=True)
    c.jnp_("nn.gelu_approx_false", "nn.gelu", x, approximate=False)
    c.jnp_("nn.leaky_relu_slope", "nn.leaky_relu", x, negative_slope=0.2)
    c.jnp_("nn.elu_alpha", "nn.elu", x, alpha=0.5)
    c.jnp_("nn.relu_int32", "nn.relu", arr([-3, 0, 4], "int32"))
    c.jnp_("nn.gelu_bfloat16", "nn.gelu", arr([-1.0, 0.0, 1.0, 2.0], "bfloat16"))
    s = rnd(50, (2, 3), decimals=1)
    big = arr([[1000.0, 1000.0, 0.0], [-np.inf, 0.0, -np.inf]], "float32")
    allneg = arr([[-np.inf, -np.inf], [np.inf, 0.0]], "float32")
    for fn in ["softmax", "log_softmax"]:
        for ax in [-1, 0, 1, None]:
            c.jnp_(f"nn.{fn}_ax{ax}".replace("-", "m"), f"nn.{fn}", s, axis=ax)
        c.jnp_(f"nn.{fn}_3d_t0_2", f"nn.{fn}", rnd(51, (2, 3, 2), decimals=1), axis=(0, 2))
        c.jnp_(f"nn.{fn}_large", f"nn.{fn}", big, axis=-1)
        c.jnp_(f"nn.{fn}_all_neginf", f"nn.{fn}", allneg, axis=-1)
        c.jnp_(f"nn.{fn}_where", f"nn.{fn}", s, axis=-1,
               where=arr([[True, False, True], [True, True, True]], "bool"))
    c.jnp_("nn.softmax_float16", "nn.softmax", arr([1.0, 2.0, 3.0], "float16"))
    c.jnp_("nn.standardize", "nn.standardize", s, axis=-1)
    c.jnp_("nn.one_hot", "nn.one_hot", arr([0, 2, 1], "int32"), num_classes=3)
    c.jnp_("nn.one_hot_oob", "nn.one_hot", arr([0, 3, -1, 5], "int32"), num_classes=3,
           note="out-of-range (incl. negative) indices give all-zero rows")
    c.jnp_("nn.one_hot_2d", "nn.one_hot", arr([[0, 1], [2, 2]], "int32"), num_classes=3)
    c.jnp_("nn.one_hot_axis0", "nn.one_hot", arr([0, 2], "int32"), num_classes=3, axis=0)
    c.jnp_("nn.one_hot_dtype", "nn.one_hot", arr([1, 0], "int32"), num_classes=2, dtype="int32")
    c.jnp_("nn.one_hot_float_idx", "nn.one_hot", arr([0.0, 1.5, 2.0], "float32"), num_classes=3)
    c.jnp_("nn.logsumexp_ax1", "nn.logsumexp", s, axis=1)
    c.jnp_("nn.logsumexp_all", "nn.logsumexp", s)
    # Products.
    a23 = rint(60, (2, 3), dtype="float32")
    b34 = rint(61, (3, 4), dtype="float32")
    v3 = rint(62, (3,), dtype="float32")
    w3 = rint(63, (3,), dtype="float32")
    c.jnp_("dot_2d_2d", "dot", a23, b34)
    c.jnp_("dot_1d_1d", "dot", v3, w3)
    c.jnp_("dot_2d_1d", "dot", a23, v3)
    c.jnp_("dot_1d_2d", "dot", arr([1.0, -2.0], "float32"), a23)
    c.jnp_("dot_scalar", "dot", a23, 2.0)
    c.jnp_("dot_3d_2d", "dot", rint(64, (2, 2, 3), dtype="float32"), b34,
           note="dot with N-D: sum over last of a and second-to-last of b")
    c.jnp_("dot_int32", "dot", rint(60, (2, 3)), rint(61, (3, 4)))
    c.jnp_("dot_int8_int8", "dot", rint(60, (2, 3), dtype="int8"), rint(61, (3, 4), dtype="int8"))
    c.jnp_("dot_int8_float16", "dot", rint(60, (2, 3), dtype="int8"),
           rint(61, (3, 4), dtype="float16"))
    c.jnp_("dot_bool", "dot", arr([True, False, True], "bool"), arr([True, True, True], "bool"))
    c.jnp_("matmul_2d", "matmul", a23, b34)
    c.jnp_("matmul_batch_broadcast", "matmul", rint(65, (2, 1, 2, 3), dtype="float32"),
           rint(66, (3, 3, 2), dtype="float32"),
           note="batch dims (2,1) vs (3,) broadcast to (2,3)")
    c.jnp_("matmul_1d_2d", "matmul", v3, b34)
    c.jnp_("matmul_2d_1d", "matmul", a23, w3)
    c.jnp_("matmul_1d_1d", "matmul", v3, w3)
    c.jnp_("matmul_3d_1d", "matmul", rint(64, (2, 2, 3), dtype="float32"), w3)
    c.jnp_("matmul_int32_float32", "matmul", rint(60, (2, 3)), b34)
    c.jnp_("vdot_2d", "vdot", a23, rint(67, (2, 3), dtype="float32"), note="vdot flattens")
    c.jnp_("vdot_1d", "vdot", v3, w3)
    c.jnp_("outer", "outer", v3, arr([1.0, -1.0], "float32"))
    c.jnp_("outer_2d_flattens", "outer", a23, arr([1.0, 2.0], "float32"))
    c.jnp_("inner_1d", "inner", v3, w3)
    c.jnp_("inner_2d", "inner", a23, rint(68, (4, 3), dtype="float32"))
    c.jnp_("tensordot_axes1", "tensordot", a23, b34, axes=1)
    c.jnp_("tensordot_axes_lists", "tensordot", a23, b34, axes=([1], [0]))
    c.jnp_("tensordot_axes2", "tensordot", rint(64, (2, 2, 3), dtype="float32"),
           rint(69, (2, 3, 2), dtype="float32"), axes=2)
    c.jnp_("tensordot_axes0", "tensordot", v3, arr([1.0, 2.0], "float32"), axes=0)
    c.jnp_("tensordot_multi", "tensordot", rint(64, (2, 2, 3), dtype="float32"),
           rint(70, (3, 2, 4), dtype="float32"), axes=([0, 2], [1, 0]))
    c.jnp_("kron", "kron", arr([[1.0, 2.0]], "float32"), arr([[1.0], [10.0]], "float32"))
    c.jnp_("cross", "cross", arr([1.0, 0.0, 0.0], "float32"), arr([0.0, 1.0, 0.0], "float32"))
    c.jnp_("lax.dot_general_batch", "lax.dot_general", rint(64, (2, 2, 3), dtype="float32"),
           rint(69, (2, 3, 2), dtype="float32"),
           dimension_numbers=(((2,), (1,)), ((0,), (0,))))
    return c.cases


# --------------------------------------------------------------------------
# 12. Transformations (grad, jvp, vjp, jacobians, hessian, vmap, compositions)
# --------------------------------------------------------------------------

TRANSFORMS_DOC = {
    "format": (
        'Top level: {"jax_version", "doc", "cases": [CASE...]}. CASE: {"name", "fn", '
        '"transform", "x64", "args": [ARRAY...], "kwargs": {options}, "out": [ARRAY...]}. '
        "fn names a test function of the inputs, defined in tools/gen_golden.py "
        "(TRANSFORM_FUNS, with its JAX source) and re-implemented once per name in "
        "crates/jaxon/tests/golden_transforms.rs. A function returns one array or "
        "(multi-output functions) a tuple of arrays."
    ),
    "array": DOC["array"],
    "transform": (
        '"grad": grad(f, argnums=all args); out = the gradients, one per arg. '
        '"value_and_grad": out = [value, gradients...]. '
        '"jvp": jvp(f, args, kwargs.tangents); out = [primal outputs..., tangent outputs...]. '
        '"vjp": vjp(f, *args) applied to kwargs.cotangents (one per output); '
        "out = [primal outputs..., input cotangents...]. "
        '"jacfwd" | "jacrev" | "hessian" | "jacfwd_jacrev": that transformation of f '
        "with respect to args[0] (argnums=0; the other args are fixed); out = [J]. "
        '"grad_grad": grad(lambda *a: sum(grad(f)(*a))) with respect to args[0]; out = [g]. '
        '"vmap": vmap(f, in_axes=kwargs.in_axes, out_axes=kwargs.out_axes); out = the outputs. '
        '"vmap_grad": vmap(grad(f, argnums=all), in_axes=kwargs.in_axes) (per-example '
        'gradients); "jit_vmap_grad": the same under jit; out = one gradient per arg.'
    ),
    "kwargs": (
        "tangents / cotangents: lists of ARRAYs; in_axes: list (one per arg) of int or "
        "null (not mapped); out_axes: int (for every output)."
    ),
}


def _rng_like(seed, x):
    return rnd(seed, np.shape(x), lo=-1.0, hi=1.0, decimals=2)


def _c32(v):
    return jnp.asarray(np.asarray(v, np.float32))


def _conv(x, k, strides, padding):
    return lax.conv_general_dilated(x, k, strides, padding)


# name -> (JAX function, example args, scalar output?)
# Constants used inside functions are written out literally (the Rust side repeats them).
TRANSFORM_FUNS = {
    # ---- scalar outputs ----
    "sin_exp_sum": (lambda x: jnp.sum(jnp.sin(x) * jnp.exp(x)), [rnd(1, (4,), -1, 1)]),
    "log_sqrt": (lambda x: jnp.sum(jnp.log(x) + 2.0 * jnp.sqrt(x)), [rnd(2, (4,), 0.5, 3)]),
    "tanh_logistic": (lambda x: jnp.sum(jnp.tanh(x) * jax.nn.sigmoid(x)), [rnd(3, (2, 3), -2, 2)]),
    "pow_xy": (lambda x, y: jnp.sum(jnp.power(x, y)), [rnd(4, (3,), 0.5, 2), rnd(5, (3,), -1.5, 1.5)]),
    "abs_sum": (lambda x: jnp.sum(jnp.abs(x) * x), [arr([-1.5, 0.0, 0.75, -0.25, 2.0], "float32")]),
    "abs_at_zero": (lambda x: jnp.sum(jnp.abs(x)), [arr([-1.5, 0.0, 0.75], "float32")]),
    "max_all_ties": (lambda x: jnp.max(x), [arr([[1.0, 3.0, -2.0], [3.0, 0.5, 3.0]], "float32")]),
    "min_axis_ties": (lambda x: jnp.sum(jnp.min(x, axis=1) * _c32([1.0, -2.0])),
                      [arr([[1.0, -1.0, -1.0], [2.0, 0.5, 4.0]], "float32")]),
    "maximum_ties": (lambda x, y: jnp.sum(jnp.maximum(x, y) * _c32([1.0, 2.0, 3.0, 4.0])),
                     [arr([1.0, -2.0, 0.5, 3.0], "float32"), arr([1.0, 0.0, 0.5, -1.0], "float32")]),
    "minimum_ties": (lambda x, y: jnp.sum(jnp.minimum(x, y) ** 2),
                     [arr([1.0, -2.0, 0.5, 3.0], "float32"), arr([1.0, 0.0, 0.5, -1.0], "float32")]),
    "where_select": (lambda x: jnp.sum(jnp.where(x > 0, x ** 2, jnp.sin(x))),
                     [arr([-1.0, 0.5, 0.0, 2.0, -0.25], "float32")]),
    "logsumexp_all": (lambda x: jax.nn.logsumexp(x), [rnd(6, (2, 3))]),
    "softmax_xent": (lambda x: -jnp.sum(_c32([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
                                        * jax.nn.log_softmax(x, axis=-1)), [rnd(7, (2, 3))]),
    "softmax_weighted": (lambda x: jnp.sum(jax.nn.softmax(x, axis=0) * _c32([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]])),
                         [rnd(8, (2, 3))]),
    "mean_sq": (lambda x: jnp.mean(x ** 2), [rnd(9, (2, 3))]),
    "prod_all": (lambda x: jnp.prod(x), [rnd(10, (4,), 0.5, 1.5)]),
    "prod_with_zero": (lambda x: jnp.prod(x, axis=1).sum(), [arr([[1.5, 0.0, 2.0], [0.5, -1.0, 3.0]], "float32")]),
    "norm2": (lambda x: jnp.sqrt(jnp.sum(x * x)), [rnd(11, (2, 3))]),
    "mse_linear": (lambda w, b, x, y: jnp.mean((x @ w + b - y) ** 2),
                   [rnd(12, (3,), -1, 1), rnd(13, (), -1, 1), rnd(14, (4, 3), -1, 1), rnd(15, (4,), -1, 1)]),
    "integer_pow_poly": (lambda x: jnp.sum(x ** 3 - 2.0 * x ** 2 + x ** -2), [rnd(16, (4,), 0.5, 2)]),
    "clip_bounds": (lambda x: jnp.sum(jnp.clip(x, -1.0, 1.0) ** 2 * _c32([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])),
                    [arr([-2.0, -1.0, -0.5, 0.5, 1.0, 1.5], "float32")]),
    "cumsum_sq": (lambda x: jnp.sum(jnp.cumsum(x) ** 2), [rnd(17, (4,), -1, 1)]),
    "cumprod_sum": (lambda x: jnp.sum(jnp.cumprod(x, axis=1)), [rnd(18, (2, 3), 0.5, 1.5)]),
    "sort_weighted": (lambda x: jnp.sum(jnp.sort(x) * _c32([0.0, 1.0, 2.0, 3.0, 4.0])),
                      [arr([0.3, -1.0, 2.5, 0.7, -0.2], "float32")]),
    "top_k_weighted": (lambda x: jnp.sum(lax.top_k(x, 3)[0] * _c32([3.0, 2.0, 1.0])),
                       [arr([0.3, -1.0, 2.5, 0.7, -0.2, 1.1], "float32")]),
    "gather_dup": (lambda x: jnp.sum(x[jnp.array([0, 2, 2, 4])] ** 2), [rnd(19, (5,), -1, 1)]),
    "at_add": (lambda x, v: jnp.sum(jnp.sin(x.at[jnp.array([1, 3, 1])].add(v))),
               [rnd(20, (5,), -1, 1), rnd(21, (3,), -1, 1)]),
    "slice_last": (lambda x: jnp.sum(x[1:4] ** 2) + 3.0 * x[-1], [rnd(22, (6,), -1, 1)]),
    "einsum_sq": (lambda a, b: jnp.sum(jnp.einsum("ij,jk->ik", a, b) ** 2),
                  [rnd(23, (2, 3), -1, 1), rnd(24, (3, 4), -1, 1)]),
    "conv_valid_sq": (lambda x, k: jnp.sum(_conv(x, k, (1, 1), "VALID") ** 2),
                      [rnd(25, (1, 1, 4, 4), -1, 1), rnd(26, (2, 1, 3, 3), -1, 1)]),
    "pad_concat": (lambda x, y: jnp.sum(jnp.pad(jnp.concatenate([x, y], axis=1), ((1, 0), (0, 2)))
                                        * jnp.arange(21, dtype=jnp.float32).reshape(3, 7)),
                   [rnd(27, (2, 2)), rnd(28, (2, 3))]),
    "reshape_transpose": (lambda x: jnp.sum(jnp.transpose(x.reshape(3, 2)) ** 2
                                            * jnp.arange(6, dtype=jnp.float32).reshape(2, 3)),
                          [rnd(29, (2, 3))]),
    "broadcast_add": (lambda x, y: jnp.sum(jnp.tanh(x + y)), [rnd(30, (3,), -1, 1), rnd(31, (2, 1), -1, 1)]),
    "matvec_tanh": (lambda a, v: jnp.sum(jnp.tanh(a @ v)), [rnd(32, (2, 3), -1, 1), rnd(33, (3,), -1, 1)]),
    "dot_sq": (lambda x, y: jnp.dot(x, y) ** 2, [rnd(34, (3,), -1, 1), rnd(35, (3,), -1, 1)]),
    "scalar_poly_sin": (lambda x: x ** 3 * jnp.sin(x), [arr(0.7, "float32")]),
    "scalar_exp_ratio": (lambda x: jnp.exp(jnp.sin(x)) / (1.0 + x * x), [arr(-1.3, "float32")]),
    "clamp_scalar": (lambda x, lo: lax.clamp(lo, x, 2.0) * x, [arr(0.5, "float32"), arr(0.75, "float32")]),
    "mlp_loss": (lambda w1, w2, x: jnp.mean(jnp.tanh(x @ w1) @ w2 ** 2),
                 [rnd(36, (3, 4), -1, 1), rnd(37, (4,), -1, 1), rnd(38, (2, 3), -1, 1)]),
    # ---- array outputs ----
    "softmax_rows": (lambda x: jax.nn.softmax(x, axis=-1), [rnd(40, (2, 3))]),
    "cumsum_rows": (lambda x: jnp.cumsum(x, axis=1), [rnd(41, (2, 3))]),
    "sort_vec": (lambda x: jnp.sort(x), [arr([0.3, -1.0, 2.5, 0.7, -0.2], "float32")]),
    "matvec": (lambda a, v: a @ v, [rnd(42, (2, 3), -1, 1), rnd(43, (3,), -1, 1)]),
    "elementwise_mix": (lambda x: jnp.exp(x) * jnp.sin(x) + jax.nn.sigmoid(x) * jnp.log1p(x * x),
                        [rnd(44, (4,), -1, 1)]),
    "conv_same_s2": (lambda x, k: _conv(x, k, (2, 1), "SAME"),
                     [rnd(45, (1, 2, 4, 3), -1, 1), rnd(46, (2, 2, 2, 2), -1, 1)]),
    "gather_rows": (lambda x: x[jnp.array([2, 0, 2])] * 2.0, [rnd(47, (4, 3), -1, 1)]),
    "outer_bcast": (lambda x, y: x[:, None] * y + y ** 2, [rnd(48, (3,), -1, 1), rnd(49, (2,), -1, 1)]),
    "max_axis0_ties": (lambda x: jnp.max(x, axis=0), [arr([[1.0, 2.0, -1.0], [1.0, 0.5, 3.0]], "float32")]),
    "cumprod_vec": (lambda x: jnp.cumprod(x), [rnd(50, (4,), 0.5, 1.5)]),
    "top_k_vals": (lambda x: lax.top_k(x, 2)[0], [arr([0.3, -1.0, 2.5, 0.7], "float32")]),
    "sincos_pair": (lambda x: (jnp.sin(x), jnp.cos(x) * x), [rnd(51, (3,), -1, 1)]),
    "bilinear_pair": (lambda x, y: (x * y, jnp.sum(x) - y), [rnd(52, (3,), -1, 1), rnd(53, (3,), -1, 1)]),
}


def _batched(seed, x, axis, size=3):
    """A batch of `size` random examples shaped like x, stacked on `axis`."""
    shape = list(np.shape(x))
    shape.insert(axis, size)
    lo, hi = (0.5, 2.0) if np.all(np.asarray(x) > 0) else (-1.0, 1.0)
    return rnd(seed, tuple(shape), lo, hi)


def _flat(r):
    return list(r) if isinstance(r, (list, tuple)) else [r]


def _arg0(f, args):
    return lambda x0: f(x0, *args[1:])


def topic_transforms():
    c = Cases()

    def add(name, fname, transform, call, args, **opts):
        # opts are recorded as the case's kwargs; `call` already applies them.
        c.add(f"{fname}.{name}", fname, lambda *a, **_: _flat(call(*a)), args, opts,
              extra={"transform": transform})

    for k, (fname, (f, args)) in enumerate(TRANSFORM_FUNS.items()):
        seed = 1000 + 100 * k
        outs = _flat(f(*[jnp.asarray(a) for a in args]))
        scalar = len(outs) == 1 and np.ndim(outs[0]) == 0
        n = len(args)
        allnums = tuple(range(n))
        tans = [_rng_like(seed + i, a) for i, a in enumerate(args)]
        cts = [_rng_like(seed + 10 + i, o) for i, o in enumerate(outs)]
        add("jvp", fname, "jvp", lambda *a: (lambda p, t: _flat(p) + _flat(t))(
            *jax.jvp(f, a, tuple(jnp.asarray(t) for t in tans))), args, tangents=tans)
        add("vjp", fname, "vjp", lambda *a: (lambda p, fn: _flat(p) + list(fn(
            tuple(jnp.asarray(t) for t in cts) if len(cts) > 1 else jnp.asarray(cts[0]))))(
            *jax.vjp(f, *a)), args, cotangents=cts)
        # vmap: every arg on axis 0; or the last arg on axis 1 (0 for a scalar) with the
        # others unmapped (None) and, for array outputs, out_axes=1.
        in0 = [0] * n
        b0 = [_batched(seed + 20 + i, a, 0) for i, a in enumerate(args)]
        last = n - 1
        ax = 1 if np.ndim(args[last]) >= 1 else 0
        in_mix = [None] * (n - 1) + [ax]
        bmix = list(args[:-1]) + [_batched(seed + 30, args[last], ax)]
        out_ax = 1 if all(np.ndim(o) >= 1 for o in outs) else 0
        if not scalar or k % 2 == 0:
            add("vmap_in0", fname, "vmap", lambda *a: jax.vmap(f, in_axes=tuple(in0))(*a), b0,
                in_axes=in0, out_axes=0)
        if not scalar or k % 2 == 1:
            add("vmap_mixed", fname, "vmap",
                lambda *a: jax.vmap(f, in_axes=tuple(in_mix), out_axes=out_ax)(*a), bmix,
                in_axes=in_mix, out_axes=out_ax)
        if not scalar:
            if len(outs) == 1:
                add("jacfwd", fname, "jacfwd", lambda *a: jax.jacfwd(_arg0(f, a))(a[0]), args)
                add("jacrev", fname, "jacrev", lambda *a: jax.jacrev(_arg0(f, a))(a[0]), args)
                add("jacfwd_jacrev", fname, "jacfwd_jacrev",
                    lambda *a: jax.jacfwd(jax.jacrev(_arg0(f, a)))(a[0]), args)
            continue
        add("grad", fname, "grad", lambda *a: jax.grad(f, argnums=allnums)(*a), args)
        if k % 2 == 0:
            add("value_and_grad", fname, "value_and_grad",
                lambda *a: (lambda v, g: [v] + list(g))(
                    *jax.value_and_grad(f, argnums=allnums)(*a)), args)
        add("hessian", fname, "hessian", lambda *a: jax.hessian(_arg0(f, a))(a[0]), args)
        if n == 1:
            add("grad_grad", fname, "grad_grad", lambda *a: jax.grad(
                lambda x0: jnp.sum(jax.grad(f)(x0, *a[1:])))(a[0]), args)
        # Per-example gradients: the first arg unmapped (parameters), the rest on axis 0.
        in_pe = [None] + [0] * (n - 1) if n > 1 else [0]
        bpe = [a if ia is None else _batched(seed + 40 + i, a, 0)
               for i, (a, ia) in enumerate(zip(args, in_pe))]
        add("vmap_grad", fname, "vmap_grad",
            lambda *a: jax.vmap(jax.grad(f, argnums=allnums), in_axes=tuple(in_pe))(*a),
            bpe, in_axes=in_pe)
        if k % 3 == 0 or n > 1:
            add("jit_vmap_grad", fname, "jit_vmap_grad",
                lambda *a: jax.jit(jax.vmap(jax.grad(f, argnums=allnums),
                                            in_axes=tuple(in0)))(*a),
                b0, in_axes=in0)
    return c.cases


# --------------------------------------------------------------------------
# 12b. Control flow (lax.scan / while_loop / cond / switch / fori_loop /
#      associative_scan) and its transformations
# --------------------------------------------------------------------------

CONTROL_DOC = {
    "format": (
        'Top level: {"jax_version", "doc", "cases": [CASE...]}. CASE: {"name", "fn", '
        '"transform", "x64", "args": [ARRAY...], "kwargs": {options}, "out": [ARRAY...]}. '
        "fn names a test function of the inputs, defined in tools/gen_golden.py "
        "(CONTROL_FUNS, with its JAX source) and re-implemented once per name in "
        "crates/jaxon/tests/golden_control.rs. A function returns a pytree of arrays; "
        "out is its leaves in JAX's flattening order (tuples in order, dict keys sorted)."
    ),
    "array": DOC["array"],
    "transform": (
        '"value": f(*args); out = the output leaves. '
        '"grad": grad(f, argnums=kwargs.argnums) of a scalar f; out = one gradient per argnum. '
        '"jvp": jvp(f, args, kwargs.tangents) (every arg gets a tangent); '
        "out = [primal leaves..., tangent leaves...]. "
        '"vmap": vmap(f, in_axes=kwargs.in_axes) (out_axes 0); out = the output leaves.'
    ),
    "kwargs": (
        "argnums: list of ints; tangents: list of ARRAYs; in_axes: list (one per arg) "
        "of int or null (not mapped)."
    ),
}


def _rnn(w, u, h0, xs):
    def step(h, x):
        h = jnp.tanh(w @ h + u @ x)
        return h, jnp.sum(h * h)
    return lax.scan(step, h0, xs)


def _while_dd(x):
    # Trip count depends on the data: grow until the squared norm passes 10.
    def body(c):
        x, i = c
        return x * 1.25 + 0.25 * jnp.sin(x), i + 1
    return lax.while_loop(lambda c: jnp.sum(c[0] * c[0]) < 10.0, body, (x, jnp.int32(0)))


def _nested(w, xs):
    def step(h, x):
        h = lax.cond(x > 0.0, lambda h: jnp.sin(w * h + x), lambda h: jnp.cos(w * h) - x, h)
        return h, h * x
    h, ys = lax.scan(step, jnp.float32(0.5), xs)
    return h + jnp.sum(ys)


def _switch3(i, x):
    return lax.switch(i, [lambda x: jnp.sin(x) * 2.0, lambda x: x * x - 1.0,
                          lambda x: jnp.exp(-x)], x)


def _fori(w, x):
    return lax.fori_loop(0, 5, lambda i, c: jnp.tanh(c * w) + c * i.astype(jnp.float32) * 0.1, x)


def _scan_rev_tree(a, u, v):
    def step(c, xs):
        c1, c2 = c
        n1 = c1 * xs["u"] + a
        n2 = c2 + jnp.sum(xs["v"]) * jnp.sum(c1)
        return (n1, n2), {"p": n1 * n2, "q": xs["v"] * jnp.sum(c1)}
    return lax.scan(step, (jnp.ones(2, jnp.float32), jnp.float32(0.0)), {"u": u, "v": v},
                    reverse=True)


def _linrec(p, q):
    return (p[0] * q[0], q[0] * p[1] + q[1])


# name -> JAX function (args are given per case below)
CONTROL_FUNS = {
    "rnn": _rnn,
    "rnn_loss": lambda w, u, h0, xs: (lambda h, ys: jnp.sum(ys) + jnp.sum(h))(*_rnn(w, u, h0, xs)),
    "while_dd": lambda x: _while_dd(x)[0],
    "while_dd_count": _while_dd,
    "nested_cond_scan": _nested,
    "switch3": _switch3,
    "switch3_sum": lambda i, x: jnp.sum(_switch3(i, x)),
    "fori_static": lambda w, x: jnp.sum(_fori(w, x)),
    "scan_rev_tree": _scan_rev_tree,
    "scan_rev_tree_loss": lambda a, u, v: (lambda c, y: jnp.sum(c[0]) + c[1] + jnp.sum(y["p"])
                                           + jnp.sum(y["q"] ** 2))(*_scan_rev_tree(a, u, v)),
    "assoc_cumsum": lambda x: lax.associative_scan(jnp.add, x, axis=1),
    "assoc_cummax_rev": lambda x: lax.associative_scan(jnp.maximum, x, reverse=True),
    "assoc_linrec": lambda a, b: lax.associative_scan(_linrec, (a, b), axis=0),
    "assoc_linrec_loss": lambda a, b: jnp.sum(lax.associative_scan(_linrec, (a, b))[1] ** 2),
}


def topic_control():
    c = Cases()

    def add(name, fname, transform, call, args, **opts):
        c.add(name, fname, lambda *a, **_: jax.tree_util.tree_leaves(call(*a)), args, opts,
              extra={"transform": transform})

    def value(name, fname, args):
        add(name, fname, "value", lambda *a: CONTROL_FUNS[fname](*a), args)

    def grad(name, fname, args, argnums):
        add(name, fname, "grad", lambda *a: jax.grad(CONTROL_FUNS[fname], argnums=tuple(argnums))(*a),
            args, argnums=argnums)

    def jvp(name, fname, args, tangents):
        add(name, fname, "jvp", lambda *a: (lambda p, t: [p, t])(*jax.jvp(
            CONTROL_FUNS[fname], a, tuple(jnp.asarray(t) for t in tangents))), args, tangents=tangents)

    def vmap(name, fname, args, in_axes):
        add(name, fname, "vmap", lambda *a: jax.vmap(CONTROL_FUNS[fname], in_axes=tuple(in_axes))(*a),
            args, in_axes=in_axes)

    # A small RNN: hidden 3, input 2, 5 steps.
    w, u = rnd(2001, (3, 3), -0.8, 0.8), rnd(2002, (3, 2), -1, 1)
    h0, xs = rnd(2003, (3,), -1, 1), rnd(2004, (5, 2), -1, 1)
    value("rnn.value", "rnn", [w, u, h0, xs])
    grad("rnn_loss.grad", "rnn_loss", [w, u, h0, xs], [0, 1, 2])
    vmap("rnn.vmap_sequences", "rnn", [w, u, rnd(2005, (4, 3), -1, 1), rnd(2006, (4, 5, 2), -1, 1)],
         [None, None, 0, 0])
    grad("rnn_loss.grad_xs", "rnn_loss", [w, u, h0, xs], [3])
    # while_loop with a data-dependent trip count.
    x = rnd(2010, (3,), -1, 1)
    value("while_dd.value", "while_dd_count", [x])
    jvp("while_dd.jvp", "while_dd", [x], [rnd(2011, (3,), -1, 1)])
    # Lanes finish after different numbers of iterations.
    xb = arr([[0.1, 0.2, -0.1], [1.5, -2.0, 1.0], [0.5, 0.5, 0.5], [3.5, 0.0, 0.0]], "float32")
    vmap("while_dd.vmap_lanes", "while_dd_count", [xb], [0])
    # cond nested in scan, under grad.
    xs2 = arr([0.5, -0.25, 1.0, -1.5, 0.75, 0.0], "float32")
    value("nested_cond_scan.value", "nested_cond_scan", [arr(0.8, "float32"), xs2])
    grad("nested_cond_scan.grad", "nested_cond_scan", [arr(0.8, "float32"), xs2], [0, 1])
    # switch with out-of-range indices (clamped).
    xsw = rnd(2020, (3,), -1, 1)
    for i in [-2, 0, 1, 2, 7]:
        value(f"switch3.value_{i}", "switch3", [arr(i, "int32"), xsw])
    vmap("switch3.vmap_index", "switch3", [arr([-3, 0, 1, 2, 9], "int32"), xsw], [0, None])
    grad("switch3_sum.grad_clamped", "switch3_sum", [arr(5, "int32"), xsw], [1])
    # fori_loop with static bounds (a scan): reverse mode works.
    value("fori_static.value", "fori_static", [arr(0.7, "float32"), rnd(2030, (3,), -1, 1)])
    grad("fori_static.grad", "fori_static", [arr(0.7, "float32"), rnd(2030, (3,), -1, 1)], [0, 1])
    # Reverse scan over a dict of xs with a tuple carry and dict ys.
    tree_args = [rnd(2040, (2,), -0.5, 0.5), rnd(2041, (4, 2), -1, 1), rnd(2042, (4, 3), -1, 1)]
    value("scan_rev_tree.value", "scan_rev_tree", tree_args)
    grad("scan_rev_tree_loss.grad", "scan_rev_tree_loss", tree_args, [0, 1, 2])
    # associative_scan.
    value("assoc_cumsum.value", "assoc_cumsum", [rnd(2050, (2, 7), -1, 1)])
    value("assoc_cummax_rev.value", "assoc_cummax_rev", [rnd(2051, (6, 2), -1, 1)])
    lr = [rnd(2052, (5, 2), 0.5, 1.2), rnd(2053, (5, 2), -1, 1)]
    value("assoc_linrec.value", "assoc_linrec", lr)
    grad("assoc_linrec_loss.grad", "assoc_linrec_loss", lr, [0, 1])
    vmap("assoc_cumsum.vmap", "assoc_cumsum", [rnd(2054, (3, 2, 5), -1, 1)], [0])
    return c.cases


# --------------------------------------------------------------------------
# 13. PRNG (jax.random): threefry2x32 keys, split, fold_in, bits and samplers
# --------------------------------------------------------------------------

RANDOM_SEEDS = [0, 42, 2**32 + 7]


def random_key_data(seed):
    """Legacy uint32[2] key data of PRNGKey(seed), with 64-bit seeds (x64 on)."""
    jax.config.update("jax_enable_x64", True)
    try:
        return np.asarray(jax.random.PRNGKey(seed), dtype=np.uint32)
    finally:
        jax.config.update("jax_enable_x64", False)


def topic_random():
    c = Cases()
    jr = jax.random

    def rcase(name, fn, call, key, kwargs, part, x64=False, note=None):
        got = []

        def run(k, **kw):
            old = jax.config.jax_threefry_partitionable
            jax.config.update("jax_threefry_partitionable", part)
            try:
                got.append(np.asarray(jax.block_until_ready(call(k, **kw))))
                return got[-1]
            finally:
                jax.config.update("jax_threefry_partitionable", old)
        c.add(name, fn, run, (key,), kwargs, x64=x64, extra={"partitionable": part}, note=note)
        if got and got[-1].dtype.kind == "f":
            # Exact bit patterns: JSON float parsing is not always correctly rounded.
            u = {2: np.uint16, 4: np.uint32, 8: np.uint64}[got[-1].dtype.itemsize]
            c.cases[-1]["out_bits"] = [int(b) for b in got[-1].reshape(-1).view(u).tolist()]

    for seed in RANDOM_SEEDS:
        c.add(f"key_{seed}", "random.PRNGKey", lambda s: jr.PRNGKey(s), (seed,), x64=True,
              note="seed is a Python int (x64 on: 64-bit seeds keep their high word)")
    f32, f16, bf16, f64 = "float32", "float16", "bfloat16", "float64"
    for seed in RANDOM_SEEDS:
        key = random_key_data(seed)
        for part in (True, False):
            t = f"s{seed}_{'p' if part else 'o'}"
            rc = lambda name, fn, call, kw, x64=False, note=None: rcase(
                f"{name}_{t}", fn, call, key, kw, part, x64=x64, note=note)
            for num in (2, 3):
                rc(f"split{num}", "random.split", lambda k, **kw: jr.split(k, **kw), {"num": num})
            rc("split_2x3", "random.split", lambda k, **kw: jr.split(k, **kw), {"num": (2, 3)})
            for d in (0, 7, 2**32 - 1):
                rc(f"fold_in{d}", "random.fold_in", lambda k, **kw: jr.fold_in(k, **kw),
                   {"data": d})
            for shape in [(), (5,), (2, 3), (7,)]:
                for dt in ("uint8", "uint16", "uint32", "uint64"):
                    sh = "x".join(map(str, shape)) or "scalar"
                    rc(f"bits_{dt}_{sh}", "random.bits", lambda k, **kw: jr.bits(k, **kw),
                       {"shape": shape, "dtype": dt}, x64=dt == "uint64")
            uni = lambda k, **kw: jr.uniform(k, **kw)
            rc("uniform_f32_5", "random.uniform", uni, {"shape": (5,), "dtype": f32})
            rc("uniform_f32_2x3_m2_3", "random.uniform", uni,
               {"shape": (2, 3), "dtype": f32, "minval": -2.0, "maxval": 3.0})
            rc("uniform_f32_minval_array", "random.uniform", uni,
               {"shape": (2, 3), "dtype": f32, "minval": arr([0.0, 10.0, -5.0], f32),
                "maxval": 20.0})
            for dt in (f16, bf16):
                rc(f"uniform_{dt}_7", "random.uniform", uni, {"shape": (7,), "dtype": dt})
            rc("uniform_f64_4", "random.uniform", uni, {"shape": (4,), "dtype": f64}, x64=True)
            nor = lambda k, **kw: jr.normal(k, **kw)
            rc("normal_f32_7", "random.normal", nor, {"shape": (7,), "dtype": f32})
            rc("normal_f32_2x3", "random.normal", nor, {"shape": (2, 3), "dtype": f32})
            rc("normal_f32_scalar", "random.normal", nor, {"shape": (), "dtype": f32})
            for dt in (f16, bf16):
                rc(f"normal_{dt}_5", "random.normal", nor, {"shape": (5,), "dtype": dt})
            rc("normal_f64_4", "random.normal", nor, {"shape": (4,), "dtype": f64}, x64=True)
            ber = lambda k, **kw: jr.bernoulli(k, **kw)
            rc("bernoulli_03_8", "random.bernoulli", ber, {"p": 0.3, "shape": (8,)})
            rc("bernoulli_parray_2x3", "random.bernoulli", ber,
               {"p": arr([0.1, 0.5, 0.9], f32), "shape": (2, 3)})
            rc("bernoulli_high_2x3", "random.bernoulli", ber,
               {"p": arr([1e-6, 0.5, 0.9], f32), "shape": (2, 3), "mode": "high"})
            ri = lambda k, **kw: jr.randint(k, **kw)
            rc("randint_i32_0_10", "random.randint", ri,
               {"shape": (8,), "minval": 0, "maxval": 10, "dtype": "int32"})
            rc("randint_i32_m5_5_2x3", "random.randint", ri,
               {"shape": (2, 3), "minval": -5, "maxval": 5, "dtype": "int32"})
            rc("randint_u8_0_256", "random.randint", ri,
               {"shape": (6,), "minval": 0, "maxval": 256, "dtype": "uint8"})
            rc("randint_i8_m128_127", "random.randint", ri,
               {"shape": (6,), "minval": -128, "maxval": 127, "dtype": "int8"})
            rc("randint_i16_big", "random.randint", ri,
               {"shape": (6,), "minval": -1000, "maxval": 100000, "dtype": "int16"})
            rc("randint_u32", "random.randint", ri,
               {"shape": (6,), "minval": 3, "maxval": 4000000000, "dtype": "uint32"},
               x64=True)
            rc("randint_i64", "random.randint", ri,
               {"shape": (5,), "minval": -(2**40), "maxval": 2**50, "dtype": "int64"},
               x64=True)
            rc("randint_empty_range", "random.randint", ri,
               {"shape": (4,), "minval": 5, "maxval": 5, "dtype": "int32"})
            rc("randint_minval_array", "random.randint", ri,
               {"shape": (2, 3), "minval": arr([0, 100, -7], "int32"), "maxval": 1000,
                "dtype": "int32"})
            perm = lambda k, **kw: jr.permutation(k, **kw)
            for n in (1, 10, 37):
                rc(f"permutation_{n}", "random.permutation", perm, {"x": n})
            x34 = iota((3, 4), "float32")
            rc("permutation_2d_ax0", "random.permutation", perm, {"x": x34, "axis": 0})
            rc("permutation_2d_ax1", "random.permutation", perm, {"x": x34, "axis": 1})
            rc("permutation_2d_indep", "random.permutation", perm,
               {"x": x34, "axis": 1, "independent": True})
            cat = lambda k, **kw: jr.categorical(k, **kw)
            rc("categorical_3_shape6", "random.categorical", cat,
               {"logits": arr([0.0, 1.0, 2.0], f32), "shape": (6,)})
            l24 = rnd(70, (2, 4), decimals=2)
            rc("categorical_2x4", "random.categorical", cat, {"logits": l24})
            rc("categorical_2x4_ax0", "random.categorical", cat, {"logits": l24, "axis": 0})
            rc("categorical_2x4_prefix3", "random.categorical", cat,
               {"logits": l24, "shape": (3, 2)})
            rc("categorical_noreplace", "random.categorical", cat,
               {"logits": l24, "shape": (3, 2), "replace": False})
            rc("categorical_2x4_high", "random.categorical", cat, {"logits": l24, "mode": "high"})
            gum = lambda k, **kw: jr.gumbel(k, **kw)
            for mode in ("high", "highest"):
                rc(f"gumbel_{mode}_f32_9", "random.gumbel", gum,
                   {"shape": (9,), "dtype": f32, "mode": mode})
                rc(f"gumbel_{mode}_f64_3", "random.gumbel", gum,
                   {"shape": (3,), "dtype": f64, "mode": mode}, x64=True)
            for fn in ("gumbel", "exponential", "laplace", "logistic"):
                f = getattr(jr, fn)
                call = (lambda f: lambda k, **kw: f(k, **kw))(f)
                rc(f"{fn}_f32_7", f"random.{fn}", call, {"shape": (7,), "dtype": f32})
                rc(f"{fn}_f64_3", f"random.{fn}", call, {"shape": (3,), "dtype": f64}, x64=True)
            tn = lambda k, **kw: jr.truncated_normal(k, **kw)
            rc("truncated_normal_m1_2", "random.truncated_normal", tn,
               {"lower": -1.0, "upper": 2.0, "shape": (7,), "dtype": f32})
            rc("truncated_normal_arrays", "random.truncated_normal", tn,
               {"lower": arr([-3.0, 0.0, 1.0], f32), "upper": 4.0, "shape": (2, 3),
                "dtype": f32})
            ch = lambda k, **kw: jr.choice(k, **kw)
            p5 = arr([0.1, 0.2, 0.3, 0.15, 0.25], f32)
            rc("choice_5_replace", "random.choice", ch, {"a": 5, "shape": (6,)})
            rc("choice_5_noreplace", "random.choice", ch,
               {"a": 5, "shape": (3,), "replace": False})
            rc("choice_p_replace", "random.choice", ch, {"a": 5, "shape": (2, 3), "p": p5})
            rc("choice_p_noreplace", "random.choice", ch,
               {"a": 5, "shape": (3,), "replace": False, "p": p5})
            rc("choice_array_axis1", "random.choice", ch,
               {"a": x34, "shape": (2,), "axis": 1})
            rc("choice_array_noreplace", "random.choice", ch,
               {"a": x34, "shape": (2,), "replace": False})
            rad = lambda k, **kw: jr.rademacher(k, **kw)
            rc("rademacher_f32", "random.rademacher", rad, {"shape": (8,), "dtype": f32})
            rc("rademacher_i32", "random.rademacher", rad, {"shape": (8,), "dtype": "int32"})
    # Rejection samplers and matrix samplers (appended so the cases above keep their order).
    cov3 = arr([[2.0, 0.5, -0.3], [0.5, 1.0, 0.2], [-0.3, 0.2, 0.8]], f32)
    for seed in RANDOM_SEEDS:
        key = random_key_data(seed)
        for part in (True, False):
            t = f"s{seed}_{'p' if part else 'o'}"
            rc = lambda name, fn, call, kw, x64=False, note=None: rcase(
                f"{name}_{t}", fn, call, key, kw, part, x64=x64, note=note)
            call = lambda f: lambda k, **kw: f(k, **kw)
            gam, lgam = call(jr.gamma), call(jr.loggamma)
            rc("gamma_25_5", "random.gamma", gam, {"a": 2.5, "shape": (5,), "dtype": f32})
            rc("gamma_array_2x3", "random.gamma", gam,
               {"a": arr([0.3, 1.0, 4.0], f32), "shape": (2, 3), "dtype": f32})
            rc("gamma_small_a", "random.gamma", gam,
               {"a": arr([0.05, 0.5, 0.9, 30.0], f32), "dtype": f32})
            rc("gamma_f64", "random.gamma", gam, {"a": 0.7, "shape": (4,), "dtype": f64},
               x64=True)
            rc("loggamma_2x2", "random.loggamma", lgam,
               {"a": arr([[0.01, 0.5], [1.0, 3.0]], f32), "dtype": f32})
            bet = call(jr.beta)
            rc("beta_2_3", "random.beta", bet, {"a": 2.0, "b": 3.0, "shape": (5,), "dtype": f32})
            rc("beta_arrays", "random.beta", bet,
               {"a": arr([0.5, 1.0, 4.0], f32), "b": arr([[0.5], [2.0]], f32), "dtype": f32})
            dir_ = call(jr.dirichlet)
            rc("dirichlet_3", "random.dirichlet", dir_,
               {"alpha": arr([0.5, 1.0, 2.0], f32), "dtype": f32})
            rc("dirichlet_shape2", "random.dirichlet", dir_,
               {"alpha": arr([1.0, 3.0, 0.2, 5.0], f32), "shape": (2,), "dtype": f32})
            poi = call(jr.poisson)
            rc("poisson_3", "random.poisson", poi, {"lam": 3.0, "shape": (6,)})
            rc("poisson_mixed", "random.poisson", poi,
               {"lam": arr([0.0, 0.5, 5.0, 9.99, 10.0, 12.0, 50.0, 1000.0], f32)})
            rc("poisson_2x3_big", "random.poisson", poi, {"lam": 25.0, "shape": (2, 3)})
            bal = call(jr.ball)
            rc("ball_d3_p2", "random.ball", bal, {"d": 3, "p": 2, "shape": (4,), "dtype": f32})
            rc("ball_d2_p15", "random.ball", bal, {"d": 2, "p": 1.5, "shape": (3,), "dtype": f32})
            gn = call(jr.generalized_normal)
            rc("generalized_normal_p3", "random.generalized_normal", gn,
               {"p": 3.0, "shape": (5,), "dtype": f32})
            mvn = call(jr.multivariate_normal)
            rc("mvn_3_shape4", "random.multivariate_normal", mvn,
               {"mean": arr([1.0, -1.0, 0.5], f32), "cov": cov3, "shape": (4,)})
            rc("mvn_batch_mean", "random.multivariate_normal", mvn,
               {"mean": arr([[0.0, 0.0, 0.0], [10.0, 20.0, 30.0]], f32), "cov": cov3})
            rc("mvn_f64", "random.multivariate_normal", mvn,
               {"mean": arr([1.0, -1.0, 0.5], f64), "cov": arr(cov3, f64), "shape": (2,)},
               x64=True)
            orth = call(jr.orthogonal)
            rc("orthogonal_3", "random.orthogonal", orth, {"n": 3, "dtype": f32})
            rc("orthogonal_4_batch2", "random.orthogonal", orth,
               {"n": 4, "shape": (2,), "dtype": f32})
            rc("orthogonal_3x5", "random.orthogonal", orth, {"n": 3, "m": 5, "dtype": f32})
            rc("orthogonal_5x2", "random.orthogonal", orth, {"n": 5, "m": 2, "dtype": f32})
            rc("orthogonal_f64", "random.orthogonal", orth, {"n": 3, "dtype": f64}, x64=True)
    return c.cases


def topic_random_grad():
    """Implicit-reparameterization gradients: lax.random_gamma_grad on a grid of (a, x),
    and grad of the gamma-based samplers with respect to their parameters."""
    c = Cases()
    jr = jax.random
    f32, f64 = "float32", "float64"
    # (a, x) pairs over both branches (series: x <= 1 or x <= a; continued fraction
    # otherwise), tiny and huge values, and the edge cases x = 0, a <= 0, x < 0.
    a_grid = [0.01, 0.05, 0.3, 0.5, 1.0, 1.0, 1.0, 2.5, 2.5, 2.5, 10.0, 10.0, 10.0, 30.0,
              100.0, 100.0, 0.2, 3.0, 1.0, 0.0, -1.0, 2.0]
    x_grid = [1e-30, 1e-3, 0.2, 2.0, 1e-8, 0.5, 3.0, 0.1, 2.5, 6.0, 8.0, 10.5, 15.0, 25.0,
              95.0, 110.0, 40.0, 0.0, 1.1, 1.0, 1.0, -0.5]
    for dt in (f32, f64):
        c.add(f"random_gamma_grad_{dt}", "lax.random_gamma_grad", lax.random_gamma_grad,
              (arr(a_grid, dt), arr(x_grid, dt)), x64=dt == f64)

    def sample_grad(sampler, argnums):
        def run(k, **kw):
            params = [kw.pop(n) for n in argnums]

            def total(*ps):
                out = sampler(k, **dict(zip(argnums, ps)), **kw)
                # A fixed weighting, so dirichlet's sum-to-one does not zero the gradient.
                w = jnp.arange(1, out.size + 1, dtype=out.dtype).reshape(out.shape)
                return (out * w).sum()
            return jax.grad(total, argnums=tuple(range(len(params))))(*map(jnp.asarray, params))
        return run

    for seed in RANDOM_SEEDS:
        key = random_key_data(seed)
        t = f"s{seed}"
        c.add(f"gamma_grad_{t}", "random.gamma", sample_grad(jr.gamma, ["a"]), (key,),
              {"a": arr([0.3, 1.0, 4.0, 25.0], f32), "dtype": f32})
        c.add(f"gamma_grad_f64_{t}", "random.gamma", sample_grad(jr.gamma, ["a"]), (key,),
              {"a": arr([0.05, 2.0, 7.5], f64), "shape": (2, 3), "dtype": f64}, x64=True)
        c.add(f"loggamma_grad_{t}", "random.loggamma", sample_grad(jr.loggamma, ["a"]),
              (key,), {"a": arr([0.01, 0.5, 3.0], f32), "dtype": f32})
        c.add(f"beta_grad_{t}", "random.beta", sample_grad(jr.beta, ["a", "b"]), (key,),
              {"a": arr([0.5, 2.0, 4.0], f32), "b": arr([1.5, 0.7, 3.0], f32), "dtype": f32})
        c.add(f"dirichlet_grad_{t}", "random.dirichlet", sample_grad(jr.dirichlet, ["alpha"]),
              (key,), {"alpha": arr([0.5, 1.0, 2.0, 6.0], f32), "dtype": f32})
        c.add(f"uniform_grad_{t}", "random.uniform", sample_grad(jr.uniform, ["minval", "maxval"]),
              (key,), {"minval": arr([-1.0, 0.5], f32), "maxval": arr([2.0, 0.75], f32),
                       "shape": (2,), "dtype": f32})
        c.add(f"truncated_normal_grad_{t}", "random.truncated_normal",
              sample_grad(jr.truncated_normal, ["lower", "upper"]), (key,),
              {"lower": arr([-1.0, 0.0, -3.0], f32), "upper": arr([2.0, 1.5, 0.5], f32),
               "shape": (3,), "dtype": f32})
        c.add(f"mvn_grad_{t}", "random.multivariate_normal",
              sample_grad(jr.multivariate_normal, ["mean", "cov"]), (key,),
              {"mean": arr([1.0, -1.0, 0.5], f64),
               "cov": arr([[2.0, 0.5, -0.3], [0.5, 1.0, 0.2], [-0.3, 0.2, 0.8]], f64),
               "shape": (4,), "dtype": f64}, x64=True)
    return c.cases


def topic_linalg():
    """jnp.linalg decompositions (LAPACK on CPU). Eigenvalues, singular values, the
    Cholesky factor and QR with LAPACK's signs are unique; eigen/singular vectors
    only up to sign (the tests compare them modulo a sign per vector)."""
    c = Cases()

    def sym(seed, n, dtype):
        a = rnd(seed, (n, n), dtype=dtype)
        return ((a + a.T) / 2).astype(dtype)

    def spd(seed, n, dtype):
        a = rnd(seed, (n, n), dtype="float64")
        return (a @ a.T + n * np.eye(n)).astype(dtype)

    for dt, x64 in (("float32", False), ("float64", True)):
        for k, n in enumerate((1, 2, 3, 5, 8, 13)):
            c.jnp_(f"eigh_{dt}_{n}", "linalg.eigh", sym(400 + k, n, dt), x64=x64)
        batch = np.stack([sym(410 + k, 4, dt) for k in range(3)]).reshape(3, 4, 4)
        c.jnp_(f"eigvalsh_{dt}_batch", "linalg.eigvalsh", batch, x64=x64)
        for k, (m, n) in enumerate(((4, 4), (6, 3), (3, 6), (1, 5), (7, 2))):
            a = rnd(420 + k, (m, n), dtype=dt)
            c.jnp_(f"svd_{dt}_{m}x{n}", "linalg.svd", a, x64=x64, full_matrices=False)
            c.jnp_(f"svdvals_{dt}_{m}x{n}", "linalg.svd", a, x64=x64, compute_uv=False)
        low_rank = (rnd(430, (5, 1), dtype="float64") @ rnd(431, (1, 4), dtype="float64"))
        c.jnp_(f"svdvals_{dt}_rank1", "linalg.svd", low_rank.astype(dt), x64=x64,
               compute_uv=False)
        c.jnp_(f"cholesky_{dt}", "linalg.cholesky", spd(440, 5, dt), x64=x64)
        for mode in ("reduced", "complete"):
            c.jnp_(f"qr_{dt}_{mode}", "linalg.qr", rnd(450, (5, 3), dtype=dt), x64=x64,
                   mode=mode)
    return c.cases


TOPICS = [
    ("numpy_linalg.json", topic_linalg),
    ("numpy_promotion.json", topic_promotion),
    ("numpy_intdiv.json", topic_intdiv),
    ("numpy_rounding.json", topic_rounding),
    ("numpy_math.json", topic_math),
    ("numpy_reductions.json", topic_reductions),
    ("numpy_indexing.json", topic_indexing),
    ("numpy_sort.json", topic_sort),
    ("numpy_einsum.json", topic_einsum),
    ("numpy_conv.json", topic_conv),
    ("numpy_shape.json", topic_shape),
    ("nn.json", topic_nn),
    ("transforms.json", topic_transforms),
    ("control.json", topic_control),
    ("random.json", topic_random),
    ("random_grad.json", topic_random_grad),
]

# Topics whose files use their own format description.
TOPIC_DOCS = {"transforms.json": TRANSFORMS_DOC, "control.json": CONTROL_DOC}


# Extra format notes for single topics (keeps the other files' "doc" unchanged).
TOPIC_DOC = {
    "random.json": {
        "random": (
            'fn "random.X" = jax.random.X(key, **kwargs) where args[0] is the legacy '
            "uint32[2] key data of PRNGKey(seed) (64-bit seeds, made with x64 on); "
            '"partitionable" is the jax_threefry_partitionable setting the case ran with '
            '(JAX >= 0.5 defaults to true). "random.PRNGKey" cases take the Python int seed. '
            'Float outputs also carry "out_bits": the raw IEEE bit patterns as unsigned ints.'
        ),
    },
}


def dump(path, cases, doc=DOC):
    doc = dict(doc, **TOPIC_DOC.get(os.path.basename(path), {}))
    head = {"jax_version": jax.__version__, "doc": doc}
    lines = ["{", f'"jax_version": {json.dumps(jax.__version__)},',
             f'"doc": {json.dumps(doc, allow_nan=False)},', '"cases": [']
    for i, case in enumerate(cases):
        sep = "," if i + 1 < len(cases) else ""
        lines.append(json.dumps(case, allow_nan=False, separators=(",", ":")) + sep)
    lines.append("]}")
    text = "\n".join(lines) + "\n"
    json.loads(text)  # sanity
    assert head
    with open(path, "w") as f:
        f.write(text)


def run_topic(job):
    """Worker: compute one topic and write its file. Returns (fname, ncases, seconds)."""
    fname, out_dir = job
    warnings.simplefilter("ignore", FutureWarning)
    topic = dict(TOPICS)[fname]
    t0 = time.time()
    cases = topic()
    dump(os.path.join(out_dir, fname), cases, TOPIC_DOCS.get(fname, DOC))
    return fname, len(cases), time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "golden"))
    ap.add_argument("--only", default=None, help="comma-separated file names to regenerate")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                    help="worker processes (topics are independent; output is identical)")
    args = ap.parse_args()
    out_dir = os.path.normpath(args.out)
    os.makedirs(out_dir, exist_ok=True)
    names = [f for f, _ in TOPICS if not args.only or f in args.only.split(",")]
    jobs = [(f, out_dir) for f in names]
    if args.jobs > 1 and len(jobs) > 1:
        import multiprocessing as mp
        # Biggest topics first for better load balance; results re-ordered below.
        weight = {"numpy_reductions.json": 0, "numpy_shape.json": 1, "nn.json": 2,
                  "numpy_promotion.json": 3, "numpy_math.json": 4, "numpy_indexing.json": 5}
        order = sorted(jobs, key=lambda j: weight.get(j[0], 99))
        with mp.get_context("spawn").Pool(min(args.jobs, len(jobs))) as pool:
            results = {r[0]: r for r in pool.imap_unordered(run_topic, order)}
    else:
        results = {j[0]: run_topic(j) for j in jobs}
    total = 0
    for f in names:
        _, n, dt = results[f]
        total += n
        print(f"{f}: {n} cases ({dt:.1f}s)")
    print(f"total: {total} cases (jax {jax.__version__})")


if __name__ == "__main__":
    main()
