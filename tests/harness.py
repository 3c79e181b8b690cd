"""One test problem for every rule, and its trajectory under any optimizer.

The problem has parameters of several shapes (0-d, vector, matrix, 3-d) and
gradients that depend on the parameters plus a fixed noise per step::

    grad_i = a_i * (p_i - c_i) + noise[step][i]

so that every framework (PyTensor, torch, optax, NumPy) computes exactly the
same gradients from the same parameters.  A *trajectory* is the list, over
steps, of the list of parameter values after that step.  Golden trajectories
are stored as ``.npz`` files (``tests/reference/data``) by
``tests/reference/generate.py`` from the table of ``tests/optimizers.py``;
keys are ``"s{step}_p{index}"``.
"""

import os

import numpy as np
import pytensor
import pytensor.tensor as pt

import symupdates


SHAPES = [(), (5,), (3, 4), (2, 3, 2)]
DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference", "data")


def make_problem(steps=20, shapes=SHAPES, seed=0, dtype="float64"):
    """The problem: initial values, curvatures ``a``, centres ``c``, per-step noise."""
    rng = np.random.default_rng(seed)
    init = [rng.normal(size=s).astype(dtype) for s in shapes]
    a = [rng.uniform(0.5, 2.0, size=s).astype(dtype) for s in shapes]
    c = [rng.normal(size=s).astype(dtype) for s in shapes]
    noise = [[(0.1 * rng.normal(size=s)).astype(dtype) for s in shapes] for _ in range(steps)]
    return {"init": init, "a": a, "c": c, "noise": noise, "steps": steps, "dtype": dtype}


def numpy_grads(problem, params, step):
    """The gradients at ``params`` for step ``step`` (0-based), with NumPy."""
    return [a * (p - c) + n for p, a, c, n in zip(params, problem["a"], problem["c"], problem["noise"][step])]


def run_rule(rule, problem, mode=None, return_updates=False, **hyper):
    """The trajectory of ``rule(grads, params, **hyper)`` on ``problem``.

    One compiled function is reused for every step.  With
    ``return_updates=True`` also returns ``(updates, params)``.
    """
    params = [
        pytensor.shared(v.copy(), name="p%d" % i, shape=v.shape) for i, v in enumerate(problem["init"])
    ]
    noise = [pt.tensor(dtype=problem["dtype"], shape=v.shape, name="n%d" % i) for i, v in enumerate(problem["init"])]
    grads = [
        pt.constant(a) * (p - pt.constant(c)) + n for p, a, c, n in zip(params, problem["a"], problem["c"], noise)
    ]
    updates = rule(grads, params, **hyper)
    step = pytensor.function(noise, [], updates=updates, mode=mode)
    trajectory = []
    for t in range(problem["steps"]):
        step(*problem["noise"][t])
        trajectory.append([p.get_value() for p in params])
    if return_updates:
        return trajectory, updates, params
    return trajectory


def torch_trajectory(make_optimizer, problem):
    """The trajectory of a torch.optim optimizer: ``make_optimizer(list_of_tensors)``."""
    import torch

    params = [torch.tensor(v.copy(), requires_grad=True) for v in problem["init"]]
    optimizer = make_optimizer(params)
    trajectory = []
    for t in range(problem["steps"]):
        grads = numpy_grads(problem, [p.detach().numpy() for p in params], t)
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        optimizer.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory


def numpy_trajectory(step, problem, init_state, return_state=False):
    """The trajectory of a NumPy transcription.

    ``step(params, grads, state, t)`` (``t`` 1-based) returns the new
    ``(params, state)``; ``init_state(params)`` the initial state.  With
    ``return_state=True`` also returns the state after the last step.
    """
    params = [v.copy() for v in problem["init"]]
    state = init_state(params)
    trajectory = []
    for t in range(problem["steps"]):
        grads = numpy_grads(problem, params, t)
        params, state = step(params, grads, state, t + 1)
        trajectory.append([np.array(p, dtype=problem["dtype"]) for p in params])
    return (trajectory, state) if return_state else trajectory


def save_trajectory(path, trajectory):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez_compressed(
        path, **{"s%d_p%d" % (s, i): p for s, params in enumerate(trajectory) for i, p in enumerate(params)}
    )


def load_trajectory(name):
    """A golden trajectory from ``tests/reference/data/<name>.npz``."""
    with np.load(os.path.join(DATA_DIR, name + ".npz")) as data:
        steps = 1 + max(int(k.split("_")[0][1:]) for k in data.files)
        count = 1 + max(int(k.split("_")[1][1:]) for k in data.files)
        return [[data["s%d_p%d" % (s, i)] for i in range(count)] for s in range(steps)]


def assert_trajectories_close(ours, reference, rtol=1e-10, atol=1e-12):
    """Every parameter at every step within tolerance; says where it diverged."""
    assert len(ours) == len(reference), "trajectories have %d and %d steps" % (len(ours), len(reference))
    for s, (mine, theirs) in enumerate(zip(ours, reference)):
        for i, (x, y) in enumerate(zip(mine, theirs)):
            np.testing.assert_allclose(
                x, y, rtol=rtol, atol=atol, err_msg="step %d, parameter %d" % (s + 1, i)
            )


def assert_golden_is_live(golden, live):
    """The committed golden trajectory is what its source library computes now.

    Equal up to the last bits of the trajectory's dtype (64 units of
    rounding, relative), not bit for bit: torch chooses its vector kernels
    by CPU (AVX2, AVX-512), and they round the last place differently (2e-16
    relative after 26 steps of Adam between two Xeons); XLA's float32
    reductions likewise (optax's SM3, 1e-7 after 5 steps).  A hand-edited or
    stale file is far outside this.
    """
    eps = float(np.finfo(np.result_type(*golden[0])).eps)
    assert_trajectories_close(golden, live, rtol=64 * eps, atol=8 * eps)


def run_steps(rule, problem, start, stop, state=None, values=None, **hyper):
    """Steps ``start..stop-1`` of ``rule(grads, params, **hyper)`` on fresh variables.

    With ``state`` (and the parameters' ``values``) restores those first.
    Returns the parameters' values, the state's values and the updates.
    """
    params = [pytensor.shared(v.copy(), name="p%d" % i, shape=v.shape) for i, v in enumerate(problem["init"])]
    noise = [pt.tensor(dtype=problem["dtype"], shape=v.shape) for v in problem["init"]]
    grads = [pt.constant(a) * (p - pt.constant(c)) + n for p, a, c, n in zip(params, problem["a"], problem["c"], noise)]
    updates = rule(grads, params, **hyper)
    step = pytensor.function(noise, [], updates=updates)
    if state is not None:
        for p, v in zip(params, values):
            p.set_value(v)
        symupdates.set_state_values(updates, state)
    for t in range(start, stop):
        step(*problem["noise"][t])
    return [p.get_value() for p in params], symupdates.get_state_values(updates), updates
