"""Adafactor, Muon and SM3: switches, dtypes, state and errors.

Their reference cases are in the table of tests/optimizers.py and run in
tests/test_references.py: torch.optim.Adafactor and torch.optim.Muon
(golden trajectories, and torch live), optax.adafactor, optax.contrib.muon
and optax.sm3 (golden trajectories), and torch's Muon code transcribed to
NumPy (tests/transcriptions.py, from torch/optim/_muon.py) in float64:
torch itself runs the Newton-Schulz iteration in bfloat16, so torch's own
numbers can only be matched to bfloat16's precision, and the transcription
checks the formula at float64's.  The tests here read their cases from the
table.

Adafactor and SM3 run on parameters of shapes (), (5,), (3, 4), (2, 3, 2),
(5, 3, 2); Muon on matrices, and with a fallback rule for the others.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import optimizers
import symupdates
from harness import assert_trajectories_close, load_trajectory, numpy_trajectory, run_rule, run_steps
from transcriptions import torch_muon

RTOL, ATOL = 1e-11, 1e-13
RTOL32, ATOL32 = 2e-4, 2e-5
SOURCES = {"torch": "torch_matrix", "optax": "optax_layerwise"}


def case_of(source, name):
    return optimizers.case(SOURCES[source], name)


def golden(source, name):
    return load_trajectory(case_of(source, name).file_name)


def ours(source, name, problem=None, **extra):
    case = case_of(source, name)
    return run_rule(getattr(symupdates, case.rule), problem or case.problem(), **case.arguments(**extra))


def max_difference(a, b):
    return max(float(np.max(np.abs(x - y))) for s, r in zip(a, b) for x, y in zip(s, r))


def assert_within_bfloat16(case, trajectory, reference):
    """torch's Muon orthogonalises in bfloat16: its matrices within 0.6 lr, the
    fallback's parameters within float64's precision (optimizers.BFLOAT16)."""
    shapes = case.shapes
    matrices = [i for i, s in enumerate(shapes) if len(s) == 2]
    others = [i for i, s in enumerate(shapes) if len(s) != 2]
    pick = lambda traj, idx: [[step[i] for i in idx] for step in traj]  # noqa: E731
    assert_trajectories_close(pick(trajectory, matrices), pick(reference, matrices), rtol=0,
                              atol=0.6 * case.reference[1].get("lr", 1e-3))
    if others:
        assert_trajectories_close(pick(trajectory, others), pick(reference, others), rtol=RTOL, atol=ATOL)


def test_optax_adafactor_decay_is_float32():
    # The looser tolerance of OPTAX_FLOAT32_DECAY is needed and sufficient:
    # with the decay rate in float64 (optax's own transforms otherwise), the
    # rule matches optax at float64 precision.
    for name, exact in [("adafactor_default", "adafactor_float64_decay"),
                        ("adafactor_factored", "adafactor_float64_decay_factored")]:
        assert max_difference(golden("optax", name), golden("optax", exact)) > 1e-9
        assert case_of("optax", name).ours == case_of("optax", exact).ours
        assert_trajectories_close(ours("optax", exact), golden("optax", exact), rtol=RTOL, atol=ATOL)


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


#: torch's Muon cases with a transcription of torch's formula (its fallback is torch's SGD;
#: AdamW's is checked by the golden and live tests)
TRANSCRIBED = [case for case in optimizers.TRANSCRIBED if case.reference[0] is torch_muon]


def transcription_trajectory(case, dtype=None):
    step, init_state = case.transcription(dtype)
    return numpy_trajectory(step, case.problem(dtype), init_state)


@pytest.mark.parametrize("case", TRANSCRIBED, ids=[case.case for case in TRANSCRIBED])
def test_muon_transcription_is_torch_up_to_bfloat16(case):
    # The transcription is torch up to bfloat16: it is what the tolerance of the golden tests measures.
    torch_case = case_of("torch", case.case[len("torch_"):])
    assert (torch_case.ours, torch_case.shapes, torch_case.fallback) == (case.ours, case.shapes, case.fallback)
    assert_within_bfloat16(torch_case, transcription_trajectory(case), golden("torch", torch_case.case))


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
    case = case_of(source, name)
    problem = case.problem("float32")
    trajectory, updates, _ = run_rule(getattr(symupdates, case.rule), problem, return_updates=True, **case.ours)
    for var, expr in updates.items():
        assert expr.type == var.type, var.name
        assert var.dtype == ("int64" if var.name.endswith(".t") else "float32"), var.name
    assert all(p.dtype == np.float32 for step in trajectory for p in step)
    if case.rule == "muon":
        reference = transcription_trajectory(optimizers.case("numpy", "torch_" + name), "float32")
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
    case = case_of(source, name)
    return run_steps(getattr(symupdates, case.rule), case.problem(), start, stop, state, values, **case.ours)[:2]


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
