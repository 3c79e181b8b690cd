"""Bad input is refused when the updates are built, with a message that says what to do.

Every check here calls a rule and never compiles: the error must come from
building the updates, not from deep inside ``pytensor.function``.  Where an
error is raised, no optimizer state may have been created and no input
changed.  Every rule of the table (tests/optimizers.py, i.e. every
registered rule) is swept, with the arguments it needs to be built.  The
partial application (PyMC's idiom) and symbolic learning rates are checked
here for every rule too.
"""

from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import optimizers
import symupdates
from harness import assert_trajectories_close, make_problem, run_rule

RULES = list(optimizers.OPTIMIZERS)

arguments = optimizers.arguments  # what each rule needs to be built (Muon: a fallback rule), built afresh


def rule(name):
    return getattr(symupdates, name)


@pytest.fixture
def params():
    return [
        pytensor.shared(np.ones((2, 3)), name="W"),
        pytensor.shared(np.zeros(3), name="b"),
    ]


def loss_of(params):
    return sum((p**2).sum() for p in params)


# --- parameters ------------------------------------------------------------


@pytest.mark.parametrize("name", RULES)
def test_parameter_that_is_not_shared(name, params, no_new_shared):
    x = pt.vector("x")
    with pytest.raises(ValueError, match=r"params\[1\].*not a shared variable.*pytensor\.shared"):
        rule(name)(loss_of(params) + x.sum(), [params[0], x], **arguments(name))


@pytest.mark.parametrize("name", RULES)
def test_numpy_array_as_parameter(name, params, no_new_shared):
    with pytest.raises(ValueError, match="pytensor.shared"):
        rule(name)([pt.zeros(3)], [np.zeros(3)], **arguments(name))


@pytest.mark.parametrize("name", RULES)
def test_single_parameter_not_in_a_list(name, params, no_new_shared):
    with pytest.raises(TypeError, match=r"list.*\[param\]"):
        rule(name)(loss_of(params), params[0], **arguments(name))


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "complex128"])
def test_non_float_parameter(dtype, params, no_new_shared):
    counter = pytensor.shared(np.zeros(3, dtype=dtype), name="counter")
    no_new_shared.clear()
    with pytest.raises(TypeError, match=r"counter.*has dtype %s.*float" % dtype):
        symupdates.adam([pt.zeros(3), pt.zeros(3)], [params[1], counter])


@pytest.mark.parametrize("name", RULES)
def test_parameter_listed_twice(name, params, no_new_shared):
    with pytest.raises(ValueError, match=r"params\[2\] \(W\) is the same variable as params\[0\].*once"):
        rule(name)(loss_of(params), [params[0], params[1], params[0]], **arguments(name))


@pytest.mark.parametrize("name", RULES)
def test_empty_parameter_list(name, no_new_shared):
    with pytest.raises(ValueError, match="params is empty"):
        rule(name)(pt.constant(0.0), [], **arguments(name))


# --- loss and gradients ----------------------------------------------------


@pytest.mark.parametrize("name", RULES)
def test_gradient_list_of_wrong_length(name, params, no_new_shared):
    with pytest.raises(ValueError, match="got 1 gradients for 2 parameters"):
        rule(name)([pt.zeros((2, 3))], params, **arguments(name))
    with pytest.raises(ValueError, match="got 3 gradients for 2 parameters"):
        rule(name)((pt.zeros((2, 3)), pt.zeros(3), pt.zeros(3)), params, **arguments(name))


@pytest.mark.parametrize("name", RULES)
def test_gradient_of_wrong_dimensions(name, params, no_new_shared):
    with pytest.raises(ValueError, match="gradient 1 has 2 dimensions but its parameter b has 1"):
        rule(name)([pt.zeros((2, 3)), pt.zeros((1, 3))], params, **arguments(name))


@pytest.mark.parametrize("name", RULES)
def test_non_scalar_loss(name, params, no_new_shared):
    with pytest.raises(ValueError, match=r"loss must be a scalar.*1 dimensions.*mean\(\)"):
        rule(name)(params[1] ** 2, params, **arguments(name))


@pytest.mark.parametrize("name", RULES)
def test_tuple_of_gradients_is_a_list_of_gradients(name):
    def run(container):
        W = pytensor.shared(np.arange(6.0).reshape(2, 3) / 7, name="W")
        b = pytensor.shared(np.array([0.5, -1.0, 2.0]), name="b")
        grads = container([2 * W, b - 1])
        updates = rule(name)(grads, [W, b], **arguments(name))
        step = pytensor.function([], [], updates=updates)
        step()
        step()
        return W.get_value(), b.get_value()

    from_tuple, from_list = run(tuple), run(list)
    for a, b in zip(from_tuple, from_list):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(from_list[0], np.arange(6.0).reshape(2, 3) / 7)  # it moved


def test_get_or_compute_grads_accepts_a_tuple(params):
    grads = (params[0] * 2, params[1] + 1)
    assert all(g is h for g, h in zip(symupdates.get_or_compute_grads(grads, params), grads))


# --- hyperparameters -------------------------------------------------------


@pytest.mark.parametrize("name", RULES)
def test_non_scalar_symbolic_hyperparameter(name, params, no_new_shared):
    with pytest.raises(ValueError, match="learning_rate must be a scalar.*1 dimensions"):
        rule(name)(loss_of(params), params, **{**arguments(name), "learning_rate": pt.vector("lr")})


def test_non_scalar_shared_hyperparameter(params):
    lr = pytensor.shared(np.array([0.1, 0.2]), name="lr")
    with pytest.raises(ValueError, match="learning_rate must be a scalar"):
        symupdates.adam(loss_of(params), params, learning_rate=lr)
    beta = pytensor.shared(np.ones((1, 1)) * 0.9)
    with pytest.raises(ValueError, match="beta1 must be a scalar"):
        symupdates.adam(loss_of(params), params, beta1=beta)


@pytest.mark.parametrize("bad", ["0.1", None, [0.1], np.array([0.1, 0.2]), True])
def test_hyperparameter_that_is_not_a_number(bad, params, no_new_shared):
    with pytest.raises(TypeError, match="epsilon must be a finite number in \\[0, inf\\), got"):
        symupdates.rmsprop(loss_of(params), params, epsilon=bad)


def test_momentum_hyperparameter_checked_before_state(params, no_new_shared):
    with pytest.raises(ValueError, match="momentum must be a scalar"):
        symupdates.momentum(loss_of(params), params, 0.1, momentum=pt.matrix("mu"))


@pytest.mark.parametrize("n_win, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError), ("10", TypeError),
                                          (True, TypeError)])
def test_adagrad_window_size(n_win, error, params, no_new_shared):
    with pytest.raises(error, match=r"n_win.*an integer in \[1, inf\)"):
        symupdates.adagrad_window(loss_of(params), params, n_win=n_win)


def test_norm_constraint_non_scalar_max_norm(params):
    with pytest.raises(ValueError, match="max_norm must be a scalar"):
        symupdates.norm_constraint(params[0], pt.vector("m"))
    with pytest.raises(ValueError, match="tensor_vars is empty"):
        symupdates.total_norm_constraint([], 1.0)


# --- apply_momentum and apply_nesterov_momentum ------------------------------


@pytest.mark.parametrize("apply", [symupdates.apply_momentum, symupdates.apply_nesterov_momentum])
def test_apply_momentum_to_a_parameter_without_update(apply, params):
    updates = symupdates.sgd(loss_of(params[:1]), params[:1], 0.1)
    before = list(updates.items())
    with pytest.raises(ValueError, match=r"b has no update in updates"):
        apply(updates, params=params, momentum=0.9)
    assert list(updates.items()) == before  # the caller's dict is untouched


@pytest.mark.parametrize("apply", [symupdates.apply_momentum, symupdates.apply_nesterov_momentum])
def test_apply_momentum_leaves_its_input_unchanged(apply, params):
    updates = symupdates.sgd(loss_of(params), params, 0.1)
    before = list(updates.items())
    result = apply(updates, momentum=0.5)
    assert list(updates.items()) == before
    assert len(result) == 2 * len(params)


# --- partial application (PyMC) ----------------------------------------------


@pytest.mark.parametrize("name", RULES)
def test_hyperparameters_only_give_a_function(name, params):
    optimizer = rule(name)(**arguments(name))
    assert callable(optimizer)
    updates = optimizer(loss_of(params), params)
    assert isinstance(updates, OrderedDict)
    assert all(p in updates for p in params)


@pytest.mark.parametrize("name", RULES)
def test_partial_application_gives_the_trajectory_of_the_direct_call(name):
    hyper = dict(arguments(name), learning_rate=0.01)
    shape = optimizers.OPTIMIZERS[name].probe_shape
    W = pytensor.shared(np.ones(shape), name="W")
    assert W in rule(name)(**hyper)([pt.ones(shape)], [W])
    with pytest.raises(ValueError):
        rule(name)([pt.ones(shape)])
    partial = rule(name)(**hyper)
    assert_trajectories_close(
        run_rule(lambda g, p: partial(g, p), make_problem(steps=3)),
        run_rule(rule(name), make_problem(steps=3), **hyper),
        rtol=0, atol=0,
    )


@pytest.mark.parametrize("name", RULES)
def test_symbolic_learning_rate_changed_without_recompiling(name):
    # A shared learning rate, given to the rule directly and by partial application.
    lr = pytensor.shared(0.0)
    shape = optimizers.OPTIMIZERS[name].probe_shape
    direct, partial = pytensor.shared(np.ones(shape), name="W"), pytensor.shared(np.ones(shape), name="V")
    hyper = dict(arguments(name), learning_rate=lr)
    updates = rule(name)([pt.ones(shape)], [direct], **hyper)
    updates.update(rule(name)(**hyper)([pt.ones(shape)], [partial]))
    step = pytensor.function([], [], updates=updates)
    step()
    before = [W.get_value() for W in (direct, partial)]
    if not optimizers.OPTIMIZERS[name].steps_at_learning_rate_0:
        for value in before:
            np.testing.assert_array_equal(value, np.ones(shape))
    lr.set_value(0.1)
    step()
    for W, value in zip((direct, partial), before):
        assert np.all(W.get_value() < value), (name, W.name)


def test_partial_application_computes_the_same_updates():
    def run(make_updates):
        W = pytensor.shared(np.array([1.0, -2.0, 0.5]), name="W")
        step = pytensor.function([], [], updates=make_updates((W**2).sum(), [W]))
        for _ in range(3):
            step()
        return W.get_value()

    direct = run(lambda loss, ps: symupdates.adam(loss, ps, learning_rate=0.1, beta1=0.5))
    partial = run(symupdates.adam(learning_rate=0.1, beta1=0.5))
    positional = run(lambda loss, ps: symupdates.adam(loss, ps, 0.1, 0.5))
    np.testing.assert_array_equal(partial, direct)
    np.testing.assert_array_equal(positional, direct)
    default = run(symupdates.adam())
    assert not np.array_equal(default, direct)  # the hyperparameters were used


@pytest.mark.parametrize("name", RULES)
def test_exactly_one_of_loss_and_params(name, params, no_new_shared):
    with pytest.raises(ValueError, match="give both loss_or_grads and params"):
        rule(name)(loss_of(params), **arguments(name))
    with pytest.raises(ValueError, match="give both loss_or_grads and params"):
        rule(name)(params=params, **arguments(name))
    with pytest.raises(ValueError, match="give both loss_or_grads and params"):
        rule(name)(None, params, **arguments(name))


@pytest.mark.parametrize("name", RULES)
def test_unknown_hyperparameter_name_at_once(name, params, no_new_shared):
    with pytest.raises(TypeError, match="learnig_rate"):
        rule(name)(learnig_rate=0.1)  # partial application: refused now, not when applied
    with pytest.raises(TypeError, match="learnig_rate"):
        rule(name)(loss_of(params), params, learnig_rate=0.1)


def test_partial_application_needs_required_hyperparameters():
    # sign_sgd's learning rate has no default (optax's signature), so even
    # the function of (loss, params) cannot be made without it.
    with pytest.raises(TypeError, match="learning_rate"):
        symupdates.sign_sgd()
    assert callable(symupdates.sign_sgd(learning_rate=0.01))


def test_partial_application_checks_hyperparameter_values_when_applied(params):
    optimizer = symupdates.adam(learning_rate=pt.vector("lr"))
    with pytest.raises(ValueError, match="learning_rate must be a scalar"):
        optimizer(loss_of(params), params)


def test_a_second_rule_of_a_registered_name_is_refused():
    def adam(loss_or_grads, params, learning_rate=0.1):
        return {}

    before = dict(symupdates.RULES)
    with pytest.raises(ValueError, match="'adam' is registered already"):
        symupdates.registry.update_rule(adam)
    assert symupdates.RULES == before and symupdates.RULES["adam"] is symupdates.adam
