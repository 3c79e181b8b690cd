"""The Adam family against its reference implementations.

* torch.optim: golden trajectories (tests/reference/generate_torch_adam.py)
  always, and torch run live when it is installed;
* optax and Keras 3: golden trajectories written by
  tests/reference/generate_optax_adam.py and generate_keras_adam.py;
* Lasagne, Chainer and Keras 2's Nadam: NumPy transcriptions of their
  published code, below, written from that code and not from ours.

Every case runs on the harness problem (parameters of shapes (), (5,),
(3, 4), (2, 3, 2)) for 30 steps.  Every anchor a rule declares is exercised
with exactly the keyword arguments it declares.
"""

import importlib.util
import os

import numpy as np
import pytensor
import pytest

import symupdates
from harness import assert_golden_is_live, assert_trajectories_close, load_trajectory, make_problem, numpy_grads, numpy_trajectory, run_rule
from transcriptions import chainer_adam, keras2_nadam, reference_adam, reference_adamax, reference_amsgrad

HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, "reference", name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATORS = {
    "torch": _load("generate_torch_adam"),
    "optax": _load("generate_optax_adam"),
    "keras": _load("generate_keras_adam"),
}
GOLDEN_CASES = [(source, case) for source, gen in GENERATORS.items() for case in gen.CASES]

# The implementations order their operations differently (lerp against
# beta * m + (1 - beta) * g, sqrt(v / c) against sqrt(v) / sqrt(c), ...);
# over 30 steps the rounding differences stay within a few units in the last
# place, far below what any switch changes (test_wrong_switch_is_detected).
RTOL, ATOL = 1e-11, 1e-13

try:
    import torch  # noqa: F401

    HAVE_TORCH = True
except ImportError:  # torch is in the test extra; without it only the golden files are used
    HAVE_TORCH = False

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


# ---------------------------------------------------------------------------
# NumPy transcriptions of the published code


#: case -> (symupdates rule, its keyword arguments, transcription, its keyword arguments)
TRANSCRIPTIONS = {
    "lasagne_adam": ("adam", {}, reference_adam, {}),
    "lasagne_adam_options": (
        "adam",
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-3},
        reference_adam,
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-3},
    ),
    "lasagne_adamax": ("adamax", {}, reference_adamax, {}),
    "lasagne_adamax_options": (
        "adamax",
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-2},
        reference_adamax,
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-2},
    ),
    "lasagne_amsgrad": ("amsgrad", {}, reference_amsgrad, {}),
    "lasagne_amsgrad_options": (
        "amsgrad",
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.9, "epsilon": 1e-3},
        reference_amsgrad,
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.9, "epsilon": 1e-3},
    ),
    "chainer_adam": ("adam", {}, chainer_adam, {}),
    "chainer_amsgrad_defaults": ("amsgrad", {}, chainer_adam, {"amsgrad": True}),
    "chainer_amsgrad": (
        "amsgrad",
        {"learning_rate": 0.05, "beta2": 0.9, "epsilon": 1e-3},
        chainer_adam,
        {"alpha": 0.05, "beta2": 0.9, "eps": 1e-3, "amsgrad": True},
    ),
    "chainer_adabound": ("adabound", {}, chainer_adam, {"adabound": True}),
    # gamma and final_lr chosen so that both bounds clip during the 30 steps.
    "chainer_adabound_options": (
        "adabound",
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.95, "final_lr": 0.02, "gamma": 0.1, "epsilon": 1e-3},
        chainer_adam,
        {"alpha": 0.05, "beta1": 0.8, "beta2": 0.95, "final_lr": 0.02, "gamma": 0.1, "eps": 1e-3, "adabound": True},
    ),
    "chainer_amsbound": ("amsbound", {}, chainer_adam, {"adabound": True, "amsgrad": True}),
    "chainer_amsbound_options": (
        "amsbound",
        {"learning_rate": 0.05, "beta2": 0.9, "final_lr": 0.02, "gamma": 0.1, "epsilon": 1e-3},
        chainer_adam,
        {"alpha": 0.05, "beta2": 0.9, "final_lr": 0.02, "gamma": 0.1, "eps": 1e-3, "adabound": True,
         "amsgrad": True},
    ),
    "keras2_nadam": ("nadam", {"epsilon": 1e-7}, keras2_nadam, {}),
    "keras2_nadam_options": (
        "nadam",
        {"learning_rate": 0.05, "beta1": 0.85, "beta2": 0.99, "epsilon": 1e-3, "schedule_decay": 0.1},
        keras2_nadam,
        {"lr": 0.05, "beta_1": 0.85, "beta_2": 0.99, "epsilon": 1e-3, "schedule_decay": 0.1},
    ),
}


def transcription_trajectory(case, problem):
    _, _, transcription, kwargs = TRANSCRIPTIONS[case]
    step, init_state = transcription(**kwargs)
    return numpy_trajectory(step, problem, init_state)


# ---------------------------------------------------------------------------
# the anchors each rule declares, and the reference that checks each


#: (rule, anchor) -> (source, case) where source is "torch", "optax", "keras" or "numpy"
ANCHOR_CASES = {
    ("adam", "lasagne.updates.adam"): ("numpy", "lasagne_adam"),
    ("adam", "keras.optimizers.Adam"): ("keras", "adam_defaults"),
    ("adam", "chainer.optimizers.Adam"): ("numpy", "chainer_adam"),
    ("adam", "torch.optim.Adam"): ("torch", "adam_defaults"),
    ("adam", "optax.adam"): ("optax", "adam_defaults"),
    ("adamax", "lasagne.updates.adamax"): ("numpy", "lasagne_adamax"),
    ("adamax", "keras.optimizers.Adamax"): ("keras", "adamax_defaults"),
    ("adamax", "torch.optim.Adamax"): ("torch", "adamax_defaults"),
    ("adamax", "optax.adamax"): ("optax", "adamax_defaults"),
    ("amsgrad", "lasagne.updates.amsgrad"): ("numpy", "lasagne_amsgrad"),
    ("amsgrad", "keras.optimizers.Adam"): ("keras", "adam_amsgrad_defaults"),
    ("amsgrad", "chainer.optimizers.AMSGrad"): ("numpy", "chainer_amsgrad_defaults"),
    ("amsgrad", "torch.optim.Adam"): ("torch", "amsgrad_defaults"),
    ("amsgrad", "optax.amsgrad"): ("optax", "amsgrad_defaults"),
    ("adamw", "torch.optim.AdamW"): ("torch", "adamw_defaults"),
    ("adamw", "optax.adamw"): ("optax", "adamw_defaults"),
    ("adamw", "keras.optimizers.AdamW"): ("keras", "adamw_defaults"),
    ("radam", "torch.optim.RAdam"): ("torch", "radam_defaults"),
    ("radam", "optax.radam"): ("optax", "radam_defaults"),
    ("nadam", "torch.optim.NAdam"): ("torch", "nadam_defaults"),
    ("nadam", "keras2.optimizers.Nadam"): ("numpy", "keras2_nadam"),
    ("nadam", "keras.optimizers.Nadam"): ("keras", "nadam_defaults"),
    ("adabelief", "optax.adabelief"): ("optax", "adabelief"),
    ("yogi", "optax.yogi"): ("optax", "yogi"),
    ("adan", "optax.adan"): ("optax", "adan"),
    ("adopt", "optax.contrib.adopt"): ("optax", "adopt_defaults"),
    ("schedule_free_adamw", "optax.contrib.schedule_free_adamw"): ("optax", "schedule_free_adamw_defaults"),
    ("adabound", "chainer.optimizers.AdaBound"): ("numpy", "chainer_adabound"),
    ("amsbound", "chainer.optimizers.AMSBound"): ("numpy", "chainer_amsbound"),
}

#: keyword arguments a case may add to an anchor's: optax has no default learning rate.
HYPERPARAMETERS_ONLY = {"learning_rate"}


def case_arguments(source, case):
    if source == "numpy":
        return TRANSCRIPTIONS[case][:2]
    return GENERATORS[source].CASES[case][:2]


def test_every_rule_is_registered_with_anchors():
    for name in OUR_RULES:
        assert symupdates.RULES[name] is getattr(symupdates, name)
        assert symupdates.RULES[name].anchors, name


def test_every_anchor_is_checked_by_a_reference_case():
    declared = {(rule, anchor) for rule in OUR_RULES for anchor in symupdates.RULES[rule].anchors}
    # Blocks' anchors are checked with the numbers of Blocks' own tests, in tests/test_blocks.py.
    blocks = {(rule, anchor) for rule, anchor in declared if anchor.startswith("blocks.")}
    assert blocks == {("adam", "blocks.algorithms.Adam")}
    # SparseAdam is checked against torch live on row-sparse gradients, in tests/test_sparse.py.
    sparse = {(rule, anchor) for rule, anchor in declared if rule == "sparse_adam"}
    assert sparse == {("sparse_adam", "torch.optim.SparseAdam")}
    assert declared - blocks - sparse == set(ANCHOR_CASES)


@pytest.mark.parametrize("rule,anchor", sorted(ANCHOR_CASES))
def test_anchor_arguments_are_those_of_its_reference_case(rule, anchor):
    # The reference case runs the rule with exactly the anchor's arguments
    # (plus a learning rate where the reference has no default).
    source, case = ANCHOR_CASES[(rule, anchor)]
    case_rule, kwargs = case_arguments(source, case)
    assert case_rule == rule
    declared = symupdates.RULES[rule].anchors[anchor]
    assert set(kwargs) - set(declared) <= HYPERPARAMETERS_ONLY
    assert {k: kwargs[k] for k in declared} == declared


# ---------------------------------------------------------------------------
# trajectories


@pytest.mark.parametrize("source,case", GOLDEN_CASES)
def test_matches_golden_trajectory(problem, source, case):
    generator = GENERATORS[source]
    rule, kwargs, _, _ = generator.CASES[case]
    golden = load_trajectory(generator.file_name(case))
    assert len(golden) == generator.STEPS == problem["steps"]
    assert_trajectories_close(ours(problem, rule, **kwargs), golden, rtol=RTOL, atol=ATOL)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed (it is in the test extra)")
@pytest.mark.parametrize("case", list(GENERATORS["torch"].CASES))
def test_matches_torch_run_live(problem, case):
    generator = GENERATORS["torch"]
    rule, kwargs, _, _ = generator.CASES[case]
    live = generator.torch_reference(case)
    assert_trajectories_close(ours(problem, rule, **kwargs), live, rtol=RTOL, atol=ATOL)
    # The committed file is what this torch computes.
    assert_golden_is_live(load_trajectory(generator.file_name(case)), live)


@pytest.mark.parametrize("case", list(TRANSCRIPTIONS))
def test_matches_numpy_transcription(problem, case):
    rule, kwargs, _, _ = TRANSCRIPTIONS[case]
    assert_trajectories_close(ours(problem, rule, **kwargs), transcription_trajectory(case, problem), rtol=RTOL,
                              atol=ATOL)


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
    generator = GENERATORS[source]
    rule, kwargs, _, _ = generator.CASES[case]
    golden = load_trajectory(generator.file_name(case))
    assert max_difference(ours(problem, rule, **{**kwargs, **wrong}), golden) > 1e-6


def test_bounds_and_rectifier_take_effect(problem):
    # AdaBound's clip and RAdam's switch are exercised, not idle: without
    # them the trajectories differ.
    clipped = ours(problem, "adabound", **TRANSCRIPTIONS["chainer_adabound_options"][1])
    step, init_state = chainer_adam(alpha=0.05, beta1=0.8, beta2=0.95, eps=1e-3)
    adam_like = numpy_trajectory(step, problem, init_state)
    assert max_difference(clipped, adam_like) > 1e-3
    # torch's RAdam with its rectifier against Adam: same until step 6 (SGD with momentum), different after.
    radam = load_trajectory("torch_adam_radam")
    adam = ours(problem, "adam", learning_rate=0.05, epsilon=1e-3, epsilon_placement="corrected")
    assert max_difference(radam, adam) > 1e-3


def test_golden_trajectories_move_every_parameter():
    problem = make_problem(steps=30)
    for source, case in GOLDEN_CASES:
        final = load_trajectory(GENERATORS[source].file_name(case))[-1]
        for start, end in zip(problem["init"], final):
            assert np.min(np.abs(end - start)) > 1e-5, (source, case)


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
    rule, kwargs, _, _ = GENERATORS[source].CASES[case]
    trajectory, updates, params = run_rule(getattr(symupdates, rule), problem32, return_updates=True, **kwargs)
    for var, expr in updates.items():
        assert expr.type == var.type, var.name
        if var.name.endswith(".t"):
            assert var.dtype == "int64"
        elif var.name != "nadam.mu_product":
            assert var.dtype == "float32", var.name
    assert all(p.dtype == np.float32 for step in trajectory for p in step)
    golden = load_trajectory(GENERATORS[source].file_name(case))
    assert_trajectories_close(trajectory, golden, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("rule", ["adabound", "amsbound"])
def test_chainer_rules_in_float32(rule):
    problem32 = make_problem(steps=30, dtype="float32")
    case = "chainer_%s_options" % rule
    trajectory = run_rule(getattr(symupdates, rule), problem32, **TRANSCRIPTIONS[case][1])
    assert all(p.dtype == np.float32 for step in trajectory for p in step)
    assert_trajectories_close(trajectory, transcription_trajectory(case, make_problem(steps=30)), rtol=2e-4, atol=2e-5)


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
    params = [pytensor.shared(v.copy(), name="p%d" % i, shape=v.shape) for i, v in enumerate(problem["init"])]
    grads_in = [pytensor.tensor.tensor(dtype="float64", shape=v.shape) for v in problem["init"]]
    grads = [
        pytensor.tensor.constant(a) * (p - pytensor.tensor.constant(c)) + n
        for p, a, c, n in zip(params, problem["a"], problem["c"], grads_in)
    ]
    updates = symupdates.nadam(grads, params, learning_rate=0.05, schedule_decay=0.1)
    step = pytensor.function(grads_in, [], updates=updates)
    if state is not None:
        for p, v in zip(params, param_values):
            p.set_value(v)
        symupdates.set_state_values(updates, state)
    for t in range(start, stop):
        step(*problem["noise"][t])
    return [p.get_value() for p in params], symupdates.get_state_values(updates), updates


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


def test_partial_application():
    W = pytensor.shared(np.ones(3), name="W")
    grads = [pytensor.tensor.ones(3)]
    for name in OUR_RULES:
        bound = getattr(symupdates, name)(learning_rate=0.01)
        assert W in bound(grads, [W])
        with pytest.raises(ValueError):
            getattr(symupdates, name)(grads)


def test_symbolic_learning_rate():
    # A shared learning rate changed between steps, without recompiling.
    lr = pytensor.shared(0.0)
    W = pytensor.shared(np.ones(3), name="W")
    for name in OUR_RULES:
        W.set_value(np.ones(3))
        step = pytensor.function([], [], updates=getattr(symupdates, name)([pytensor.tensor.ones(3)], [W],
                                                                            learning_rate=lr))
        lr.set_value(0.0)
        step()
        before = W.get_value()
        lr.set_value(0.1)
        step()
        assert np.all(W.get_value() < before), name


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
    _, kwargs, _, _ = GENERATORS["optax"].CASES["schedule_free_adamw_options"]
    lr, beta2, eps, decay = kwargs["learning_rate"], kwargs["beta2"], kwargs["epsilon"], kwargs["weight_decay"]
    golden = load_trajectory(GENERATORS["optax"].file_name("schedule_free_adamw_options"))
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
