"""Lasagne's compositions against NumPy transcriptions of their published formulas.

The core rules' own cases against their published formulas (the papers,
Lasagne's documentation, PyMC's ``adagrad_window``: 25 steps, defaults and
non-default hyperparameters, a few units in the last place) are the
``published_*`` cases of the table (tests/optimizers.py), run by
tests/test_references.py.  Here: apply_momentum and apply_nesterov_momentum
on top of other rules, and that the published cases exercise what they
claim to.
"""

import numpy as np
import pytest

import symupdates
import transcriptions
from harness import assert_trajectories_close, make_problem, numpy_trajectory, run_rule
from transcriptions import reference_adagrad, reference_amsgrad, reference_momentum, reference_rmsprop, reference_sgd

STEPS = 25
RTOL, ATOL = 1e-13, 1e-15


@pytest.fixture(scope="module")
def problem():
    return make_problem(steps=STEPS)


# --- transcriptions --------------------------------------------------------
# Each ``reference_<rule>(**hyper)`` returns ``(step, init_state)`` for
# harness.numpy_trajectory: step(params, grads, state, t) -> (params, state).


def run_reference(reference, problem):
    step, init_state = reference
    return numpy_trajectory(step, problem, init_state)


def reference_trajectory(problem, name, **hyper):
    return run_reference(getattr(transcriptions, "reference_" + name)(**hyper), problem)


def reference_with_momentum(inner, momentum, nesterov):
    # Lasagne's apply_momentum / apply_nesterov_momentum as documented, on
    # top of any rule: with d = updates[param] - param the step the rule
    # proposes, velocity := momentum * velocity + d and
    # param := param + velocity (classical) or param + momentum * velocity + d.
    inner_step, inner_init = inner

    def step(params, grads, state, t):
        inner_state, velocities = state
        proposed, inner_state = inner_step(params, grads, inner_state, t)
        deltas = [q - p for p, q in zip(params, proposed)]
        velocities = [momentum * v + d for v, d in zip(velocities, deltas)]
        if nesterov:
            new = [p + momentum * v + d for p, v, d in zip(params, velocities, deltas)]
        else:
            new = [p + v for p, v in zip(params, velocities)]
        return new, (inner_state, velocities)

    return step, lambda params: (inner_init(params), [np.zeros_like(p) for p in params])


def test_apply_momentum_on_rmsprop(problem):
    def rule(grads, params):
        return symupdates.apply_momentum(symupdates.rmsprop(grads, params, 0.01, rho=0.8), momentum=0.7)

    expected = run_reference(reference_with_momentum(reference_rmsprop(0.01, rho=0.8), 0.7, False), problem)
    assert_trajectories_close(run_rule(rule, problem), expected, rtol=RTOL, atol=ATOL)


def test_apply_nesterov_momentum_on_adagrad(problem):
    def rule(grads, params):
        return symupdates.apply_nesterov_momentum(symupdates.adagrad(grads, params, 0.1), momentum=0.8)

    expected = run_reference(reference_with_momentum(reference_adagrad(0.1), 0.8, True), problem)
    assert_trajectories_close(run_rule(rule, problem), expected, rtol=RTOL, atol=ATOL)


def test_apply_momentum_to_some_parameters_only(problem):
    # params= limits momentum to the listed parameters; the others keep plain sgd.
    def rule(grads, params):
        return symupdates.apply_momentum(symupdates.sgd(grads, params, 0.1), params=params[1:3], momentum=0.5)

    with_momentum = run_reference(reference_momentum(0.1, 0.5), problem)
    plain = run_reference(reference_sgd(0.1), problem)
    expected = [[s[0], m[1], m[2], s[3]] for s, m in zip(plain, with_momentum)]
    assert_trajectories_close(run_rule(rule, problem), expected, rtol=RTOL, atol=ATOL)


def test_amsgrad_maximum_takes_effect(problem):
    # With beta2 = 0.9 the raw second moment shrinks as the gradients do, so
    # the custom amsgrad case really exercises the maximum (it differs from Adam).
    hyper = {"learning_rate": 0.1, "beta1": 0.8, "beta2": 0.9, "epsilon": 1e-4}
    bites = []
    amsgrad_final = run_reference(reference_amsgrad(bites=bites, **hyper), problem)[-1]
    adam_final = reference_trajectory(problem, "adam", **hyper)[-1]
    assert sum(bites) > 0
    assert max(np.max(np.abs(a - b)) for a, b in zip(amsgrad_final, adam_final)) > 1e-3


def test_adagrad_window_forgets_old_gradients(problem):
    # With n_win=3 the window wraps around several times and differs from plain AdaGrad.
    windowed = reference_trajectory(problem, "adagrad_window", learning_rate=0.2, epsilon=0.01, n_win=3)[-1]
    plain = reference_trajectory(problem, "adagrad", learning_rate=0.2, epsilon=0.01)[-1]
    assert max(np.max(np.abs(a - b)) for a, b in zip(windowed, plain)) > 1e-2
