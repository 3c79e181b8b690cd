"""Compile time of wrapped rules against the bare rule, measured in one run.

    python benchmarks/compositions.py                       # 20 and 100 tensors, CVM and Numba
    python benchmarks/compositions.py --tensors 20 --modes cvm --rounds 5

Compiles an MLP's training function (``benchmarks/ours.py``'s tanh MLP) with
the updates of Adam alone and of every composition of issue 10 around it,
interleaved: each round compiles every variant once, in turn, so that the
load of a shared machine falls on all of them alike.  Each compile is the
build of the updates, ``pytensor.function`` and the first call, in this
process (caches warm after the ``--warmup`` rounds, which are not counted).
Prints the median of the rounds and its ratio to the bare rule, and the
update nodes and in-place status of each variant.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np
import pytensor
from pytensor.compile.mode import Mode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import symupdates  # noqa: E402
from ours import mlp  # noqa: E402

MODES = {"cvm": lambda: Mode(linker="cvm", optimizer="fast_run"), "numba": lambda: "NUMBA"}


def variants(rule="adam"):
    base = lambda: symupdates.RULES[rule](learning_rate=1e-3)  # noqa: E731
    return {
        "bare": lambda: base(),
        "skip_nonfinite": lambda: symupdates.skip_nonfinite(base()),
        "accumulate_gradients": lambda: symupdates.accumulate_gradients(base(), 4),
        "lookahead": lambda: symupdates.chain(base(), symupdates.lookahead(sync_period=5)),
        "exponential_moving_average": lambda: symupdates.chain(base(), symupdates.exponential_moving_average()),
        "polyak_average": lambda: symupdates.chain(base(), symupdates.polyak_average()),
        "clip_by_global_norm": lambda: symupdates.chain(symupdates.clip_by_global_norm(max_norm=1.0), base()),
        "add_weight_decay": lambda: symupdates.chain(symupdates.add_weight_decay(weight_decay=1e-4), base()),
        "apply_decoupled_weight_decay": lambda: symupdates.chain(
            base(), symupdates.apply_decoupled_weight_decay(weight_decay=1e-4)),
    }


def structure(f):
    """(update nodes over tensors, variables updated out of place)."""
    from pytensor.tensor.elemwise import Elemwise
    from symupdates.engine import MultiElemwise

    fg = f.maker.fgraph
    kernels = [n for n in fg.apply_nodes if isinstance(n.op, MultiElemwise)
               or (isinstance(n.op, Elemwise) and any(o.type.ndim > 0 for o in n.outputs)
                   and any(fg.outputs.index(o) in fg.update_mapping for o in n.outputs if o in fg.outputs))]
    out_of_place = []
    for o, i in fg.update_mapping.items():
        out, inp = fg.outputs[o], fg.inputs[i]
        node = out.owner
        if inp.type.ndim == 0 or node is None:
            continue
        if not any(node.inputs[k] is inp for k in node.op.destroy_map.get(node.outputs.index(out), ())):
            out_of_place.append(inp.name)
    return len(kernels), out_of_place


def compile_once(make_rule, n_tensors, mode):
    x, y, loss, params, data = mlp(n_tensors)
    start = time.perf_counter()
    updates = make_rule()(loss, params)
    f = pytensor.function([x, y], loss, updates=updates, mode=MODES[mode]())
    f(*data)
    return time.perf_counter() - start, f


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tensors", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--modes", nargs="+", default=["cvm", "numba"], choices=list(MODES))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="rounds not counted (default 1)")
    parser.add_argument("--only", nargs="*", help="variants to measure (default: all)")
    args = parser.parse_args()
    names = [n for n in variants() if not args.only or n in args.only or n == "bare"]
    for mode in args.modes:
        for n in args.tensors:
            times = {name: [] for name in names}
            shapes = {}
            for r in range(args.warmup + args.rounds):
                for name in names:
                    seconds, f = compile_once(variants()[name], n, mode)
                    if name not in shapes:
                        shapes[name] = structure(f)
                    if r >= args.warmup:
                        times[name].append(seconds)
            bare = statistics.median(times["bare"])
            for name in names:
                t = statistics.median(times[name])
                kernels, out_of_place = shapes[name]
                print("%-6s %4d tensors  %-29s %7.2f s  %5.2fx bare  update nodes %3d  out of place: %s"
                      % (mode, n, name, t, t / bare, kernels, ", ".join(out_of_place) or "none"), flush=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
