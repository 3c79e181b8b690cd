"""Schedules against torch.optim.lr_scheduler (live), optax (golden) and NumPy transcriptions."""

import os

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import symupdates
from symupdates import schedules as S
from harness import DATA_DIR, assert_trajectories_close, make_problem, numpy_grads, run_rule

torch = pytest.importorskip("torch")
L = torch.optim.lr_scheduler

N = 40


def torch_values(make_scheduler, steps=N, lr=0.1, optimizer=torch.optim.SGD, key="lr", **kwargs):
    """The value torch uses at each of ``steps`` optimizer steps (scheduler stepped after each)."""
    opt = optimizer([torch.zeros(1, requires_grad=True)], lr=lr, **kwargs)
    scheduler = make_scheduler(opt)
    values = []
    for _ in range(steps):
        group = opt.param_groups[0]
        values.append(group["betas"][0] if key == "beta1" else group[key])
        opt.step()
        scheduler.step()
    return np.array(values)


TORCH_CASES = {
    "StepLR": (lambda o: L.StepLR(o, 7, gamma=0.5), lambda: S.step_decay(0.1, 7, 0.5)),
    "MultiStepLR": (lambda o: L.MultiStepLR(o, [3, 10, 10, 25], 0.3), lambda: S.multistep_decay(0.1, [3, 10, 10, 25], 0.3)),
    "ExponentialLR": (lambda o: L.ExponentialLR(o, 0.93), lambda: S.exponential_decay(0.1, 1, 0.93)),
    "LinearLR": (lambda o: L.LinearLR(o, 0.25, 0.9, 12), lambda: S.linear_schedule(0.1 * 0.25, 0.1 * 0.9, 12)),
    "PolynomialLR": (lambda o: L.PolynomialLR(o, 17, 2.5), lambda: S.polynomial_decay(0.1, 0.0, 2.5, 17)),
    "CosineAnnealingLR": (lambda o: L.CosineAnnealingLR(o, N, 0.01), lambda: S.cosine_decay(0.1, N, alpha=0.01 / 0.1)),
    "CosineAnnealingWarmRestarts": (
        lambda o: L.CosineAnnealingWarmRestarts(o, 5, 1, 0.001), lambda: S.cosine_warm_restarts(0.1, 5, 1, 0.001)),
    "CosineAnnealingWarmRestarts_Tmult2": (
        lambda o: L.CosineAnnealingWarmRestarts(o, 3, 2, 0.001), lambda: S.cosine_warm_restarts(0.1, 3, 2, 0.001)),
    "CosineAnnealingWarmRestarts_Tmult3": (
        lambda o: L.CosineAnnealingWarmRestarts(o, 2, 3), lambda: S.cosine_warm_restarts(0.1, 2, 3)),
    "OneCycleLR": (lambda o: L.OneCycleLR(o, 0.5, total_steps=N), lambda: S.one_cycle(0.5, N)),
    "OneCycleLR_three_phase_linear": (
        lambda o: L.OneCycleLR(o, 0.5, total_steps=N, pct_start=0.25, anneal_strategy="linear", three_phase=True,
                               div_factor=10.0, final_div_factor=100.0),
        lambda: S.one_cycle(0.5, N, 0.25, "linear", div_factor=10.0, final_div_factor=100.0, three_phase=True)),
    "SequentialLR_warmup_cosine": (
        lambda o: L.SequentialLR(o, [L.LinearLR(o, 0.1, 1.0, 6), L.CosineAnnealingLR(o, N - 6)], [6]),
        lambda: S.linear_warmup(S.cosine_decay(0.1, N - 6), 6, init_value=0.01)),
    "SequentialLR_join": (
        lambda o: L.SequentialLR(o, [L.ConstantLR(o, 0.5, 8), L.ExponentialLR(o, 0.9)], [10]),
        lambda: S.join_schedules([S.piecewise_constant(0.05, {8: 2.0}), S.exponential_decay(0.1, 1, 0.9)], [10])),
}


@pytest.mark.parametrize("case", sorted(TORCH_CASES))
def test_matches_torch_lr_scheduler(case):
    make_scheduler, make_ours = TORCH_CASES[case]
    np.testing.assert_allclose(S.evaluate(make_ours(), np.arange(N)), torch_values(make_scheduler), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_momentum_matches_torch(three_phase):
    make = lambda o: L.OneCycleLR(o, 0.5, total_steps=N, three_phase=three_phase, base_momentum=0.8, max_momentum=0.9)
    torch_momentum = torch_values(make, optimizer=torch.optim.SGD, key="momentum", momentum=0.9)
    torch_beta1 = torch_values(make, optimizer=torch.optim.Adam, key="beta1")
    ours = S.evaluate(S.one_cycle_momentum(N, 0.8, 0.9, three_phase=three_phase), np.arange(N))
    np.testing.assert_allclose(ours, torch_momentum, rtol=1e-12)
    np.testing.assert_allclose(ours, torch_beta1, rtol=1e-12)


def _optax_cases():
    cycles = [
        dict(init_value=0.0, peak_value=1.0, warmup_steps=3, decay_steps=15, end_value=0.1),
        dict(init_value=0.1, peak_value=0.5, warmup_steps=2, decay_steps=20),
        dict(init_value=0.0, peak_value=0.25, warmup_steps=4, decay_steps=30, exponent=2.0),
    ]
    return {
        "constant": lambda: S.constant(0.3),
        "polynomial": lambda: S.polynomial_decay(1.0, 0.01, power=2.5, transition_steps=40, transition_begin=5),
        "linear": lambda: S.linear_schedule(0.2, 0.05, transition_steps=30, transition_begin=10),
        "exponential": lambda: S.exponential_decay(0.5, 7, 0.8),
        "exponential_staircase_begin_end": lambda: S.exponential_decay(
            0.5, 6, 0.7, transition_begin=4, staircase=True, end_value=0.05),
        "exponential_growth_end": lambda: S.exponential_decay(0.01, 5, 1.5, end_value=0.2),
        "cosine_decay": lambda: S.cosine_decay(0.4, 45, alpha=0.1, exponent=1.5),
        "warmup_cosine_decay": lambda: S.warmup_cosine_decay(0.0, 1.0, 8, 50, end_value=0.02),
        "piecewise_constant": lambda: S.piecewise_constant(0.2, {10: 0.5, 25: 0.1, 40: 3.0}),
        "piecewise_interpolate_linear": lambda: S.piecewise_interpolate(1.0, {4: 0.1, 20: 0.5, 45: 0.01}),
        "piecewise_interpolate_cosine": lambda: S.piecewise_interpolate(1.0, {10: 2.0, 30: 0.1}, "cosine"),
        # optax's onecycle schedules are piecewise interpolations at int(pct * steps)
        "linear_onecycle": lambda: S.piecewise_interpolate(
            0.6 / 25, {int(0.3 * 50): 25.0, int(0.85 * 50): 1 / 25.0, 50: 1e-4}),
        "cosine_onecycle": lambda: S.piecewise_interpolate(
            0.6 / 25, {int(0.25 * 50): 25.0, 50: 1 / (25.0 * 1e4)}, "cosine"),
        "sgdr": lambda: S.sgdr(cycles),
        "join": lambda: S.join_schedules(
            [S.linear_schedule(0.0, 1.0, 10), 1.0, S.exponential_decay(1.0, 3, 0.5)], [10, 25]),
    }


OPTAX_CASES = _optax_cases()


def test_every_optax_golden_case_is_checked():
    with np.load(os.path.join(DATA_DIR, "optax_schedules.npz")) as golden:
        assert set(golden.files) - {"optax_version"} == set(OPTAX_CASES)


@pytest.mark.parametrize("case", sorted(OPTAX_CASES))
def test_matches_optax_golden(case):
    with np.load(os.path.join(DATA_DIR, "optax_schedules.npz")) as golden:
        expected = golden[case]
    np.testing.assert_allclose(S.evaluate(OPTAX_CASES[case](), np.arange(len(expected))), expected, rtol=1e-12, atol=1e-15)


def test_inverse_time_decay_matches_keras_formula():
    t = np.arange(N)
    # Keras: initial_learning_rate / (1 + decay_rate * step / decay_steps), floored with staircase
    np.testing.assert_allclose(S.evaluate(S.inverse_time_decay(0.1, 0.5, 4), t), 0.1 / (1 + 0.5 * t / 4), rtol=1e-14)
    np.testing.assert_allclose(S.evaluate(S.inverse_time_decay(0.1, 0.5, 4, staircase=True), t),
                               0.1 / (1 + 0.5 * np.floor(t / 4)), rtol=1e-14)
    # Keras 2's legacy ``decay=1e-2`` argument: lr * 1 / (1 + decay * iterations)
    np.testing.assert_allclose(S.evaluate(S.inverse_time_decay(0.01, 1e-2), t), 0.01 / (1 + 1e-2 * t), rtol=1e-14)


def test_piecewise_linear_is_numpy_interp():
    t = np.arange(-3, N)
    ours = S.evaluate(S.piecewise_linear([2, 10, 11, 30], [0.0, 1.0, 0.5, 0.1], step=pt.lscalar("s")), t)
    np.testing.assert_allclose(ours, np.interp(t, [2, 10, 11, 30], [0.0, 1.0, 0.5, 0.1]), rtol=1e-14)


def test_cosine_warm_restarts_at_many_cycle_boundaries():
    t = np.arange(2000)
    period, mult, lengths, starts = 3, 2, [], []
    start, length = 0, period
    while start < len(t):
        starts.append(start)
        lengths.append(length)
        start, length = start + length, length * mult
    cycle = np.searchsorted(starts, t, side="right") - 1
    t_cur, t_i = t - np.array(starts)[cycle], np.array(lengths)[cycle]
    expected = 0.5 * 0.1 * (1 + np.cos(np.pi * t_cur / t_i))
    np.testing.assert_allclose(S.evaluate(S.cosine_warm_restarts(0.1, period, mult), t), expected, rtol=1e-12, atol=1e-16)


# ---------------------------------------------------------------------------
# schedules in training


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sgd_with_scheduled_learning_rate_matches_torch(dtype):
    problem = make_problem(steps=25, dtype=dtype)
    lr = S.cosine_warm_restarts(0.2, 4, 2, 0.01, dtype=dtype)
    ours = run_rule(lambda g, p: S.with_schedules(symupdates.sgd(g, p, learning_rate=lr)), problem)

    params = [torch.tensor(v.copy(), requires_grad=True) for v in problem["init"]]
    opt = torch.optim.SGD(params, lr=0.2)
    scheduler = L.CosineAnnealingWarmRestarts(opt, 4, 2, 0.01)
    reference = []
    for t in range(problem["steps"]):
        for p, g in zip(params, numpy_grads(problem, [p.detach().numpy() for p in params], t)):
            p.grad = torch.tensor(g)
        opt.step()
        scheduler.step()
        reference.append([p.detach().numpy().copy() for p in params])
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-14)
    assert_trajectories_close(ours, reference, **tol)


def test_adam_with_scheduled_learning_rate_and_beta1_matches_numpy():
    """Both hyperparameters scheduled, ``with_schedules`` puts the counters in the updates."""
    problem = make_problem(steps=20)
    lr = S.warmup_cosine_decay(0.0, 0.05, 5, 20)
    beta1 = S.one_cycle_momentum(20)
    ours, updates, _ = run_rule(lambda g, p: S.with_schedules(symupdates.adam(g, p, learning_rate=lr, beta1=beta1)),
                             problem, return_updates=True)
    counters = S.schedule_counters(updates)
    assert len(counters) == 2 and all(c in updates for c in counters)
    assert all(c.get_value() == 20 for c in counters)

    lrs, b1s = S.evaluate(lr, np.arange(20)), S.evaluate(beta1, np.arange(20))
    # Lasagne's Adam (epsilon-hat form) with a beta1 that changes per step
    params, m, v = [p.copy() for p in problem["init"]], [0 * p for p in problem["init"]], [0 * p for p in problem["init"]]
    trajectory = []
    for k in range(20):
        t = k + 1
        grads = numpy_grads(problem, params, k)
        a_t = lrs[k] * np.sqrt(1 - 0.999**t) / (1 - b1s[k] ** t)
        for i, g in enumerate(grads):
            m[i] = b1s[k] * m[i] + (1 - b1s[k]) * g
            v[i] = 0.999 * v[i] + 0.001 * g**2
            params[i] = params[i] - a_t * m[i] / (np.sqrt(v[i]) + 1e-8)
        trajectory.append([p.copy() for p in params])
    assert_trajectories_close(ours, trajectory)


def test_counter_advances_once_per_call_and_evaluate_does_not_advance_it():
    p = pytensor.shared(np.float64(1.0), name="p")
    lr = S.step_decay(1.0, 2, 0.5)
    updates = S.with_schedules(symupdates.sgd([pt.constant(1.0)], [p], learning_rate=lr))
    step = pytensor.function([], [], updates=updates)
    for _ in range(5):
        step()
    # lrs 1, 1, .5, .5, .25
    assert p.get_value() == pytest.approx(1.0 - 3.25)
    assert S.evaluate(lr) == 0.25 and S.evaluate(lr) == 0.25
    np.testing.assert_array_equal(S.evaluate(lr, [0, 1, 2, 7]), [1.0, 1.0, 0.5, 0.125])


def test_schedule_on_a_user_step_and_shared_hyperparameters():
    step = pytensor.shared(np.int64(0), name="my_step")
    peak = pytensor.shared(np.float64(1.0), name="peak")
    lr = S.linear_schedule(0.0, peak, 10, step=step)
    assert S.schedule_counters([lr]) == []
    assert S.evaluate(lr, 5) == 0.5
    peak.set_value(3.0)  # changed without rebuilding anything
    assert S.evaluate(lr, 5) == pytest.approx(1.5, rel=1e-15)
    step.set_value(10)
    assert S.evaluate(lr) == pytest.approx(3.0, rel=1e-15)


def test_dtype_and_with_schedules_is_idempotent():
    lr32 = S.cosine_decay(0.1, 10, dtype="float32")
    assert lr32.dtype == "float32" and lr32.type.ndim == 0
    p = pytensor.shared(np.zeros(3, dtype="float32"), name="w")
    updates = symupdates.sgd([pt.ones(3, dtype="float32")], [p], learning_rate=lr32)
    (counter,) = S.schedule_counters(updates)
    assert list(updates) == [p, counter], "a rule given a schedule registers the schedule's counter update"
    once = S.with_schedules(updates)
    assert once.keys() == updates.keys() and S.with_schedules(once).keys() == once.keys()
    assert counter.dtype == "int64" and counter.name == "cosine_decay.t" and symupdates.is_state(counter)
    assert once[counter].type == counter.type


def test_bad_arguments_are_refused_when_built():
    with pytest.raises(ValueError, match="step_size"):
        S.step_decay(0.1, 0)
    with pytest.raises(ValueError, match="decay_steps"):
        S.cosine_decay(0.1, 2.5)
    with pytest.raises(ValueError, match="one boundary fewer"):
        S.join_schedules([0.1, 0.2], [1, 2])
    with pytest.raises(ValueError, match="anneal_strategy"):
        S.one_cycle(0.1, 10, anneal_strategy="cosine")
    with pytest.raises(TypeError, match="integer"):
        S.constant(1.0, step=pt.dscalar())
    with pytest.raises(ValueError, match="non-negative"):
        S.piecewise_constant(1.0, {3: -1.0})
    with pytest.raises(TypeError, match="init_value"):
        S.cosine_decay("0.1", 10)


def test_a_bare_rule_given_a_schedule_advances_it():
    p = pytensor.shared(np.float64(1.0), name="p")
    lr = S.exponential_decay(0.1, 1, 0.5)
    step = pytensor.function([], [], updates=symupdates.sgd([pt.constant(1.0)], [p], learning_rate=lr))
    expected = 1.0
    for k in range(4):
        step()
        expected -= 0.1 * 0.5**k  # the k-th update uses the schedule's value at k
        assert p.get_value() == pytest.approx(expected, rel=1e-15)


# ---------------------------------------------------------------------------
# S.reduce_lr_on_plateau against torch


TORCH_METRICS = [1.0, 0.9, 0.95, 0.9, 0.91, 0.9, 0.8999, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9, 0.95,
                 0.84, 0.84, 0.84, 0.84, 0.84, 0.84, 0.83] + [0.9] * 12


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"mode": "max", "factor": 0.5, "patience": 1},
        {"threshold": 0.05, "threshold_mode": "abs", "patience": 1},
        {"mode": "max", "threshold": 0.01, "threshold_mode": "abs", "patience": 0, "factor": 0.5},
        {"patience": 1, "cooldown": 2, "min_lr": 0.02, "factor": 0.3},
        {"patience": 0, "factor": 0.9999999, "eps": 1e-3},
    ],
    ids=["defaults", "max-rel", "min-abs", "max-abs", "cooldown-min_lr", "eps"],
)
def test_reduce_lr_on_plateau_matches_torch(options):
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **options)
    expected = []
    for m in TORCH_METRICS:
        scheduler.step(m)
        expected.append(optimizer.param_groups[0]["lr"])

    metric = pt.dscalar("metric")
    value, updates = S.reduce_lr_on_plateau(0.1, metric, dtype="float64", **options)
    step = pytensor.function([metric], updates[value], updates=updates)
    got = [float(step(m)) for m in TORCH_METRICS]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert len(set(expected)) > 1 or options.get("eps")  # the sequence exercises a reduction
    assert value.get_value() == pytest.approx(expected[-1])


def test_reduce_lr_on_plateau_drives_a_rule():
    w = pytensor.shared(np.array([1.0, -2.0, 3.0]), name="w")
    loss = pt.sum(w**2) / 2  # gradient: w
    lr, plateau = S.reduce_lr_on_plateau(0.5, loss, patience=0, dtype="float64")
    updates = symupdates.sgd(loss, [w], learning_rate=lr)
    updates.update(plateau)
    step = pytensor.function([], loss, updates=updates)
    for _ in range(3):
        step()
    # The loss falls every step, so the learning rate never moves.
    assert lr.get_value() == 0.5
    np.testing.assert_allclose(w.get_value(), np.array([1.0, -2.0, 3.0]) * 0.5**3)


@pytest.mark.parametrize("bad", [{"mode": "up"}, {"threshold_mode": "x"}, {"factor": 1.0}, {"patience": -1}])
def test_reduce_lr_on_plateau_refuses_bad_arguments(bad):
    with pytest.raises(ValueError):
        S.reduce_lr_on_plateau(0.1, pt.dscalar(), **bad)
