"""Steps per second of ``symupdates.unroll(k=10)`` against 10 separate calls.

Adam (float32), bare and chained after ``clip_by_global_norm``
(``--rules adam clip+adam``), on the "500 x 100" layout (500 tensors of 100 elements) and
the "1 x 10M" layout (one tensor of 10M elements), with a linear loss
``sum(c * p)`` (gradients that do not change: the step is all optimizer
work), on the C backend (``Mode(linker="cvm", optimizer="fast_run")``;
``--modes c-nogc``: its ``cvm_nogc`` linker) and on PyTensor's default mode.  For each: one compiled call of one step, called ``k`` times;
one call of ``unroll(..., method="unrolled")``; one of ``method="scan"``.
Each is measured in rounds (every variant in turn per round); the median
round is reported, with the ratio to the separate calls of the same run.
Every (mode, case, rule) runs in a process of its own under a memory limit
(``--mem-limit-gb``); one that runs out of memory or time prints ``n/a``.

    python benchmarks/unroll.py [--steps 10] [--rounds 5] [--cases 500x100 1x10M] [--modes c c-nogc default]
                               [--rules adam clip+adam]
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.compile.mode import Mode, get_default_mode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from problems import DTYPE, HYPER, arrays, layout_shapes  # noqa: E402

import symupdates  # noqa: E402

CASES = {"500x100": (500, 100), "1x10M": (1, 10_000_000)}

#: The rule stepped: Adam bare, and chained after global-norm clipping (the
#: composition the engine fuses into the rule's kernel).
RULES = {
    "adam": lambda: symupdates.adam(**HYPER["adam"]),
    "clip+adam": lambda: symupdates.chain(symupdates.clip_by_global_norm(max_norm=1.0),
                                          symupdates.adam(**HYPER["adam"])),
}


def modes(names):
    out = {}
    for name in names:
        if name == "c":
            out["C (cvm)"] = Mode(linker="cvm", optimizer="fast_run")
        elif name == "c-nogc":  # PyTensor's C VM without its end-of-call gc (quadratic in the variables)
            out["C (cvm_nogc)"] = Mode(linker="cvm_nogc", optimizer="fast_run")
        elif name == "default":
            mode = get_default_mode()
            out["default (%s)" % type(mode.linker).__name__] = mode
        else:
            out[name] = name
    return out


def build(case, k, method, mode, rule_name="adam"):
    n, size = CASES[case]
    shapes = layout_shapes(n, size)
    params = [pytensor.shared(v, name="p%d" % i) for i, v in enumerate(arrays(shapes))]
    # shared, not constants: the gradients are then not folded into constants at compile time
    coefficients = [pytensor.shared(c, name="c%d" % i) for i, c in enumerate(arrays(shapes, seed=1, scale=0.1))]
    loss = pt.add(*[(c * p).sum() for c, p in zip(coefficients, params)]) if n > 1 else (coefficients[0] * params[0]).sum()
    rule = RULES[rule_name]()
    if method == "calls":
        updates, calls = rule(loss, params), k
    else:
        updates, calls = symupdates.unroll(rule, loss, params, k, method=method), 1
    start = time.perf_counter()
    fn = pytensor.function([], [], updates=updates, mode=mode)
    compile_seconds = time.perf_counter() - start
    fn()  # warm up (first-call allocations)

    def run():
        for _ in range(calls):
            fn()

    return run, compile_seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--modes", nargs="+", default=["c", "default"])
    parser.add_argument("--methods", nargs="+", default=["calls", "unrolled", "scan"])
    parser.add_argument("--rules", nargs="+", default=["adam"], choices=list(RULES))
    parser.add_argument("--mem-limit-gb", type=float, default=8.0,
                        help="memory allowed to each (mode, case, rule) measurement, run in a process of its own")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed to each measurement process")
    parser.add_argument("--one", nargs=3, metavar=("MODE", "CASE", "RULE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    k = args.steps
    if args.one:
        measure(args, *args.one)
        return
    print("%s, %d steps; steps per second (median of %d rounds), ratio to %d separate calls"
          % (DTYPE, k, args.rounds, k))
    sys.stdout.flush()
    limit = int(args.mem_limit_gb * 2**30)

    def limit_memory():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    for mode in args.modes:
        for case, rule_name in [(c, r) for c in args.cases for r in args.rules]:
            # A process per measurement, under a memory limit: PyTensor's Numba
            # linker compiles a many-tensor graph as one function and can take
            # all the memory there is (500 x 100: 17 GB and counting).
            command = [sys.executable, os.path.abspath(__file__), "--one", mode, case, rule_name, "--steps", str(k),
                       "--rounds", str(args.rounds), "--methods", *args.methods]
            try:
                done = subprocess.run(command, preexec_fn=limit_memory, timeout=args.timeout)
                failed = done.returncode != 0 and "exited with %d (out of memory under --mem-limit-gb %g?)" % (
                    done.returncode, args.mem_limit_gb)
            except subprocess.TimeoutExpired:
                failed = "did not finish within %g s" % args.timeout
            if failed:
                print("%-14s %-8s %-10s n/a: %s" % (mode, case, rule_name, failed))
            sys.stdout.flush()


def measure(args, mode_key, case, rule_name):
    """One (mode, case, rule) measurement: every method, in rounds."""
    k = args.steps
    (mode_name, mode), = modes([mode_key]).items()
    runs = {method: build(case, k, method, mode, rule_name) for method in args.methods}
    times = {m: [] for m in runs}
    for _ in range(args.rounds):
        for method, (run, _) in runs.items():
            start = time.perf_counter()
            run()
            times[method].append(time.perf_counter() - start)
    base = np.median(times["calls"]) if "calls" in times else None
    for method in runs:
        seconds = float(np.median(times[method]))
        label = "%d separate calls" % k if method == "calls" else "unroll(k=%d, %s)" % (k, method)
        ratio = "" if base is None else "  x%.2f" % (base / seconds)
        print("%-14s %-8s %-10s %-26s %10.1f steps/s  (compile %.1f s)%s"
              % (mode_name, case, rule_name, label, k / seconds, runs[method][1], ratio))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
