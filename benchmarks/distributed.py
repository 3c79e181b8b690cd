"""Data-parallel step time on 1, 2 and 3 processes, and the all-reduce's share of it.

    python benchmarks/distributed.py                 # 1, 2, 3 processes, C linker, float32
    python benchmarks/distributed.py --ranks 1 2 --mode numba --steps 30

The model is an MLP of about 1M parameters (784-1024-200-10, see
``LAYERS``); the global batch of ``--batch`` examples is split over the
processes.  Each launch (``mpiexec -n N python benchmarks/distributed.py
--worker``) compiles one step of ``data_parallel(adam)`` and reports, on
rank 0, medians over ``--steps`` steps of:

* the whole step (forward, backward, all-reduce, Adam), and the same with
  ``shard_state=True`` (Adam on this rank's share, then an all-gather);
* the all-reduce alone: our ``AllReduceSum`` op compiled by itself on a
  buffer of the model's size, and, measured in the same run as the peer,
  mpi4py's ``comm.Allreduce`` on the same buffer.

The table prints the step time relative to one process, the all-reduce's
share of the step, and our op against mpi4py.  On one machine the
processes share its cores and memory bandwidth: the numbers say what the
collective costs, not how training scales across machines
(docs/distributed.rst plans that on paper).
"""

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LAYERS = (784, 1024, 200, 10)  # 784*1024 + 1024 + 1024*200 + 200 + 200*10 + 10 = 1,010,850 parameters


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def worker(args):
    sys.path.insert(0, ROOT)
    import numpy as np
    import pytensor
    import pytensor.tensor as pt
    from mpi4py import MPI

    import symupdates
    from symupdates.distributed import AllReduceSum, broadcast_parameters, data_parallel

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    mode = pytensor.compile.mode.Mode(linker={"c": "cvm", "numba": "numba", "py": "py"}[args.mode],
                                      optimizer="fast_run")
    dtype = args.dtype
    rng = np.random.default_rng(0)
    params = []
    for n_in, n_out in zip(LAYERS[:-1], LAYERS[1:]):
        params.append(pytensor.shared((rng.normal(size=(n_in, n_out)) / np.sqrt(n_in)).astype(dtype)))
        params.append(pytensor.shared(np.zeros(n_out, dtype=dtype)))
    broadcast_parameters(params)
    n_params = sum(p.get_value().size for p in params)
    x, y = pt.matrix("x", dtype=dtype), pt.ivector("y")
    h = x
    for i in range(0, len(params), 2):
        h = pt.dot(h, params[i]) + params[i + 1]
        if i + 2 < len(params):
            h = pt.maximum(h, 0)
    loss = -pt.mean(pt.log(pt.special.softmax(h, axis=-1))[pt.arange(y.shape[0]), y])
    updates = data_parallel(symupdates.adam(learning_rate=1e-3))(loss, params)
    step = pytensor.function([x, y], loss, updates=updates, mode=mode)
    sharded_updates = data_parallel(symupdates.adam(learning_rate=1e-3), shard_state=True)(loss, params)
    sharded_step = pytensor.function([x, y], loss, updates=sharded_updates, mode=mode)
    local = args.batch // size
    x_data = rng.normal(size=(local, LAYERS[0])).astype(dtype)
    y_data = rng.integers(0, LAYERS[-1], size=local).astype("int32")

    buffer = pt.vector(dtype=dtype)
    allreduce = pytensor.function([buffer], AllReduceSum(comm.py2f())(buffer), mode=mode)
    flat = rng.normal(size=n_params).astype(dtype)
    received = np.empty_like(flat)

    def timed(call):
        call()  # warm up
        times = []
        for _ in range(args.steps):
            comm.Barrier()
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        return median(times)

    step_time = timed(lambda: step(x_data, y_data))
    sharded_time = timed(lambda: sharded_step(x_data, y_data))
    op_time = timed(lambda: allreduce(flat))
    mpi4py_time = timed(lambda: comm.Allreduce(flat, received))
    if rank == 0:
        print("RESULT %d %d %.6f %.6f %.6f %.6f" % (size, n_params, step_time, op_time, mpi4py_time, sharded_time),
              flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--mode", choices=["c", "numba", "py"], default="c")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--batch", type=int, default=96, help="global batch (default 96, split over the processes)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement (median)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    rows = []
    for ranks in args.ranks:
        command = [mpiexec, "-n", str(ranks), sys.executable, os.path.abspath(__file__), "--worker",
                   "--mode", args.mode, "--dtype", args.dtype, "--batch", str(args.batch), "--steps", str(args.steps)]
        result = subprocess.run(command, capture_output=True, text=True)
        lines = [line.split() for line in result.stdout.splitlines() if line.startswith("RESULT")]
        if result.returncode != 0 or not lines:
            sys.exit("mpiexec -n %d failed:\n%s" % (ranks, result.stderr[-3000:]))
        _, size, n_params, step, op, peer, sharded = lines[0]
        rows.append((int(size), int(n_params), float(step), float(op), float(peer), float(sharded)))
    print("data_parallel(adam) step, MLP %s (%d parameters, %s), global batch %d, %s linker, %d cores"
          % ("-".join(map(str, LAYERS)), rows[0][1], args.dtype, args.batch, args.mode, os.cpu_count()))
    print("%9s %10s %12s %14s %15s %12s %16s" % ("processes", "step ms", "vs 1 process", "all-reduce ms",
                                                 "share of step", "op / mpi4py", "sharded step ms"))
    base = rows[0][2]
    for size, _, step, op, peer, sharded in rows:
        print("%9d %10.2f %11.2fx %14.2f %14.0f%% %11.2fx %16.2f" % (size, step * 1e3, step / base, op * 1e3,
                                                                     100 * op / step, op / peer, sharded * 1e3))


if __name__ == "__main__":
    main()
