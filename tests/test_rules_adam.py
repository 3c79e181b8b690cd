"""The Adam family: its switches, dtypes, state and errors.

Every reference case of these rules (torch.optim, optax and Keras 3 golden
trajectories, torch live, the NumPy transcriptions of Lasagne's, Chainer's
and Keras 2's code) is in the table of tests/optimizers.py and runs in
tests/test_references.py; the tests here read their cases from that table.
Every case runs on the harness problem (parameters of shapes (), (5,),
(3, 4), (2, 3, 2)) for 30 steps.
"""

import numpy as np
import pytensor
import pytest

import optimizers
import symupdates
from harness import (
    assert_trajectories_close, load_trajectory, make_problem, numpy_grads, numpy_trajectory, run_rule, run_steps,
)
from transcriptions import chainer_adam

OUR_RULES = [name for name in symupdates.rules.adam_family.__all__ if name in symupdates.RULES]


@pytest.fixture(scope="module")
def problem():
    return make_problem(steps=30)


_cache = {}


def ours(problem, rule, **kwargs):
    """Our trajectory of ``rule(**kwargs)``, computed once per module."""
    key = (rule, tuple(sorted(kwargs.items())), problem["dtype"])
    if key not in _cache:
        _cache[key] = run_rule(getattr(symupdates, rule), problem, **kwargs)
    return _cache[key]


def max_difference(a, b):
    return max(float(np.max(np.abs(x - y))) for s, r in zip(a, b) for x, y in zip(s, r))


def test_every_rule_is_registered_with_anchors():
    for name in OUR_RULES:
        assert symupdates.RULES[name] is getattr(symupdates, name)
        assert symupdates.RULES[name].anchors, name


#: (source, case, switch values that must NOT reproduce that reference)
WRONG_SWITCHES = [
    ("torch", "adam", {"epsilon_placement": "raw"}),
    ("keras", "adam", {"epsilon_placement": "corrected"}),
    ("optax", "adam_eps_root", {"epsilon_root": 0.0}),
    ("torch", "adam_weight_decay", {"weight_decay": 0.0}),
    ("torch", "adam_weight_decay", {"decoupled_weight_decay": True}),
    ("torch", "adam_decoupled_maximize", {"maximize": False}),
    ("torch", "amsgrad", {"epsilon_placement": "raw"}),
    ("optax", "amsgrad", {"maximum_of": "raw"}),
    ("torch", "adamax", {"epsilon_placement": "outside_max"}),
    ("torch", "adamax_weight_decay_maximize", {"weight_decay": 0.0}),
    ("keras", "adamw", {"epsilon_placement": "corrected"}),
    ("torch", "radam", {"epsilon_placement": "corrected"}),
    ("optax", "radam_threshold", {"threshold": 5.0}),
    ("torch", "radam_weight_decay", {"decoupled_weight_decay": True}),
    ("torch", "nadam", {"schedule_decay": 0.004}),
    ("torch", "nadam_weight_decay_maximize", {"maximize": False}),
    ("optax", "adan_options", {"weight_decay": 0.0}),
    ("optax", "yogi", {"initial_accumulator_value": 0.5}),
    ("optax", "adopt_nesterov", {"nesterov": False}),
    ("optax", "adopt_unclipped", {"clipping": True}),
    ("optax", "schedule_free_adamw_warmup", {"warmup_steps": None}),
]


@pytest.mark.parametrize("source,case,wrong", WRONG_SWITCHES)
def test_wrong_switch_is_detected(problem, source, case, wrong):
    # Each switch changes the numbers by far more than the tolerance: the
    # references above could not pass with another switch value.
    case = optimizers.case(source + "_adam", case)
    golden = load_trajectory(case.file_name)
    assert max_difference(ours(problem, case.rule, **{**case.ours, **wrong}), golden) > 1e-6


def test_bounds_and_rectifier_take_effect(problem):
    # AdaBound's clip and RAdam's switch are exercised, not idle: without
    # them the trajectories differ.
    clipped = ours(problem, "adabound", **optimizers.case("numpy", "chainer_adabound_options").ours)
    step, init_state = chainer_adam(alpha=0.05, beta1=0.8, beta2=0.95, eps=1e-3)
    adam_like = numpy_trajectory(step, problem, init_state)
    assert max_difference(clipped, adam_like) > 1e-3
    # torch's RAdam with its rectifier against Adam: same until step 6 (SGD with momentum), different after.
    radam = load_trajectory("torch_adam_radam")
    adam = ours(problem, "adam", learning_rate=0.05, epsilon=1e-3, epsilon_placement="corrected")
    assert max_difference(radam, adam) > 1e-3


# ---------------------------------------------------------------------------
# dtypes, state, errors


FLOAT32_CASES = [
    ("torch", "adam_decoupled_maximize"),
    ("torch", "amsgrad"),
    ("torch", "adamax_weight_decay_maximize"),
    ("torch", "adamw"),
    ("torch", "radam"),
    ("torch", "nadam"),
    ("optax", "adam_eps_root"),
    ("optax", "adabelief_options"),
    ("optax", "yogi_options"),
    ("optax", "adan_options"),
    ("keras", "adam"),
]


@pytest.mark.parametrize("source,case", FLOAT32_CASES)
def test_float32_parameters_stay_float32(source, case):
    # floatX is float64 here and the hyperparameters are Python floats.
    assert pytensor.config.floatX == "float64"
    problem32 = make_problem(steps=30, dtype="float32")
    case = optimizers.case(source + "_adam", case)
    trajectory, updates, params = run_rule(getattr(symupdates, case.rule), problem32, return_updates=True,
                                           **case.ours)
    for var, expr in updates.items():
        assert expr.type == var.type, var.name
        if var.name.endswith(".t"):
            assert var.dtype == "int64"
        elif var.name != "nadam.mu_product":
            assert var.dtype == "float32", var.name
    assert all(p.dtype == np.float32 for step in trajectory for p in step)
    assert_trajectories_close(trajectory, load_trajectory(case.file_name), rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("rule", ["adabound", "amsbound"])
def test_chainer_rules_in_float32(rule):
    problem32 = make_problem(steps=30, dtype="float32")
    case = optimizers.case("numpy", "chainer_%s_options" % rule)
    trajectory = run_rule(getattr(symupdates, rule), problem32, **case.ours)
    assert all(p.dtype == np.float32 for step in trajectory for p in step)
    step, init_state = case.transcription()
    assert_trajectories_close(trajectory, numpy_trajectory(step, make_problem(steps=30), init_state), rtol=2e-4,
                              atol=2e-5)


def test_state_names():
    W = pytensor.shared(np.zeros((2, 3)), name="W")
    grads = [pytensor.tensor.zeros((2, 3))]
    names = lambda rule, **kw: [v.name for v in getattr(symupdates, rule)(grads, [W], **kw)]  # noqa: E731
    assert names("adam") == ["W.adam.m", "W.adam.v", "W", "adam.t"]
    assert names("amsgrad") == ["W.amsgrad.m", "W.amsgrad.v", "W.amsgrad.v_hat", "W", "amsgrad.t"]
    assert names("nadam") == ["W.nadam.m", "W.nadam.v", "W", "nadam.t", "nadam.mu_product"]
    assert names("adan") == ["W.adan.m", "W.adan.v", "W.adan.n", "W.adan.previous_grad", "W", "adan.t"]
    assert names("amsbound") == ["W.amsbound.m", "W.amsbound.v", "W.amsbound.v_hat", "W", "amsbound.t"]


def _nadam_run(problem, start, stop, state=None, param_values=None):
    """Steps ``start..stop-1`` of nadam on fresh variables, optionally restored first."""
    return run_steps(symupdates.nadam, problem, start, stop, state, param_values, learning_rate=0.05,
                     schedule_decay=0.1)


def test_nadam_state_round_trip_continues_bit_for_bit(problem):
    straight, _, _ = _nadam_run(problem, 0, 30)
    halfway, state, updates = _nadam_run(problem, 0, 12)
    names = [v.name for v in symupdates.state_variables(updates)]
    assert "nadam.mu_product" in names and "nadam.t" in names
    mu_product = state[names.index("nadam.mu_product")]
    assert 0 < mu_product < 0.9 ** 12  # the schedule product of 12 steps, not a fresh 1
    resumed, _, _ = _nadam_run(problem, 12, 30, state=state, param_values=halfway)
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a, b)
    # Losing the product (Keras 2.2's bug) would change the continuation.
    state[names.index("nadam.mu_product")] = np.ones((), dtype="float64")
    lost, _, _ = _nadam_run(problem, 12, 30, state=state, param_values=halfway)
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(straight, lost)) > 1e-6


@pytest.mark.parametrize(
    "rule,kwargs,error",
    [
        ("adam", {"epsilon_placement": "outside"}, ValueError),
        ("adam", {"maximize": "yes"}, TypeError),
        ("adam", {"decoupled_weight_decay": 1}, TypeError),
        ("amsgrad", {"maximum_of": "v"}, ValueError),
        ("adamax", {"epsilon_placement": "corrected"}, ValueError),
        ("radam", {"epsilon_placement": "inside_max"}, ValueError),
        ("adamw", {"weight_decay": "0.01"}, TypeError),
        ("nadam", {"schedule_decay": [0.004]}, TypeError),
        ("nadam", {"learning_rate": None}, TypeError),
        ("yogi", {"initial_accumulator_value": "small"}, TypeError),
        ("adan", {"beta3": np.ones(2)}, TypeError),
        ("adabound", {"final_lr": pytensor.tensor.vector()}, ValueError),
    ],
)
def test_bad_arguments_are_refused_when_building(rule, kwargs, error):
    W = pytensor.shared(np.ones(3), name="W")
    with pytest.raises(error):
        getattr(symupdates, rule)([pytensor.tensor.ones(3)], [W], **kwargs)
    assert np.all(W.get_value() == 1)


def test_nadam_refuses_bad_gradients_before_creating_state():
    W = pytensor.shared(np.ones(3), name="W")
    with pytest.raises(ValueError, match="1 parameters"):
        symupdates.nadam([pytensor.tensor.ones(3), pytensor.tensor.ones(3)], [W])


def test_schedule_free_eval_params_are_the_average_of_the_steps(problem):
    """x, where a Schedule-Free model is evaluated, is the running average of the steps z.

    With a constant learning rate every step has the same weight (Defazio
    et al. 2024, eq. 1: ``x_t = (1 - 1/t) x_(t-1) + z_t / t``).  The steps
    are recomputed here in NumPy from the golden trajectory of optax (the
    gradients at the iterates ``y`` it visited), then averaged.
    """
    case = optimizers.case("optax_adam", "schedule_free_adamw_options")
    kwargs = case.ours
    lr, beta2, eps, decay = kwargs["learning_rate"], kwargs["beta2"], kwargs["epsilon"], kwargs["weight_decay"]
    golden = load_trajectory(case.file_name)
    short = dict(problem, steps=5)
    _, updates, params = run_rule(symupdates.schedule_free_adamw, short, return_updates=True, **kwargs)
    ys = [short["init"]] + golden[:short["steps"]]
    z = [np.array(p) for p in short["init"]]
    v = [np.zeros_like(p) for p in z]
    steps = []
    for t in range(1, short["steps"] + 1):
        grads = numpy_grads(short, ys[t - 1], t - 1)
        v = [beta2 * vi + (1 - beta2) * g**2 for vi, g in zip(v, grads)]
        z = [zi - lr * (g / (np.sqrt(vi / (1 - beta2**t)) + eps) + decay * y)
             for zi, g, vi, y in zip(z, grads, v, ys[t - 1])]
        steps.append(z)
    # weight_lr_power only scales equal weights: the average stays uniform
    average = [np.mean([s[k] for s in steps], axis=0) for k in range(len(z))]
    x = symupdates.schedule_free_eval_params(updates, beta1=kwargs["beta1"])
    assert list(x) == params
    evaluate = pytensor.function([], list(x.values()))
    assert_trajectories_close([evaluate()], [average], rtol=1e-9, atol=1e-11)


def test_schedule_free_eval_params_needs_the_rules_state():
    param = pytensor.shared(np.ones(3), name="w")
    with pytest.raises(ValueError, match="no schedule_free_adamw state"):
        symupdates.schedule_free_eval_params(symupdates.adam([param.sum()][0], [param]))
    with pytest.raises(ValueError, match="beta1"):
        symupdates.schedule_free_eval_params({}, beta1=0.0)


def test_golden_torch_amsgrad_differs_from_adam():
    # torch_core's amsgrad case has the settings of its adam case: the maximum
    # over the second moment takes effect on this problem.
    amsgrad = load_trajectory(optimizers.case("torch_core", "amsgrad").file_name)
    adam = load_trajectory(optimizers.case("torch_core", "adam").file_name)
    assert max(np.max(np.abs(a - b)) for a, b in zip(amsgrad[-1], adam[-1])) > 1e-3
