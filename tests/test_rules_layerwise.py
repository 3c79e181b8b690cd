"""LAMB, LARS, NovoGrad and Fromage: switches, masks, dtypes, state and errors.

Their references are optax's golden trajectories (torch.optim has none of
these rules), in the table of tests/optimizers.py (source
``optax_layerwise``: parameters of shapes (), (5,), (3, 4), (2, 3, 2), 25
steps), run by tests/test_references.py.  Cases cover every switch and mask,
float32, and parameters that start at zero (the trust ratio's convention at
a zero norm); the tests here read those cases from the table.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import optimizers
import symupdates
from harness import assert_trajectories_close, load_trajectory, run_rule, run_steps

OUR_RULES = list(symupdates.rules.layerwise.__all__)
RTOL, ATOL = 1e-11, 1e-13


def ours(name, problem=None, **extra):
    case = optimizers.case("optax_layerwise", name)
    return run_rule(getattr(symupdates, case.rule), problem or case.problem(), **{**case.ours, **extra})


def max_difference(a, b):
    return max(float(np.max(np.abs(x - y))) for s, r in zip(a, b) for x, y in zip(s, r))


# ---------------------------------------------------------------------------
# registry and anchors


def test_every_rule_is_registered_with_its_optax_anchor():
    for name in OUR_RULES:
        assert symupdates.RULES[name] is getattr(symupdates, name)
        assert list(symupdates.RULES[name].anchors) == ["optax.%s" % name]


#: (case, arguments that must NOT reproduce it): every switch and mask matters.
WRONG = [
    ("lamb_decay_mask", {"weight_decay_mask": None}),
    ("lamb_decay_mask", {"epsilon_root": 0.0}),
    ("lamb_zero_params", {"learning_rate": 0.011}),
    ("lars_nesterov_masks", {"nesterov": False}),
    ("lars_nesterov_masks", {"weight_decay_mask": None}),
    ("lars_nesterov_masks", {"trust_ratio_mask": None}),
    ("lars_nesterov_masks", {"epsilon": 0.0}),
    ("novograd_decay", {"epsilon_root": 0.0}),
    ("novograd_decay", {"weight_decay": 0.0}),
    ("fromage_min_norm", {"min_norm": 1e-6}),
]


@pytest.mark.parametrize("name,wrong", WRONG)
def test_wrong_argument_is_detected(name, wrong):
    assert max_difference(ours(name, **wrong), load_trajectory("optax_layerwise_" + name)) > 1e-9


def test_trust_ratio_is_one_at_a_zero_norm():
    # LARS's ratio is proportional to ||param||: a parameter starting at 0
    # would never move with ratio 0; optax (and this rule) use 1 instead.
    golden = load_trajectory("optax_layerwise_lars_zero_params")
    assert np.all(golden[0][1] != 0) and np.all(golden[0][3] != 0)
    assert_trajectories_close(ours("lars_zero_params"), golden, rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------------------
# dtypes, state, errors


@pytest.mark.parametrize("rule", OUR_RULES)
def test_float32_parameters_stay_float32(rule):
    assert pytensor.config.floatX == "float64"
    case = optimizers.case("optax_layerwise", "%s_float32" % rule)
    _, updates, params = run_rule(getattr(symupdates, rule), dict(case.problem(), steps=1), return_updates=True,
                                  **case.ours)
    for var, expr in updates.items():
        assert expr.type == var.type, var.name
        assert var.dtype == ("int64" if var.name.endswith(".t") else "float32"), var.name


def test_state_names():
    W = pytensor.shared(np.zeros((2, 3)), name="W")
    b = pytensor.shared(np.zeros(3), name="b")
    grads = [pt.zeros((2, 3)), pt.zeros(3)]

    def names(rule):
        return [v.name for v in getattr(symupdates, rule)(grads, [W, b])]

    assert names("lamb") == ["W.lamb.m", "W.lamb.v", "W", "b.lamb.m", "b.lamb.v", "b", "lamb.t"]
    assert names("lars") == ["W.lars.velocity", "W", "b.lars.velocity", "b"]
    assert names("novograd") == ["W.novograd.m", "W.novograd.nu", "W", "b.novograd.m", "b.novograd.nu", "b",
                                 "novograd.t"]
    assert names("fromage") == ["W", "b"]
    nu = [v for v in symupdates.novograd(grads, [W, b]) if v.name.endswith(".nu")]
    assert [v.get_value().shape for v in nu] == [(), ()]


def _run(rule, kwargs, problem, start, stop, state=None, values=None):
    """Steps ``start..stop-1`` on fresh variables, optionally restored first."""
    return run_steps(getattr(symupdates, rule), problem, start, stop, state, values, **kwargs)[:2]


@pytest.mark.parametrize("name", ["lamb_decay_mask", "lars_nesterov_masks", "novograd_decay"])
def test_state_round_trip_continues_bit_for_bit(name):
    case = optimizers.case("optax_layerwise", name)
    problem = case.problem()
    straight, _ = _run(case.rule, case.ours, problem, 0, 20)
    halfway, state = _run(case.rule, case.ours, problem, 0, 8)
    resumed, _ = _run(case.rule, case.ours, problem, 8, 20, state=state, values=halfway)
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a, b)
    # The state matters: a fresh state would not continue the same way.
    fresh = [np.zeros_like(s) for s in state]
    lost, _ = _run(case.rule, case.ours, problem, 8, 20, state=fresh, values=halfway)
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(straight, lost)) > 1e-9


@pytest.mark.parametrize(
    "rule,kwargs,error",
    [
        ("lamb", {"weight_decay_mask": [True]}, ValueError),
        ("lamb", {"weight_decay_mask": [True, 1]}, TypeError),
        ("lamb", {"weight_decay_mask": 3}, TypeError),
        ("lamb", {"beta1": "0.9"}, TypeError),
        ("lars", {"nesterov": "yes"}, TypeError),
        ("lars", {"trust_ratio_mask": [True, False, True]}, ValueError),
        ("lars", {"momentum": pt.vector()}, ValueError),
        ("novograd", {"weight_decay": None}, TypeError),
        ("fromage", {"min_norm": [1e-6]}, TypeError),
    ],
)
def test_bad_arguments_are_refused_when_building(rule, kwargs, error):
    W = pytensor.shared(np.ones(3), name="W")
    b = pytensor.shared(np.ones(2), name="b")
    with pytest.raises(error):
        getattr(symupdates, rule)([pt.ones(3), pt.ones(2)], [W, b], **kwargs)
    assert np.all(W.get_value() == 1)


def test_masks_accept_a_predicate():
    W = pytensor.shared(np.ones((2, 2)), name="W")
    b = pytensor.shared(np.ones(2), name="b")
    grads = [pt.zeros((2, 2)), pt.zeros(2)]
    # Zero gradients: only the weight decay moves a parameter.
    updates = symupdates.lamb(grads, [W, b], learning_rate=0.1, weight_decay=0.5,
                              weight_decay_mask=lambda p: p.ndim > 1)
    pytensor.function([], [], updates=updates)()
    assert np.all(W.get_value() < 1) and np.all(b.get_value() == 1)
