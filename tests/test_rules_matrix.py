"""Adafactor, Muon and SM3 against their reference implementations.

* torch.optim.Adafactor and torch.optim.Muon: golden trajectories
  (tests/reference/generate_torch_matrix.py) always, torch run live when it is
  installed;
* optax.adafactor, optax.contrib.muon and optax.sm3: golden trajectories
  (tests/reference/generate_optax_layerwise.py);
* torch's Muon code transcribed to NumPy below (from torch/optim/_muon.py,
  not from our code), in float64: torch itself runs the Newton-Schulz
  iteration in bfloat16, so torch's own numbers can only be matched to
  bfloat16's precision, and the transcription checks the formula at float64's.

Adafactor and SM3 run on parameters of shapes (), (5,), (3, 4), (2, 3, 2),
(5, 3, 2); Muon on matrices, and with a fallback rule for the others.
"""

import importlib.util
import os

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import symupdates
from harness import assert_golden_is_live, assert_trajectories_close, load_trajectory, numpy_trajectory, run_rule

HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, "reference", name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TORCH = _load("generate_torch_matrix")
OPTAX = _load("generate_optax_layerwise")
OUR_RULES = list(symupdates.rules.matrix.__all__)
OPTAX_CASES = [name for name, case in OPTAX.CASES.items() if case["rule"] in OUR_RULES]
GOLDEN = [("torch", name) for name in TORCH.CASES] + [("optax", name) for name in OPTAX_CASES]

try:
    import torch  # noqa: F401

    HAVE_TORCH = True
except ImportError:  # torch is in the test extra; without it only the golden files are used
    HAVE_TORCH = False

RTOL, ATOL = 1e-11, 1e-13
RTOL32, ATOL32 = 2e-4, 2e-5
# optax.adafactor computes its decay rate 1 - t**-0.8 in float32 even for
# float64 parameters (test_optax_adafactor_decay_is_float32 shows that this
# is the whole difference).
OPTAX_FLOAT32_DECAY = {"adafactor_default", "adafactor_factored", "adafactor_unscaled_unclipped"}


def generator(source):
    return {"torch": TORCH, "optax": OPTAX}[source]


def golden(source, name):
    return load_trajectory("%s_%s" % ({"torch": "torch_matrix", "optax": "optax_layerwise"}[source], name))


def ours(source, name, problem=None, **extra):
    case = generator(source).CASES[name]
    kwargs = {**case["ours"], **extra}
    if "fallback" in case:
        rule, arguments = case["fallback"][:2]
        kwargs["fallback"] = getattr(symupdates, rule)(**arguments)
    problem = problem or generator(source).case_problem(case)
    return run_rule(getattr(symupdates, case["rule"]), problem, **kwargs)


def max_difference(a, b):
    return max(float(np.max(np.abs(x - y))) for s, r in zip(a, b) for x, y in zip(s, r))


def bfloat16_tolerance(case):
    """torch's Muon orthogonalises in bfloat16 (8 significant bits): each step
    is off by up to about 1% of its size ``lr``; over 25 steps the parameters
    stay within 0.6 lr of a float64 computation."""
    return 0.6 * case["torch"][1].get("lr", 1e-3)


def assert_close_to_torch(case, trajectory, reference):
    if case["rule"] != "muon":
        rtol, atol = (RTOL32, ATOL32) if case.get("dtype") == "float32" else (RTOL, ATOL)
        assert_trajectories_close(trajectory, reference, rtol=rtol, atol=atol)
        return
    shapes = case["shapes"]
    matrices = [i for i, s in enumerate(shapes) if len(s) == 2]
    others = [i for i, s in enumerate(shapes) if len(s) != 2]
    pick = lambda traj, idx: [[step[i] for i in idx] for step in traj]  # noqa: E731
    assert_trajectories_close(pick(trajectory, matrices), pick(reference, matrices), rtol=0,
                              atol=bfloat16_tolerance(case))
    if others:  # the fallback rule's parameters owe nothing to bfloat16
        assert_trajectories_close(pick(trajectory, others), pick(reference, others), rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------------------
# registry and anchors


ANCHOR_CASES = {
    ("adafactor", "torch.optim.Adafactor"): ("torch", "adafactor_default"),
    ("adafactor", "optax.adafactor"): ("optax", "adafactor_default"),
    ("muon", "torch.optim.Muon"): ("torch", "muon_default"),
    ("muon", "optax.contrib.muon"): ("optax", "muon_default"),
    ("sm3", "optax.sm3"): ("optax", "sm3_default"),
}


def test_every_anchor_is_checked_by_a_reference_case():
    for name in OUR_RULES:
        assert symupdates.RULES[name] is getattr(symupdates, name)
    declared = {(rule, anchor) for rule in OUR_RULES for anchor in symupdates.RULES[rule].anchors}
    assert declared == set(ANCHOR_CASES)


@pytest.mark.parametrize("rule,anchor", sorted(ANCHOR_CASES))
def test_anchor_arguments_are_those_of_its_reference_case(rule, anchor):
    source, name = ANCHOR_CASES[(rule, anchor)]
    case = generator(source).CASES[name]
    assert case["rule"] == rule
    declared = symupdates.RULES[rule].anchors[anchor]
    extra = {"learning_rate": case["ours"]["learning_rate"]} if source == "optax" else {}
    assert case["ours"] == {**declared, **extra}
    # ... and the reference runs its own defaults (optax: with that learning rate).
    assert list(case[source][1]) == list(extra)


# ---------------------------------------------------------------------------
# trajectories


@pytest.mark.parametrize("source,name", GOLDEN)
def test_matches_golden_trajectory(source, name):
    case = generator(source).CASES[name]
    trajectory, reference = ours(source, name), golden(source, name)
    assert len(reference) == 25
    if source == "torch":
        assert_close_to_torch(case, trajectory, reference)
    elif case.get("dtype") == "float32":
        assert all(p.dtype == np.float32 for step in trajectory for p in step)
        assert_trajectories_close(trajectory, reference, rtol=RTOL32, atol=ATOL32)
    elif name in OPTAX_FLOAT32_DECAY:
        assert_trajectories_close(trajectory, reference, rtol=1e-5, atol=1e-8)
    else:
        assert_trajectories_close(trajectory, reference, rtol=RTOL, atol=ATOL)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed (it is in the test extra)")
@pytest.mark.parametrize("name", list(TORCH.CASES))
def test_matches_torch_run_live(name):
    case = TORCH.CASES[name]
    live = TORCH.torch_trajectory(case)
    assert_close_to_torch(case, ours("torch", name), live)
    # The committed file is what this torch computes (Muon: up to bfloat16 matrix products).
    assert_close_to_torch(case, golden("torch", name), live)
    if case["rule"] != "muon":
        assert_golden_is_live(golden("torch", name), live)


def test_optax_adafactor_decay_is_float32():
    # The looser tolerance of OPTAX_FLOAT32_DECAY is needed and sufficient:
    # with the decay rate in float64 (optax's own transforms otherwise), the
    # rule matches optax at float64 precision.
    for name, exact in [("adafactor_default", "adafactor_float64_decay"),
                        ("adafactor_factored", "adafactor_float64_decay_factored")]:
        assert max_difference(golden("optax", name), golden("optax", exact)) > 1e-9
        assert OPTAX.CASES[name]["ours"] == OPTAX.CASES[exact]["ours"]
        assert_trajectories_close(ours("optax", exact), golden("optax", exact), rtol=RTOL, atol=ATOL)


def test_golden_trajectories_move_every_parameter_and_stay_bounded():
    # Moving: the comparison tests something.  Bounded: a relative tolerance
    # on a diverging trajectory would hide errors in its other parameters.
    for source, name in GOLDEN:
        case = generator(source).CASES[name]
        final = golden(source, name)[-1]
        for start, end in zip(generator(source).case_problem(case)["init"], final):
            assert np.min(np.abs(end - start)) > 1e-6, (source, name)
        assert max(float(np.max(np.abs(p))) for step in golden(source, name) for p in step) < 10


#: (source, case, arguments that must NOT reproduce it): every switch matters.
WRONG = [
    ("torch", "adafactor_default", {"min_dim_size_to_factor": 2}),  # (5, 3, 2) factored over other axes
    ("torch", "adafactor_large_epsilon1", {"epsilon1": None}),
    ("torch", "adafactor_large_epsilon1", {"epsilon1_added": True}),
    ("torch", "adafactor_relative_step_decay", {"relative_step": False}),
    ("torch", "adafactor_relative_step_decay", {"weight_decay": 0.0}),
    ("torch", "adafactor_default", {"clipping_threshold": None}),
    ("torch", "adafactor_relative_step_decay", {"multiply_by_parameter_scale": False}),
    ("optax", "adafactor_float64_decay", {"min_dim_size_to_factor": None}),
    ("optax", "muon_default", {"bias_correction": False}),
    ("optax", "muon_default", {"fan_out_axis": 0}),
    ("optax", "muon_plain_decay", {"epsilon_added": False}),
    ("optax", "muon_plain_decay", {"nesterov": True}),
    ("optax", "sm3_momentum", {"momentum": 0.9}),
    ("optax", "sm3_momentum", {"epsilon": 1e-3}),
]


@pytest.mark.parametrize("source,name,wrong", WRONG)
def test_wrong_argument_is_detected(source, name, wrong):
    assert max_difference(ours(source, name, **wrong), golden(source, name)) > 1e-9


# ---------------------------------------------------------------------------
# torch's Muon in float64


def torch_muon_transcription(lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                             ns_coefficients=(3.4445, -4.7750, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None,
                             dtype="float64", fallback_lr=None, fallback_momentum=None):
    """torch.optim.Muon's step (torch/optim/_muon.py), without its bfloat16 cast.

    Non-matrix parameters follow torch.optim.SGD with momentum (the fallback case).
    """
    a, b, c = ns_coefficients

    def orthogonalise(update):
        x = update.T if update.shape[0] > update.shape[1] else update
        x = x / max(np.linalg.norm(x), eps)
        for _ in range(ns_steps):
            gram = x @ x.T
            x = a * x + (b * gram + c * gram @ gram) @ x
        return x.T if update.shape[0] > update.shape[1] else x

    def step(params, grads, state, t):
        new_params, new_state = [], []
        for p, g, buf in zip(params, grads, state):
            if p.ndim != 2:  # torch.optim.SGD(momentum): buf := g on the first step, then mu buf + g
                buf = g if t == 1 else fallback_momentum * buf + g
                new_params.append(p - fallback_lr * buf)
                new_state.append(buf)
                continue
            buf = buf + (1 - momentum) * (g - buf)
            update = orthogonalise(g + momentum * (buf - g) if nesterov else buf)
            rows, cols = p.shape
            ratio = 0.2 * np.sqrt(max(rows, cols)) if adjust_lr_fn == "match_rms_adamw" else np.sqrt(max(1, rows / cols))
            new_params.append(p * (1 - lr * weight_decay) - lr * ratio * update)
            new_state.append(buf)
        return [np.asarray(p, dtype=dtype) for p in new_params], new_state

    return step, lambda params: [np.zeros_like(p) for p in params]


def transcription_for(case):
    extra = {}
    if "fallback" in case:
        extra = dict(fallback_lr=case["fallback"][3]["lr"], fallback_momentum=case["fallback"][3]["momentum"])
    return torch_muon_transcription(**case["torch"][1], dtype=case.get("dtype", "float64"), **extra)


# The transcription's fallback is torch's SGD; AdamW's is checked by the golden and live tests.
TRANSCRIBED = [n for n, c in TORCH.CASES.items() if c["rule"] == "muon" and "AdamW" not in c.get("fallback", ())]


@pytest.mark.parametrize("name", TRANSCRIBED)
def test_muon_matches_torch_formula_in_float64(name):
    case = TORCH.CASES[name]
    problem = TORCH.case_problem(case)
    reference = numpy_trajectory(transcription_for(case)[0], problem, transcription_for(case)[1])
    assert_trajectories_close(ours("torch", name), reference, rtol=RTOL, atol=ATOL)
    # The transcription is torch up to bfloat16: it is what the tolerance above measures.
    assert_close_to_torch(case, reference, golden("torch", name))


def test_muon_fallback_gets_only_the_other_parameters():
    W = pytensor.shared(np.ones((3, 2)), name="W")
    b = pytensor.shared(np.ones(2), name="b")
    s = pytensor.shared(np.ones(()), name="s")
    seen = []

    def fallback(grads, params):
        seen.extend(params)
        return symupdates.momentum(grads, params, learning_rate=0.1)

    updates = symupdates.muon([pt.ones((3, 2)), pt.ones(2), pt.ones(())], [W, b, s], fallback=fallback)
    assert seen == [b, s]
    assert [v.name for v in updates] == ["W.muon.B", "W", "b.momentum.velocity", "b", "s.momentum.velocity", "s"]


# ---------------------------------------------------------------------------
# dtypes, state, errors


FLOAT32 = [("torch", "adafactor_float32"), ("optax", "sm3_float32")]


@pytest.mark.parametrize("source,name", FLOAT32 + [("torch", "muon_options")])
def test_float32_parameters_stay_float32(source, name):
    assert pytensor.config.floatX == "float64"
    case = dict(generator(source).CASES[name], dtype="float32")
    problem = generator(source).case_problem(case)
    trajectory, updates, _ = run_rule(getattr(symupdates, case["rule"]), problem, return_updates=True,
                                      **case["ours"])
    for var, expr in updates.items():
        assert expr.type == var.type, var.name
        assert var.dtype == ("int64" if var.name.endswith(".t") else "float32"), var.name
    assert all(p.dtype == np.float32 for step in trajectory for p in step)
    if case["rule"] == "muon":
        reference = numpy_trajectory(transcription_for(case)[0], problem, transcription_for(case)[1])
    else:
        reference = golden(source, name)
    assert_trajectories_close(trajectory, reference, rtol=RTOL32, atol=ATOL32)


def test_state_names_and_shapes():
    W = pytensor.shared(np.zeros((2, 3)), name="W")
    T = pytensor.shared(np.zeros((4, 2, 3)), name="T")
    b = pytensor.shared(np.zeros(3), name="b")
    s = pytensor.shared(np.zeros(()), name="s")
    grads = [pt.zeros((2, 3)), pt.zeros((4, 2, 3)), pt.zeros(3), pt.zeros(())]

    def state(rule, params=(W, T, b, s), grads=grads, **kwargs):
        return [(v.name, v.get_value().shape) for v in getattr(symupdates, rule)(grads, list(params), **kwargs)]

    assert state("adafactor") == [
        ("W.adafactor.row", (2, 1)), ("W.adafactor.col", (1, 3)), ("W", (2, 3)),
        ("T.adafactor.row", (4, 2, 1)), ("T.adafactor.col", (4, 1, 3)), ("T", (4, 2, 3)),
        ("b.adafactor.v", (3,)), ("b", (3,)), ("s.adafactor.v", ()), ("s", ()), ("adafactor.t", ()),
    ]
    # optax's choice: the two largest axes, when the smaller is at least min_dim_size_to_factor
    assert state("adafactor", min_dim_size_to_factor=3)[:6] == [
        ("W.adafactor.v", (2, 3)), ("W", (2, 3)),
        ("T.adafactor.row", (1, 2, 3)), ("T.adafactor.col", (4, 2, 1)), ("T", (4, 2, 3)), ("b.adafactor.v", (3,)),
    ]
    assert state("sm3") == [
        ("W.sm3.acc0", (2,)), ("W.sm3.acc1", (3,)), ("W.sm3.m", (2, 3)), ("W", (2, 3)),
        ("T.sm3.acc0", (4,)), ("T.sm3.acc1", (2,)), ("T.sm3.acc2", (3,)), ("T.sm3.m", (4, 2, 3)), ("T", (4, 2, 3)),
        ("b.sm3.acc0", (3,)), ("b.sm3.m", (3,)), ("b", (3,)), ("s.sm3.acc", ()), ("s.sm3.m", ()), ("s", ()),
    ]
    assert state("muon", params=[W], grads=grads[:1]) == [("W.muon.B", (2, 3)), ("W", (2, 3))]
    assert state("muon", params=[W], grads=grads[:1], bias_correction=True) == [
        ("W.muon.B", (2, 3)), ("W", (2, 3)), ("muon.t", ())]


def _run(source, name, start, stop, state=None, values=None):
    """Steps ``start..stop-1`` on fresh variables, optionally restored first."""
    case = generator(source).CASES[name]
    problem = generator(source).case_problem(case)
    params = [pytensor.shared(v.copy(), name="p%d" % i, shape=v.shape) for i, v in enumerate(problem["init"])]
    noise = [pt.tensor(dtype="float64", shape=v.shape) for v in problem["init"]]
    grads = [pt.constant(a) * (p - pt.constant(c)) + n for p, a, c, n in zip(params, problem["a"], problem["c"], noise)]
    updates = getattr(symupdates, case["rule"])(grads, params, **case["ours"])
    step = pytensor.function(noise, [], updates=updates)
    if state is not None:
        for p, v in zip(params, values):
            p.set_value(v)
        symupdates.set_state_values(updates, state)
    for t in range(start, stop):
        step(*problem["noise"][t])
    return [p.get_value() for p in params], symupdates.get_state_values(updates)


@pytest.mark.parametrize("source,name", [("torch", "adafactor_relative_step_decay"), ("optax", "sm3_momentum"),
                                         ("optax", "muon_plain_decay")])
def test_state_round_trip_continues_bit_for_bit(source, name):
    straight, _ = _run(source, name, 0, 20)
    halfway, state = _run(source, name, 0, 8)
    resumed, _ = _run(source, name, 8, 20, state=state, values=halfway)
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a, b)
    fresh = [np.zeros_like(s) for s in state]
    lost, _ = _run(source, name, 8, 20, state=fresh, values=halfway)
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(straight, lost)) > 1e-9


def test_partial_application_and_symbolic_learning_rate():
    lr = pytensor.shared(0.0)
    W = pytensor.shared(np.ones((3, 2)), name="W")
    for name in OUR_RULES:
        bound = getattr(symupdates, name)(learning_rate=lr)
        with pytest.raises(ValueError):
            getattr(symupdates, name)([pt.ones((3, 2))])
        W.set_value(np.ones((3, 2)))
        step = pytensor.function([], [], updates=bound([pt.ones((3, 2))], [W]))
        step()
        np.testing.assert_array_equal(W.get_value(), np.ones((3, 2)))
        lr.set_value(0.1)
        step()
        assert np.all(W.get_value() < 1), name
        lr.set_value(0.0)


@pytest.mark.parametrize(
    "rule,kwargs,error,match",
    [
        ("muon", {}, ValueError, "fallback"),
        ("muon", {"fallback": "adam"}, TypeError, "fallback"),
        ("muon", {"fallback": symupdates.sgd(learning_rate=0.1), "adjust_lr_fn": "none"}, ValueError, "adjust_lr_fn"),
        ("muon", {"fallback": symupdates.sgd(learning_rate=0.1), "ns_steps": 100}, ValueError, "ns_steps"),
        ("muon", {"fallback": symupdates.sgd(learning_rate=0.1), "ns_coefficients": (3.0, -3.0)}, ValueError,
         "ns_coefficients"),
        ("muon", {"fallback": symupdates.sgd(learning_rate=0.1), "fan_out_axis": 2}, ValueError, "fan_out_axis"),
        ("muon", {"fallback": symupdates.sgd(learning_rate=0.1), "nesterov": 1}, TypeError, "nesterov"),
        ("adafactor", {"beta2_decay": 0.5}, ValueError, "beta2_decay"),
        ("adafactor", {"min_dim_size_to_factor": 2.5}, TypeError, "min_dim_size_to_factor"),
        ("adafactor", {"relative_step": "no"}, TypeError, "relative_step"),
        ("adafactor", {"epsilon1": "tiny"}, TypeError, "epsilon1"),
        ("sm3", {"momentum": [0.9]}, TypeError, "momentum"),
    ],
)
def test_bad_arguments_are_refused_when_building(rule, kwargs, error, match):
    W = pytensor.shared(np.ones((2, 2)), name="W")
    b = pytensor.shared(np.ones(2), name="b")
    with pytest.raises(error, match=match):
        getattr(symupdates, rule)([pt.ones((2, 2)), pt.ones(2)], [W, b], **kwargs)
    assert np.all(W.get_value() == 1) and np.all(b.get_value() == 1)
