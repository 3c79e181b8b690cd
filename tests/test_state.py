"""Optimizer state: names, get/set, exact continuation, and a counter that never stalls."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import symupdates
from harness import make_problem

STATEFUL = {
    "momentum": {"learning_rate": 0.05},
    "nesterov_momentum": {"learning_rate": 0.05},
    "adagrad": {"learning_rate": 0.3},
    "rmsprop": {"learning_rate": 0.02},
    "adadelta": {},
    "adam": {"learning_rate": 0.05},
    "adamax": {"learning_rate": 0.05},
    "amsgrad": {"learning_rate": 0.05, "beta2": 0.9},
    "adagrad_window": {"learning_rate": 0.2, "n_win": 3},
}

EXPECTED_STATE_NAMES = {
    "momentum": ["W.momentum.velocity", "b.momentum.velocity"],
    "nesterov_momentum": ["W.nesterov_momentum.velocity", "b.nesterov_momentum.velocity"],
    "adagrad": ["W.adagrad.accu", "b.adagrad.accu"],
    "rmsprop": ["W.rmsprop.accu", "b.rmsprop.accu"],
    "adadelta": ["W.adadelta.accu", "W.adadelta.delta_accu", "b.adadelta.accu", "b.adadelta.delta_accu"],
    "adam": ["W.adam.m", "W.adam.v", "b.adam.m", "b.adam.v", "adam.t"],
    "adamax": ["W.adamax.m", "W.adamax.u", "b.adamax.m", "b.adamax.u", "adamax.t"],
    "amsgrad": [
        "W.amsgrad.m", "W.amsgrad.v", "W.amsgrad.v_hat", "b.amsgrad.m", "b.amsgrad.v", "b.amsgrad.v_hat",
        "amsgrad.t",
    ],
    "adagrad_window": ["W.adagrad_window.window", "b.adagrad_window.window", "adagrad_window.i"],
}


def named_params():
    return [pytensor.shared(np.ones((2, 3)), name="W"), pytensor.shared(np.zeros(3), name="b")]


class Run:
    """A rule on the harness problem, compiled once; steps with the problem's noise."""

    def __init__(self, name, problem, dtype="float64"):
        self.problem = problem
        self.params = [
            pytensor.shared(v.astype(dtype), name="p%d" % i, shape=v.shape) for i, v in enumerate(problem["init"])
        ]
        noise = [pt.tensor(dtype=dtype, shape=v.shape) for v in problem["init"]]
        grads = [
            pt.constant(a.astype(dtype)) * (p - pt.constant(c.astype(dtype))) + n
            for p, a, c, n in zip(self.params, problem["a"], problem["c"], noise)
        ]
        self.updates = getattr(symupdates, name)(grads, self.params, **STATEFUL[name])
        self.function = pytensor.function(noise, [], updates=self.updates)
        self.dtype = dtype

    def step(self, t):
        self.function(*[n.astype(self.dtype) for n in self.problem["noise"][t % len(self.problem["noise"])]])
        return [p.get_value() for p in self.params]

    def run(self, start, count):
        return [self.step(t) for t in range(start, start + count)]

    def save(self):
        return [p.get_value() for p in self.params], symupdates.get_state_values(self.updates)

    def restore(self, saved):
        values, state = saved
        symupdates.set_state_values(self.updates, state)
        for p, v in zip(self.params, values):
            p.set_value(v.copy())


@pytest.fixture(scope="module")
def problem():
    return make_problem(steps=12)


# --- names and order ---------------------------------------------------------


@pytest.mark.parametrize("name", list(STATEFUL))
def test_state_names_and_order(name):
    W, b = named_params()
    updates = getattr(symupdates, name)((W**2).sum() + (b**2).sum(), [W, b], **STATEFUL[name])
    state = symupdates.state_variables(updates)
    assert [v.name for v in state] == EXPECTED_STATE_NAMES[name]
    assert all(symupdates.is_state(v) for v in state)
    assert not symupdates.is_state(W) and not symupdates.is_state(b)
    # get_state_values follows the same order, one array per variable.
    values = symupdates.get_state_values(updates)
    assert len(values) == len(state)
    for value, var in zip(values, state):
        assert value.shape == var.get_value().shape and value.dtype == var.get_value().dtype


def test_sgd_has_no_state():
    W, b = named_params()
    updates = symupdates.sgd((W**2).sum() + (b**2).sum(), [W, b], 0.1)
    assert symupdates.state_variables(updates) == []
    assert symupdates.get_state_values(updates) == []


def test_step_counters_are_int64_scalars():
    W, b = named_params()
    for name in ["adam", "adamax", "amsgrad"]:
        updates = getattr(symupdates, name)((W**2).sum(), [W])
        (counter,) = [v for v in updates if v.name == name + ".t"]
        assert counter.dtype == "int64" and counter.ndim == 0
        assert updates[counter].type == counter.type


def test_get_state_values_returns_copies_and_never_parameters(problem):
    run = Run("adam", problem)
    run.run(0, 3)
    values = symupdates.get_state_values(run.updates)
    state = symupdates.state_variables(run.updates)
    assert not any(p in state for p in run.params)
    assert len(values) == 2 * len(run.params) + 1
    snapshot = [v.copy() for v in values]
    for v in values:
        v[...] = 99  # changing the copies changes nothing
    for var, original in zip(state, snapshot):
        np.testing.assert_array_equal(var.get_value(), original)
    run.run(3, 2)  # nor does stepping change the copies taken before
    assert int(values[-1]) == 99 and int(symupdates.get_state_values(run.updates)[-1]) == 5


# --- set_state_values checks everything before changing anything -------------


def assert_unchanged(run, before):
    for var, value in zip(symupdates.state_variables(run.updates), before):
        np.testing.assert_array_equal(var.get_value(), value)


def test_set_state_values_wrong_count(problem):
    run = Run("adam", problem)
    run.run(0, 2)
    before = symupdates.get_state_values(run.updates)
    zeros = [np.zeros_like(v) for v in before]
    with pytest.raises(ValueError, match="expected 9 state values for these updates, got 8"):
        symupdates.set_state_values(run.updates, zeros[:-1])
    with pytest.raises(ValueError, match="got 10"):
        symupdates.set_state_values(run.updates, zeros + [np.zeros(3)])
    assert_unchanged(run, before)


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda v: np.zeros(v.shape + (1,), v.dtype), "shape"),
        (lambda v: np.zeros((), v.dtype) if v.ndim else np.zeros(1, v.dtype), "shape"),
        (lambda v: v.astype("float32") if v.dtype == np.float64 else v.astype("float64"), "dtype"),
    ],
    ids=["extra-axis", "wrong-ndim", "wrong-dtype"],
)
@pytest.mark.parametrize("position", [0, -2, -1])
def test_set_state_values_checks_every_value_first(problem, corrupt, message, position):
    # A bad value anywhere (first, middle, or the counter at the end) refuses
    # the whole list: the valid values before it are not applied either.
    run = Run("adam", problem)
    run.run(0, 2)
    before = symupdates.get_state_values(run.updates)
    new = [np.full_like(v, 7) for v in before]
    new[position] = corrupt(before[position])
    bad_name = symupdates.state_variables(run.updates)[position].name
    with pytest.raises(ValueError, match=r"state value for %s .*%s" % (bad_name.replace(".", r"\."), message)):
        symupdates.set_state_values(run.updates, new)
    assert_unchanged(run, before)


def test_set_state_values_copies_its_input(problem):
    run = Run("rmsprop", problem)
    values = [np.full_like(v, 0.5) for v in symupdates.get_state_values(run.updates)]
    symupdates.set_state_values(run.updates, values)
    for v in values:
        v[...] = -1
    for var in symupdates.state_variables(run.updates):
        assert np.all(var.get_value() == 0.5)


# --- save, continue, restore, continue: bit for bit --------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(STATEFUL))
def test_restore_continues_bit_for_bit(problem, name, dtype):
    run = Run(name, problem, dtype)
    run.run(0, 4)
    saved = run.save()
    first = run.run(4, 5)

    run.restore(saved)
    again = run.run(4, 5)
    for a, b in zip(first, again):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)

    # A new process would build new updates: restoring into them continues the same way.
    fresh = Run(name, problem, dtype)
    fresh.restore(saved)
    elsewhere = fresh.run(4, 5)
    for a, b in zip(first, elsewhere):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name", ["adam", "adadelta", "adagrad_window"])
def test_restoring_parameters_without_state_is_not_enough(problem, name):
    # The continuation above is only exact because the state was restored:
    # the same parameters with fresh state go elsewhere.
    run = Run(name, problem)
    run.run(0, 4)
    values, _ = run.save()
    first = run.run(4, 5)
    fresh = Run(name, problem)
    for p, v in zip(fresh.params, values):
        p.set_value(v.copy())
    other = fresh.run(4, 5)
    assert max(np.max(np.abs(x - y)) for x, y in zip(first[-1], other[-1])) > 1e-6


# --- the step counter never stalls ------------------------------------------


def test_float32_counter_would_stall():
    # The bug this guards against (Lasagne's floatX counter): at 2**24, +1 is lost.
    assert np.float32(2**24) + np.float32(1) == np.float32(2**24)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_counter_counts_past_2_pow_24(dtype):
    p = pytensor.shared(np.array([1.0, -2.0], dtype=dtype), name="p")
    updates = symupdates.adam((p**2).sum(), [p], learning_rate=0.01)
    (counter,) = [v for v in updates if v.name == "adam.t"]
    step = pytensor.function([], [], updates=updates)
    counter.set_value(np.int64(2**24 - 2))
    seen = []
    for _ in range(5):
        step()
        seen.append(int(counter.get_value()))
    assert seen == [2**24 - 1, 2**24, 2**24 + 1, 2**24 + 2, 2**24 + 3]
    assert np.all(np.isfinite(p.get_value()))


@pytest.mark.parametrize("start", [2**24 - 1, 2**31 + 5, 2**40])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_adam_at_large_step_numbers(dtype, start):
    # beta2 close to 1 keeps the bias correction 1 - beta2**t far from 1 even
    # at t ~ 2**24, so the step size depends on the exact t.
    beta1, beta2, lr, eps = 0.9, 1 - 1e-7, 0.01, 1e-8
    p0 = np.array([1.0, -2.0, 0.5])
    m0 = np.array([0.3, -0.1, 0.02])
    v0 = np.array([0.04, 0.5, 0.001])
    p = pytensor.shared(p0.astype(dtype), name="p")
    updates = symupdates.adam([2 * p], [p], learning_rate=lr, beta1=beta1, beta2=beta2, epsilon=eps)
    state = {v.name: v for v in symupdates.state_variables(updates)}
    state["p.adam.m"].set_value(m0.astype(dtype))
    state["p.adam.v"].set_value(v0.astype(dtype))
    state["adam.t"].set_value(np.int64(start))
    step = pytensor.function([], [], updates=updates)
    step()
    step()
    assert int(state["adam.t"].get_value()) == start + 2

    # The formula in float64 with the hyperparameters as the parameters' dtype rounds them.
    b1, b2, a, e = (float(np.asarray(x, dtype=dtype)) for x in (beta1, beta2, lr, eps))
    q, m, v = p0.astype(dtype).astype("float64"), m0.astype(dtype).astype("float64"), v0.astype(dtype).astype("float64")
    for t in (start + 1, start + 2):
        g = 2 * q
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        q = q - a * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + e)
    rtol = 2e-6 if dtype == "float32" else 1e-12
    assert np.all(np.isfinite(p.get_value()))
    np.testing.assert_allclose(p.get_value(), q, rtol=rtol)
    np.testing.assert_allclose(state["p.adam.m"].get_value(), m, rtol=rtol)


def test_adagrad_window_position_cycles():
    p = pytensor.shared(np.array([1.0, 2.0]), name="p")
    updates = symupdates.adagrad_window((p**2).sum(), [p], n_win=4)
    (position,) = [v for v in updates if v.name == "adagrad_window.i"]
    assert position.dtype == "int64"
    step = pytensor.function([], [], updates=updates)
    seen = []
    for _ in range(9):
        step()
        seen.append(int(position.get_value()))
    assert seen == [1, 2, 3, 0, 1, 2, 3, 0, 1]
