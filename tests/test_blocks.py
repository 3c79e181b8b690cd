"""Blocks' anchors (``blocks.algorithms.*``) against the numbers of Blocks' own tests.

Reference: mila-iqia/blocks, tests/algorithms/test_algorithms.py (master
c69c2dc2).  Each Blocks test takes ``a = [3, 4]``, ``cost = sum(a**2)``
(gradient ``2a``), calls the step function three times, optionally setting
``a`` to a new value before the second and third call, and checks the step
each call computes; Blocks' steps are not applied to ``a`` by those tests.
Here the rule updates ``a``, so the step is ``a`` before minus ``a`` after,
and ``a`` is set back to the test's value before every call.  Tolerances
are Blocks' (``assert_allclose``'s default ``rtol=1e-7`` unless the test
says otherwise).
"""

import numpy as np
import pytensor
import pytest

import symupdates

#: test -> (rule, anchor, hyperparameters of the Blocks test, values of a per call, Blocks' steps, rtol)
BLOCKS_TESTS = {
    "test_momentum": (
        "momentum", "blocks.algorithms.Momentum", {"learning_rate": 0.1, "momentum": 0.5},
        [[3, 4]] * 3, [[0.6, 0.8], [0.9, 1.2], [1.05, 1.4]], 1e-7,
    ),
    "test_adadelta": (
        "adadelta", "blocks.algorithms.AdaDelta", {"rho": 0.5, "epsilon": 1e-7},
        [[3, 4]] * 3, [[0.00044721, 0.00044721], [0.0005164, 0.0005164], [0.00056904, 0.00056904]], 1e-5,
    ),
    "test_rmsprop": (
        "rmsprop", "blocks.algorithms.RMSProp", {"learning_rate": 0.1, "rho": 0.5, "max_scaling": 1e5},
        [[3, 4], [2, 3], [1, 1.5]], [[0.141421356, 0.141421356], [0.09701425, 0.102899151], [0.06172134, 0.064699664]],
        1e-7,
    ),
    "test_basicrmsprop": (  # BasicRMSProp is RMSProp with learning_rate 1
        "rmsprop", "blocks.algorithms.RMSProp", {"rho": 0.5, "max_scaling": 1e5},
        [[3, 4], [2, 3], [1, 1.5]], [[1.41421356, 1.41421356], [0.9701425, 1.02899151], [0.6172134, 0.64699664]],
        1e-7,
    ),
    "test_adam": (
        "adam", "blocks.algorithms.Adam", {},
        [[3, 4], [2, 3], [1, 1.5]], [[0.002, 0.002], [0.0019407, 0.00196515], [0.00178724, 0.0018223]], 1e-4,
    ),
    "test_adagrad": (
        "adagrad", "blocks.algorithms.AdaGrad", {},
        [[3, 4], [2, 3], [1, 1.5]], [[0.002, 0.002], [0.0011094, 0.0012], [0.00053452, 0.0005747]], 1e-4,
    ),
}


def blocks_steps(rule, anchor, hyper, values):
    a = pytensor.shared(np.array(values[0], dtype="float64"), name="a")
    cost = (a**2).sum()
    kwargs = dict(symupdates.RULES[rule].anchors[anchor], **hyper)
    step = pytensor.function([], [], updates=symupdates.RULES[rule](cost, [a], **kwargs))
    steps = []
    for value in values:
        a.set_value(np.array(value, dtype="float64"))
        step()
        steps.append(np.array(value) - a.get_value())
    return steps


@pytest.mark.parametrize("test", sorted(BLOCKS_TESTS))
def test_blocks_numbers(test):
    rule, anchor, hyper, values, expected, rtol = BLOCKS_TESTS[test]
    for got, want in zip(blocks_steps(rule, anchor, hyper, values), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=rtol)


def test_blocks_scale_is_sgd():
    # Blocks has no test of Scale; its docstring's formula: step = learning_rate * gradient.
    (got,) = blocks_steps("sgd", "blocks.algorithms.Scale", {"learning_rate": 0.1}, [[3, 4]])
    np.testing.assert_allclose(got, [0.6, 0.8], rtol=1e-12)


def test_max_scaling_bounds_the_scaling():
    # A tiny gradient: RMSprop would divide it by its own RMS and take a full
    # learning-rate step; max_scaling lets it grow at most 1e3 times.
    a = pytensor.shared(np.array([1e-6, 1.0]), name="a")
    cost = 0.5 * (a**2).sum()
    step = pytensor.function([], [], updates=symupdates.rmsprop(cost, [a], 1.0, rho=0.0, epsilon=0.0, max_scaling=1e3))
    step()
    np.testing.assert_allclose(a.get_value(), [1e-6 - 1e-6 * 1e3, 0.0], atol=1e-15)


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-1.0, ValueError), (True, TypeError), ("1e5", TypeError)])
def test_max_scaling_must_be_positive(bad, error):
    a = pytensor.shared(np.ones(2), name="a")
    with pytest.raises(error, match="max_scaling"):
        symupdates.rmsprop((a**2).sum(), [a], max_scaling=bad)


def test_anchor_keys_name_a_module_and_a_class_or_function():
    import re

    for name, rule in symupdates.RULES.items():
        for key in rule.anchors:
            assert re.fullmatch(r"[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*\.[A-Za-z_][A-Za-z_0-9]*", key), (name, key)
