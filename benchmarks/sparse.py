"""Row-sparse steps against dense ones: an embedding of N rows, a minibatch touching K of them.

One training step (forward, gradient, update) of ``sum((E[idx] @ a - y)**2)``
with ``adam`` (every row), ``sparse_adam`` and ``adam(lazy=True)`` (the K
touched rows), compiled for each backend.  Steps are timed in rounds (each
round times every rule in turn; the median of rounds is reported), and the
ratios are against dense ``adam`` in the same run.  A row-sparse step should
cost in K, not N: its time stays flat along N and grows along K.

    python benchmarks/sparse.py                      # N = 10k, 200k, 2M; K = 256, 4096; C and Numba
    python benchmarks/sparse.py --tiny               # seconds: structure only
"""

import argparse
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from measure import time_step  # noqa: E402

RULES = ("adam", "sparse_adam", "adam(lazy=True)")


def backend_mode(name):
    from pytensor.compile.mode import Mode, get_mode

    if name == "c":
        return Mode(linker="cvm", optimizer="fast_run")
    return get_mode("NUMBA")


def build_steps(rows, columns, touched, mode, seed=0):
    """One compiled step per rule, each on its own copy of the embedding, and the batch feeder."""
    import pytensor
    import pytensor.tensor as pt

    import symupdates

    rng = np.random.default_rng(seed)
    start = (rng.standard_normal((rows, columns)) * 0.01).astype("float32")
    a = rng.standard_normal(columns).astype("float32")
    batches = [(rng.integers(0, rows, touched), rng.standard_normal(touched).astype("float32")) for _ in range(8)]
    rules = {
        "adam": lambda loss, params: symupdates.adam(loss, params),
        "sparse_adam": lambda loss, params: symupdates.sparse_adam(loss, params),
        "adam(lazy=True)": lambda loss, params: symupdates.adam(loss, params, lazy=True),
    }
    steps = {}
    for name in RULES:
        E = pytensor.shared(start.copy(), name="E")
        idx, y = pt.lvector("idx"), pt.vector("y", dtype="float32")
        loss = pt.sum((pt.dot(E[idx], a) - y) ** 2)
        f = pytensor.function([idx, y], loss, updates=rules[name](loss, [E]), mode=mode)
        counter = iter(range(10**12))

        def step(f=f, counter=counter):
            f(*batches[next(counter) % len(batches)])

        step()
        steps[name] = step
    return steps


def measure(rows, columns, touched, backend, rounds, min_sample_s):
    steps = build_steps(rows, columns, touched, backend_mode(backend))
    per_rule = {name: [] for name in RULES}
    for _ in range(rounds):
        for name in RULES:
            per_rule[name].append(time_step(steps[name], samples=3, min_sample_s=min_sample_s, warmup=1)["ms"])
    return {name: statistics.median(times) for name, times in per_rule.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,200000,2000000", help="N values, comma-separated")
    parser.add_argument("--touched", default="256,4096", help="K values, comma-separated")
    parser.add_argument("--columns", type=int, default=32)
    parser.add_argument("--backends", default="c,numba")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-sample-s", type=float, default=0.05)
    parser.add_argument("--tiny", action="store_true", help="N = 1000, K = 16, one round: structure only")
    args = parser.parse_args(argv)
    if args.tiny:
        args.rows, args.touched, args.columns, args.rounds, args.min_sample_s = "1000", "16", 4, 1, 0.0
    header = "%-7s %9s %6s %11s %13s %11s %17s %11s" % (
        "backend", "N", "K", "adam ms", "sparse_adam ms", "ratio", "adam(lazy) ms", "ratio")
    print(header)
    print("-" * len(header))
    results = []
    for backend in args.backends.split(","):
        for rows in map(int, args.rows.split(",")):
            for touched in map(int, args.touched.split(",")):
                ms = measure(rows, args.columns, touched, backend, args.rounds, args.min_sample_s)
                dense = ms["adam"]
                print("%-7s %9d %6d %11.3f %13.3f %11.4f %17.3f %11.4f" % (
                    backend, rows, touched, dense, ms["sparse_adam"], ms["sparse_adam"] / dense,
                    ms["adam(lazy=True)"], ms["adam(lazy=True)"] / dense), flush=True)
                results.append(dict(backend=backend, rows=rows, touched=touched, ms=ms))
    return results


if __name__ == "__main__":
    main()
