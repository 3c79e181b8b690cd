"""The program tests/test_distributed.py runs under ``mpiexec``: one scenario per launch.

``python tests/mpi_worker.py SCENARIO MODE [ARGUMENTS]``.  Every rank checks its own
results and exits non-zero on a failed check; rank 0 prints ``PASSED ...``
lines that the test reads.  The reference of each check is the plain rule
run by this process on the whole batch, without MPI.
"""

import os
import signal
import sys
import time

import numpy as np
import pytensor
import pytensor.tensor as pt
from mpi4py import MPI

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import symupdates  # noqa: E402
from symupdates.distributed import AllGather, AllReduceSum, broadcast_parameters, data_parallel  # noqa: E402

COMM = MPI.COMM_WORLD
RANK, SIZE = COMM.Get_rank(), COMM.Get_size()
BATCH = 12  # divisible by 1, 2, 3 and 4
STEPS = 4


def report(message):
    if RANK == 0:
        print("PASSED " + message, flush=True)


def problem(dtype, seed=0):
    """Three parameters of different sizes (so that sharding splits them) and a regression batch."""
    rng = np.random.default_rng(seed)
    values = [rng.normal(size=(6, 5)), rng.normal(size=(5,)), rng.normal(size=(5, 2))]
    x, y = rng.normal(size=(BATCH, 6)), rng.normal(size=(BATCH, 2))
    return [v.astype(dtype) for v in values], x.astype(dtype), y.astype(dtype)


def model(values):
    W1, b1, W2 = params = [pytensor.shared(v.copy(), name=n) for v, n in zip(values, ("W1", "b1", "W2"))]
    x, y = pt.matrix("x", dtype=values[0].dtype), pt.matrix("y", dtype=values[0].dtype)
    loss = ((pt.dot(pt.tanh(pt.dot(x, W1) + b1), W2) - y) ** 2).mean()
    return params, x, y, loss


RULES = {
    "sgd": lambda: symupdates.sgd(learning_rate=0.1),
    "adam": lambda: symupdates.adam(learning_rate=0.05),
    "clip+adam": lambda: symupdates.chain(symupdates.clip_by_global_norm(max_norm=0.3),
                                          symupdates.adam(learning_rate=0.05)),
}


def compile_mode(name):
    """py: the py linker; c: the C/CVM linker; numba: PyTensor's Numba linker."""
    linker = {"py": "py", "c": "cvm", "numba": "numba"}[name]
    return pytensor.compile.mode.Mode(linker=linker, optimizer="fast_compile" if name != "numba" else "fast_run")


def run(rule, values, x_data, y_data, mode, steps=STEPS):
    params, x, y, loss = model(values)
    updates = rule(loss, params)
    step = pytensor.function([x, y], loss, updates=updates, mode=compile_mode(mode))
    for _ in range(steps):
        step(x_data, y_data)
    return [p.get_value() for p in params], updates, step


def my_slice(data):
    share = len(data) // SIZE
    return data[RANK * share:(RANK + 1) * share]


def state_elements(updates):
    return sum(v.get_value(borrow=True).size for v in symupdates.state_variables(updates))


def close(got, expected, dtype, what):
    rtol, atol = (1e-10, 1e-13) if dtype == "float64" else (2e-5, 1e-6)
    for g, e in zip(got, expected):
        if g.dtype != e.dtype or not np.allclose(g, e, rtol=rtol, atol=atol):
            raise AssertionError("rank %d: %s differs from one process on the whole batch by %g"
                                 % (RANK, what, np.max(np.abs(g - e))))


def equality(mode, *dtypes):
    """Every rank on its slice = one process on the whole batch, with and without sharded state."""
    for dtype in dtypes:
        values, x_data, y_data = problem(dtype)
        for name in RULES:
            expected, plain_updates, _ = run(RULES[name](), values, x_data, y_data, mode)
            for shard in (False, True):
                got, updates, step = run(data_parallel(RULES[name](), shard_state=shard), values,
                                         my_slice(x_data), my_slice(y_data), mode)
                what = "%s %s shard_state=%s mode=%s" % (name, dtype, shard, mode)
                close(got, expected, dtype, what)
                collectives = [n.op for n in step.maker.fgraph.apply_nodes if isinstance(n.op, (AllReduceSum, AllGather))]
                if len(collectives) != (2 if shard else 1):
                    raise AssertionError("%s: %d collectives in the step, expected one per exchange"
                                         % (what, len(collectives)))
                if shard and name != "sgd":
                    mine = COMM.allreduce(state_elements(updates))
                    whole = state_elements(plain_updates) + (SIZE - 1) * 1  # each rank has its own step counter
                    if mine != whole:
                        raise AssertionError("%s: the ranks keep %d state elements together, one process %d"
                                             % (what, mine, whole))
                report(what)
    # the gradient transforms of a chain see the gradients of all ranks in both spellings
    values, x_data, y_data = problem("float64")
    expected, _, _ = run(RULES["clip+adam"](), values, x_data, y_data, mode)
    spelled = symupdates.chain(symupdates.clip_by_global_norm(max_norm=0.3),
                               data_parallel(symupdates.adam(learning_rate=0.05), shard_state=True))
    got, _, _ = run(spelled, values, my_slice(x_data), my_slice(y_data), mode)
    close(got, expected, "float64", "chain(clip, data_parallel(adam))")
    report("chain(clip, data_parallel(adam)) mode=%s" % mode)


def resume(mode, directory):
    """Sharded state saved after 3 steps and loaded back continues bit-for-bit."""
    values, x_data, y_data = problem("float64")
    params, x, y, loss = model(values)
    updates = data_parallel(symupdates.adam(learning_rate=0.05), shard_state=True)(loss, params)
    step = pytensor.function([x, y], loss, updates=updates, mode=compile_mode(mode))
    for _ in range(3):
        step(my_slice(x_data), my_slice(y_data))
    saved = [p.get_value() for p in params]
    path = os.path.join(directory, "state.npz")
    symupdates.save_state(updates, path)
    for _ in range(3):
        step(my_slice(x_data), my_slice(y_data))
    continued = [p.get_value() for p in params]
    for p, v in zip(params, saved):
        p.set_value(v)
    for var in symupdates.state_variables(updates):
        var.set_value(np.zeros_like(var.get_value()))
    symupdates.load_state(updates, path)
    for _ in range(3):
        step(my_slice(x_data), my_slice(y_data))
    for a, b in zip(continued, [p.get_value() for p in params]):
        if not np.array_equal(a, b):
            raise AssertionError("rank %d: resumed run differs from the continued run" % RANK)
    if not os.path.exists(os.path.join(directory, "state.rank%d-of-%d.npz" % (RANK, SIZE))):
        raise AssertionError("rank %d: no state file of its own" % RANK)
    report("resume bit-for-bit")
    broadcast(mode)


def disagree(mode):
    """Rank 1 builds one more parameter: every rank must raise at build time."""
    values, _, _ = problem("float64")
    params, _, _, loss = model(values)
    if RANK == 1:
        params = params + [pytensor.shared(np.zeros(3), name="extra")]
        loss = loss + (params[-1] ** 2).sum()
    data_parallel(symupdates.sgd(learning_rate=0.1))(loss, params)
    print("rank %d built the updates" % RANK, flush=True)


def fail(mode, how, directory):
    """Rank 1 raises (``raise``) or is killed (``kill``) while rank 0 waits in the all-reduce."""
    values, x_data, y_data = problem("float64")
    params, x, y, loss = model(values)
    step = pytensor.function([x, y], loss, updates=data_parallel(symupdates.sgd(learning_rate=0.1))(loss, params),
                             mode=compile_mode(mode))
    step(my_slice(x_data), my_slice(y_data))
    with open(os.path.join(directory, "rank%d.pid" % RANK), "w") as f:  # the test checks these processes end
        f.write(str(os.getpid()))
    COMM.Barrier()  # both pid files are written before rank 1 fails and the job is torn down
    if RANK == 1:
        if how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise RuntimeError("rank 1 fails on purpose")
    while True:  # rank 0 goes on stepping: it waits for rank 1 in the all-reduce
        step(my_slice(x_data), my_slice(y_data))
        time.sleep(0.01)


def broadcast(mode):
    """broadcast_parameters gives every rank rank 0's values."""
    values, _, _ = problem("float64", seed=RANK)
    params, _, _, _ = model(values)
    broadcast_parameters(params)
    root_values, _, _ = problem("float64", seed=0)
    for p, v in zip(params, root_values):
        if not np.array_equal(p.get_value(), v):
            raise AssertionError("rank %d: broadcast did not give rank 0's values" % RANK)
    report("broadcast_parameters")


PERFORM = AllReduceSum.perform, AllGather.perform


def refuse_perform(*args):
    raise AssertionError("rank %d: the py implementation ran under a compiled linker" % RANK)


def collectives(mode):
    """The ops alone under the py, C and Numba linkers, and a communicator of one rank."""
    for linker in ("py", "c", "numba"):
        for dtype in ("float64", "float32"):
            mine = (np.arange(RANK + 2) + 10.0 * RANK).astype(dtype)
            x = pt.vector("x", dtype=dtype)
            total = AllReduceSum(COMM.py2f())(x)
            gathered = AllGather(COMM.py2f(), [r + 2 for r in range(SIZE)])(x)
            width = SIZE + 1
            if linker != "py":  # the linker's own implementation runs, not a fallback to perform
                AllReduceSum.perform = AllGather.perform = refuse_perform
            try:
                f = pytensor.function([x], total, mode=compile_mode(linker))
                g = pytensor.function([x], gathered, mode=compile_mode(linker))
                got_total, got_gathered = f((np.arange(width) * (RANK + 1)).astype(dtype)), g(mine)
            finally:
                AllReduceSum.perform, AllGather.perform = PERFORM
            expected_total = np.arange(width) * sum(r + 1 for r in range(SIZE))
            expected_gathered = np.concatenate([np.arange(r + 2) + 10.0 * r for r in range(SIZE)])
            if not (got_total.dtype == dtype and np.array_equal(got_total, expected_total)
                    and got_gathered.dtype == dtype and np.array_equal(got_gathered, expected_gathered)):
                raise AssertionError("rank %d: %s %s collectives gave %s and %s"
                                     % (RANK, linker, dtype, got_total, got_gathered))
            report("collectives %s %s" % (linker, dtype))
    # a communicator of one rank: exactly the rule, no collective
    values, x_data, y_data = problem("float64")
    expected, plain_updates, _ = run(symupdates.adam(learning_rate=0.05), values, x_data, y_data, mode)
    for shard in (False, True):
        got, updates, step = run(data_parallel(symupdates.adam(learning_rate=0.05), comm=MPI.COMM_SELF,
                                               shard_state=shard), values, x_data, y_data, mode)
        if [v.name for v in updates] != [v.name for v in plain_updates] or any(
                not np.array_equal(g, e) for g, e in zip(got, expected)):
            raise AssertionError("rank %d: data_parallel on one rank is not the plain rule" % RANK)
        if any(isinstance(n.op, (AllReduceSum, AllGather)) for n in step.maker.fgraph.apply_nodes):
            raise AssertionError("rank %d: a collective on a communicator of one rank" % RANK)
    report("one rank is the plain rule")


if __name__ == "__main__":
    globals()[sys.argv[1]](*sys.argv[2:])
