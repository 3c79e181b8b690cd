"""Update wrappers and composition: trajectories against torch.optim and NumPy transcriptions."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import symupdates
from symupdates import schedules as S
from harness import assert_trajectories_close, make_problem, numpy_grads, numpy_trajectory, run_rule

torch = pytest.importorskip("torch")

DTYPES = ["float32", "float64"]


def tolerance(dtype):
    return dict(rtol=2e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)


def torch_run(problem, make_optimizer, grads_for_step, steps, after_step=None):
    """Parameters after each call; ``grads_for_step(params, call)`` returns NumPy grads or None (no step)."""
    params = [torch.tensor(v.copy(), requires_grad=True) for v in problem["init"]]
    optimizer, scheduler = make_optimizer(params)
    trajectory = []
    for call in range(steps):
        grads = grads_for_step([p.detach().numpy().copy() for p in params], call)
        if grads is not None:
            for p, g in zip(params, grads):
                p.grad = torch.tensor(g)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            if after_step:
                after_step(params)
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory


# ---------------------------------------------------------------------------
# gradient accumulation


RULES = {
    "adam": (lambda lr: symupdates.adam(learning_rate=lr, epsilon=0.0), lambda p: torch.optim.Adam(p, lr=0.05, eps=0.0)),
    "momentum": (lambda lr: symupdates.momentum(learning_rate=lr, momentum=0.9),
                 lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    "sgd": (lambda lr: symupdates.sgd(learning_rate=lr), lambda p: torch.optim.SGD(p, lr=0.05)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(RULES))
def test_accumulate_gradients_steps_with_the_mean_gradient_every_k_calls(name, dtype):
    k, calls = 3, 18
    problem = make_problem(steps=calls, dtype=dtype)
    ours_rule, torch_rule = RULES[name]
    # the schedule advances once per real step (Lasagne's momentum keeps the old learning rate in its
    # velocity, torch's does not: they agree only for a constant one)
    scheduled = name != "momentum"
    lr = S.step_decay(0.05, 2, 0.5, dtype=dtype) if scheduled else 0.05
    ours, updates, _ = run_rule(symupdates.accumulate_gradients(ours_rule(lr), k), problem, return_updates=True)

    window = []

    def grads_for_step(params, call):
        window.append(numpy_grads(problem, params, call))
        if len(window) < k:
            return None
        mean = [sum(gs) / k for gs in zip(*window)]
        window.clear()
        return mean

    def make(params):
        opt = torch_rule(params)
        return opt, torch.optim.lr_scheduler.StepLR(opt, 2, 0.5) if scheduled else None

    reference = torch_run(problem, make, grads_for_step, calls)
    assert_trajectories_close(ours, reference, **tolerance(dtype))
    if scheduled:
        (counter,) = S.schedule_counters(updates)
        assert counter.get_value() == calls // k
    for s in range(calls):  # nothing moves between the k-th calls
        if (s + 1) % k:
            for x, y in zip(ours[s], ours[s - 1] if s else problem["init"]):
                np.testing.assert_array_equal(x, y)


# ---------------------------------------------------------------------------
# skipping non-finite steps


@pytest.mark.parametrize("dtype", DTYPES)
def test_skip_nonfinite_leaves_everything_untouched_and_counts(dtype):
    problem = make_problem(steps=16, dtype=dtype)
    bad = {3: np.nan, 7: np.inf, 8: -np.inf, 12: np.nan}
    for step, value in bad.items():
        problem["noise"][step][2] = problem["noise"][step][2].copy()
        problem["noise"][step][2][1, 2] = value
    lr = S.cosine_decay(0.05, 16, dtype=dtype)
    ours, updates, _ = run_rule(symupdates.skip_nonfinite(symupdates.adam(learning_rate=lr, epsilon=0.0)), problem,
                                return_updates=True)

    def grads_for_step(params, call):
        return None if call in bad else numpy_grads(problem, params, call)

    def make(params):
        opt = torch.optim.Adam(params, lr=0.05, eps=0.0)
        return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, 16)

    reference = torch_run(problem, make, grads_for_step, problem["steps"])
    assert_trajectories_close(ours, reference, **tolerance(dtype))
    assert symupdates.skipped_steps(updates).get_value() == len(bad)
    state = {v.name: v.get_value() for v in symupdates.state_variables(updates)}
    assert state["adam.t"] == problem["steps"] - len(bad)
    assert all(np.all(np.isfinite(v)) for v in state.values())


def test_skip_nonfinite_checks_the_new_values_too():
    p = pytensor.shared(np.array([1.0, 2.0]), name="p")
    g = pt.vector("g")
    updates = symupdates.skip_nonfinite(symupdates.sgd(learning_rate=1e308))([g], [p])
    step = pytensor.function([g], [], updates=updates)
    step(np.array([-1e308, 0.0]))  # finite gradient, overflowing step
    np.testing.assert_array_equal(p.get_value(), [1.0, 2.0])
    step(np.array([1e-308, 0.0]))
    assert p.get_value()[0] == pytest.approx(0.0) and symupdates.skipped_steps(updates).get_value() == 1


def test_skip_nonfinite_checks_the_new_state_too():
    """float32 gradients of 1e30: Adam's ``v`` overflows while the new parameters stay finite
    (``m / sqrt(inf) = 0``), so only the state check can see it."""
    p = pytensor.shared(np.array([1.0, 2.0], dtype="float32"), name="p")
    g = pt.vector("g", dtype="float32")
    updates = symupdates.skip_nonfinite(symupdates.adam(learning_rate=0.1))([g], [p])
    new = pytensor.function([g], [updates[p]])(np.array([1e30, 0.0], dtype="float32"))[0]
    assert np.all(np.isfinite(new))  # what the check of the parameter alone would let through
    step = pytensor.function([g], [], updates=updates)
    step(np.array([1e30, 0.0], dtype="float32"))
    np.testing.assert_array_equal(p.get_value(), [1.0, 2.0])
    assert symupdates.skipped_steps(updates).get_value() == 1
    assert all(np.all(np.isfinite(v.get_value())) for v in symupdates.state_variables(updates))


# ---------------------------------------------------------------------------
# chain: clip -> weight decay -> adam -> lookahead


@pytest.mark.parametrize("dtype", DTYPES)
def test_chain_clip_decay_adam_lookahead_matches_numpy(dtype):
    problem = make_problem(steps=20, dtype=dtype)
    rule = symupdates.chain(
        symupdates.clip_by_global_norm(max_norm=1.0),
        symupdates.add_weight_decay(weight_decay=0.01, mask=["p1", "p2"]),
        symupdates.adam(learning_rate=0.1),
        symupdates.lookahead(sync_period=4, alpha=0.5),
    )
    ours = run_rule(rule, problem)
    decay = [0.0, 0.01, 0.01, 0.0]

    def step(params, grads, state, t):
        m, v, slow = state
        norm = np.sqrt(sum((g.astype("float64") ** 2).sum() for g in grads))
        grads = [g * min(1.0, 1.0 / norm) + d * p for g, p, d in zip(grads, params, decay)]
        a_t = 0.1 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        new = []
        for i, (p, g) in enumerate(zip(params, grads)):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g**2
            fast = p - a_t * m[i] / (np.sqrt(v[i]) + 1e-8)
            if t % 4 == 0:  # Zhang et al. (2019), Algorithm 1
                slow[i] = slow[i] + 0.5 * (fast - slow[i])
                fast = slow[i].copy()
            new.append(fast)
        return new, (m, v, slow)

    reference = numpy_trajectory(step, problem, lambda ps: ([0 * p for p in ps], [0 * p for p in ps],
                                                            [p.copy() for p in ps]))
    assert_trajectories_close(ours, reference, **tolerance(dtype))


def test_chain_refuses_a_bad_composition():
    with pytest.raises(ValueError, match="exactly one update rule"):
        symupdates.chain(symupdates.clip_by_value(min_value=-1, max_value=1))
    with pytest.raises(ValueError, match="before the rule"):
        symupdates.chain(symupdates.sgd(learning_rate=0.1), symupdates.clip_by_value(min_value=-1, max_value=1))
    with pytest.raises(ValueError, match="before the rule"):
        symupdates.chain(symupdates.lookahead(), symupdates.sgd(learning_rate=0.1))


# ---------------------------------------------------------------------------
# averaging


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["ema", "polyak"])
def test_parameter_averages_match_torch_averaged_model(kind, dtype):
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    problem = make_problem(steps=12, dtype=dtype)
    wrapper = symupdates.exponential_moving_average(decay=0.8) if kind == "ema" else symupdates.polyak_average()
    _, updates, params = run_rule(symupdates.chain(symupdates.momentum(learning_rate=0.05), wrapper), problem,
                                  return_updates=True)
    # parameters before averaging: every 12 steps of momentum; the averages after all of them
    module = torch.nn.ParameterList([torch.nn.Parameter(torch.tensor(v.copy())) for v in problem["init"]])
    averaged = AveragedModel(module, multi_avg_fn=get_ema_multi_avg_fn(0.8)) if kind == "ema" else AveragedModel(module)
    optimizer = torch.optim.SGD(module.parameters(), lr=0.05, momentum=0.9)
    for t in range(problem["steps"]):
        for p, g in zip(module, numpy_grads(problem, [p.detach().numpy() for p in module], t)):
            p.grad = torch.tensor(g)
        optimizer.step()
        averaged.update_parameters(module)
    expected = [p.detach().numpy() for p in averaged.module]
    trained = [p.get_value() for p in params]
    with symupdates.averaged_parameters(updates):
        for p, e in zip(params, expected):
            np.testing.assert_allclose(p.get_value(), e, **tolerance(dtype))
    for p, value in zip(params, trained):  # swapped back
        np.testing.assert_array_equal(p.get_value(), value)
    symupdates.swap_averaged_parameters(updates)
    np.testing.assert_allclose(params[1].get_value(), expected[1], **tolerance(dtype))
    symupdates.swap_averaged_parameters(updates)
    np.testing.assert_array_equal(params[1].get_value(), trained[1])


# ---------------------------------------------------------------------------
# per-parameter rules and monitoring


def test_per_parameter_rules_and_frozen_parameters_match_torch_groups():
    problem = make_problem(steps=15)
    rule = symupdates.per_parameter(
        symupdates.adam(learning_rate=0.02, epsilon=0.0),
        [("p1", symupdates.sgd(learning_rate=0.1)), ([lambda p: p.name == "p3"][0], None)],
    )
    shared = [pytensor.shared(v.copy(), name="p%d" % i) for i, v in enumerate(problem["init"])]
    noise = [pt.tensor(dtype="float64", shape=v.shape) for v in problem["init"]]
    grads = [pt.constant(a) * (p - pt.constant(c)) + n for p, a, c, n in zip(shared, problem["a"], problem["c"], noise)]
    step = pytensor.function(noise, [], updates=rule(grads, shared), on_unused_input="ignore")  # p3's noise: frozen
    ours = []
    for t in range(problem["steps"]):
        step(*problem["noise"][t])
        ours.append([p.get_value() for p in shared])

    params = [torch.tensor(v.copy(), requires_grad=True) for v in problem["init"]]
    adam = torch.optim.Adam([params[0], params[2]], lr=0.02, eps=0.0)
    sgd = torch.optim.SGD([params[1]], lr=0.1)
    reference = []
    for t in range(problem["steps"]):
        for p, g in zip(params, numpy_grads(problem, [p.detach().numpy() for p in params], t)):
            p.grad = torch.tensor(g)
        adam.step()
        sgd.step()
        reference.append([p.detach().numpy().copy() for p in params])
    assert_trajectories_close(ours, reference)
    np.testing.assert_array_equal(ours[-1][3], problem["init"][3])


def test_monitoring_norms_match_numpy():
    problem = make_problem(steps=1)
    params = [pytensor.shared(v.copy(), name="p%d" % i) for i, v in enumerate(problem["init"])]
    grads = [pt.constant(a) * (p - pt.constant(c)) for p, a, c in zip(params, problem["a"], problem["c"])]
    updates = symupdates.adam(grads, params, learning_rate=0.1)
    monitor = pytensor.function([], [symupdates.global_norm(grads), symupdates.update_norm(updates)], updates=updates)
    g_norm, u_norm = monitor()
    expected_grads = [a * (p - c) for p, a, c in zip(problem["init"], problem["a"], problem["c"])]
    assert g_norm == pytest.approx(np.sqrt(sum((g**2).sum() for g in expected_grads)), rel=1e-12)
    steps = [p.get_value() - p0 for p, p0 in zip(params, problem["init"])]
    assert u_norm == pytest.approx(np.sqrt(sum((s**2).sum() for s in steps)), rel=1e-12)


@pytest.mark.parametrize("apply", ["apply_momentum", "apply_nesterov_momentum"])
def test_apply_momentum_is_a_step_of_chain(apply):
    """``chain(rule, apply_momentum(momentum=...))`` is ``apply_momentum(rule(...), momentum=...)``."""
    def trajectory(make_updates):
        p = pytensor.shared(np.array([1.0, -2.0, 0.5]), name="p")
        loss = ((p - 3) ** 2).sum()
        f = pytensor.function([], [], updates=make_updates(loss, [p]))
        values = []
        for _ in range(4):
            f()
            values.append(p.get_value())
        return values

    wrapper = getattr(symupdates, apply)
    chained = trajectory(symupdates.chain(symupdates.sgd(learning_rate=0.1), wrapper(momentum=0.8)))
    direct = trajectory(lambda loss, params: wrapper(symupdates.sgd(loss, params, learning_rate=0.1), momentum=0.8))
    plain = trajectory(lambda loss, params: symupdates.sgd(loss, params, learning_rate=0.1))
    np.testing.assert_array_equal(chained, direct)
    assert not np.allclose(chained[-1], plain[-1])  # the momentum did act
