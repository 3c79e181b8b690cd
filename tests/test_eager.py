"""The eager front end: symbolic rules applied to NumPy arrays, in place."""

import numpy as np
import pytest

import symupdates
from symupdates.eager import Optimizer

from harness import make_problem, numpy_grads, run_rule


def eager_trajectory(optimizer, problem, as_dict=False):
    params = [v.copy() for v in problem["init"]]
    if as_dict:
        params = {"p%d" % i: v for i, v in enumerate(params)}
    trajectory = []
    for step in range(problem["steps"]):
        values = list(params.values()) if as_dict else params
        grads = numpy_grads(problem, values, step)
        optimizer.update(params, dict(zip(params, grads)) if as_dict else grads)
        trajectory.append([v.copy() for v in (params.values() if as_dict else params)])
    return trajectory


# ---------------------------------------------------------------------------
# the same trajectory as the symbolic rule, for every rule


def _rule_case(name):
    hyper = {"learning_rate": 0.01}
    if name == "muon":
        # muon orthogonalises matrices; the other shapes go to its fallback
        hyper["fallback"] = symupdates.adam(learning_rate=0.01)
    return hyper


@pytest.mark.parametrize("name", list(symupdates.RULES))
def test_eager_trajectory_equals_symbolic_rule(name):
    problem = make_problem(steps=4)
    hyper = _rule_case(name)
    expected = run_rule(symupdates.RULES[name], problem, **hyper)
    got = eager_trajectory(Optimizer(name, **hyper), problem)
    for step, (want, have) in enumerate(zip(expected, got)):
        for i, (w, h) in enumerate(zip(want, have)):
            np.testing.assert_allclose(h, w, rtol=1e-12, atol=1e-14, err_msg="%s step %d param %d" % (name, step, i))


def test_partial_rule_and_name_give_the_same_optimizer_on_a_dict():
    problem = make_problem(steps=6)
    by_name = eager_trajectory(Optimizer("adam", learning_rate=0.05, beta1=0.8), problem, as_dict=True)
    by_partial = eager_trajectory(Optimizer(symupdates.adam(learning_rate=0.05, beta1=0.8)), problem, as_dict=True)
    by_function = eager_trajectory(Optimizer(symupdates.adam, learning_rate=0.05, beta1=0.8), problem, as_dict=True)
    for a, b, c in zip(by_name, by_partial, by_function):
        for x, y, z in zip(a, b, c):
            np.testing.assert_array_equal(x, y)
            np.testing.assert_array_equal(x, z)


def numpy_adam_lasagne(problem, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """Kingma and Ba's Adam, epsilon-hat form (Lasagne's), transcribed from the paper."""
    params = [v.copy() for v in problem["init"]]
    m = [np.zeros_like(v) for v in params]
    v = [np.zeros_like(v) for v in params]
    trajectory = []
    for step in range(problem["steps"]):
        t = step + 1
        grads = numpy_grads(problem, params, step)
        a_t = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
        for i, g in enumerate(grads):
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g**2
            params[i] = params[i] - a_t * m[i] / (np.sqrt(v[i]) + eps)
        trajectory.append([p.copy() for p in params])
    return trajectory


def test_eager_adam_matches_the_published_formula():
    problem = make_problem(steps=10)
    got = eager_trajectory(Optimizer("adam", learning_rate=0.1), problem)
    for have, want in zip(got, numpy_adam_lasagne(problem, 0.1)):
        for h, w in zip(have, want):
            np.testing.assert_allclose(h, w, rtol=1e-12, atol=1e-14)


def test_float32_parameters_stay_float32():
    problem = make_problem(steps=3, dtype="float32")
    params = [v.copy() for v in problem["init"]]
    optimizer = Optimizer("rmsprop", learning_rate=0.01)
    for step in range(3):
        optimizer.update(params, [g.astype("float64") for g in numpy_grads(problem, params, step)])
    assert all(p.dtype == np.float32 for p in params)
    expected = run_rule(symupdates.rmsprop, problem, learning_rate=0.01)[-1]
    for p, w in zip(params, expected):
        np.testing.assert_allclose(p, w, rtol=1e-6)


# ---------------------------------------------------------------------------
# in place, 0-d, numbers


def test_arrays_are_updated_in_place():
    weights = np.array([[1.0, 2.0], [3.0, 4.0]])
    scalar = np.array(2.0)
    alias = weights[0]  # a view sees the change too
    params = {"W": weights, "s": scalar}
    Optimizer("sgd", learning_rate=0.5).update(params, {"W": np.ones((2, 2)), "s": 4.0})
    assert params["W"] is weights and params["s"] is scalar
    np.testing.assert_array_equal(weights, [[0.5, 1.5], [2.5, 3.5]])
    np.testing.assert_array_equal(alias, [0.5, 1.5])
    assert scalar.shape == () and scalar[()] == 0.0


def test_list_of_arrays_updated_in_place():
    a, b = np.zeros(3), np.ones((2, 2), dtype=np.float32)
    params = [a, b]
    Optimizer("sgd", learning_rate=1.0).update(params, [np.ones(3), np.ones((2, 2))])
    assert params[0] is a and params[1] is b
    np.testing.assert_array_equal(a, -np.ones(3))
    np.testing.assert_array_equal(b, np.zeros((2, 2)))


def test_python_floats_in_a_dict_are_replaced_by_floats():
    params = {"W": 0.0, "b": np.float32(1.0)}
    optimizer = Optimizer("sgd", learning_rate=0.1)
    optimizer.update(params, {"W": 2.0, "b": 1.0})
    assert type(params["W"]) is float and params["W"] == pytest.approx(-0.2, abs=1e-15)
    assert type(params["b"]) is np.float32 and params["b"] == np.float32(0.9)
    optimizer.update(params, {"W": np.float64(1.0), "b": 1.0})
    assert params["W"] == pytest.approx(-0.3, abs=1e-15)


def test_python_floats_in_a_list_are_replaced():
    params = [1.0, np.zeros(2)]
    Optimizer("sgd", learning_rate=1.0).update(params, [0.5, np.ones(2)])
    assert params[0] == 0.5 and type(params[0]) is float


@pytest.mark.parametrize(
    "params, grads, message",
    [
        ((1.0, np.zeros(2)), (1.0, np.zeros(2)), "tuple"),
        ({"W": 0}, {"W": 1.0}, "integer"),
        ({"W": np.zeros(2, dtype=int)}, {"W": np.zeros(2)}, "floating-point"),
        ({"W": "x"}, {"W": 1.0}, "float"),
    ],
)
def test_unusable_parameters_are_refused(params, grads, message):
    with pytest.raises((TypeError, ValueError), match=message):
        Optimizer("sgd", learning_rate=0.1).update(params, grads)


def test_read_only_array_refused():
    w = np.zeros(2)
    w.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        Optimizer("sgd", learning_rate=0.1).update({"w": w}, {"w": np.ones(2)})


# ---------------------------------------------------------------------------
# errors: nothing changes


def _trained(steps=2):
    params = {"W": np.ones((2, 3)), "b": np.zeros(3)}
    optimizer = Optimizer("adam", learning_rate=0.1)
    for _ in range(steps):
        optimizer.update(params, {"W": np.full((2, 3), 0.5), "b": np.ones(3)})
    return optimizer, params


@pytest.mark.parametrize(
    "change, grads, message",
    [
        (lambda p: p.pop("b"), None, "keys changed"),
        (lambda p: p.update(c=np.zeros(1)), None, "keys changed"),
        (lambda p: p.update(b=np.zeros(4)), None, "changed from"),
        (lambda p: p.update(b=np.zeros(3, dtype=np.float32)), None, "changed from"),
        (lambda p: None, {"W": np.ones((2, 3)), "b": np.ones(4)}, "shape"),
        (lambda p: None, {"W": np.ones((2, 3))}, "keys of params"),
        (lambda p: None, [np.ones((2, 3)), np.ones(3)], "keys of params"),
    ],
)
def test_changed_structure_raises_and_changes_nothing(change, grads, message):
    optimizer, params = _trained()
    before = {k: v.copy() for k, v in params.items()}
    state = optimizer.get_state_values()
    originals = dict(params)
    change(params)
    grads = grads if grads is not None else {k: np.ones(np.shape(v)) for k, v in params.items()}
    with pytest.raises(ValueError, match=message):
        optimizer.update(params, grads)
    for key in set(before) & set(params):
        if params[key] is originals[key]:
            np.testing.assert_array_equal(params[key], before[key])
    for old, new in zip(state, optimizer.get_state_values()):
        np.testing.assert_array_equal(old, new)


def test_sequence_length_change_raises():
    optimizer = Optimizer("sgd", learning_rate=0.1)
    optimizer.update([np.zeros(2)], [np.ones(2)])
    with pytest.raises(ValueError, match="built for 1 parameters, got 2"):
        optimizer.update([np.zeros(2), np.zeros(2)], [np.ones(2), np.ones(2)])


def test_reset_allows_new_parameters():
    optimizer, _ = _trained()
    optimizer.reset()
    other = {"x": np.zeros(5)}
    optimizer.update(other, {"x": np.ones(5)})
    assert optimizer.state_names() == ["x.adam.m", "x.adam.v", "adam.t"]
    np.testing.assert_allclose(other["x"], -0.1 * np.ones(5), rtol=1e-6)


def test_bad_rules_are_refused_at_construction():
    with pytest.raises(ValueError, match="unknown rule 'adamm'"):
        Optimizer("adamm")
    with pytest.raises(TypeError, match="learning_rate"):
        Optimizer("sign_sgd")  # sign_sgd has no default learning rate
    with pytest.raises(TypeError, match="bogus"):
        Optimizer("adam", bogus=1.0)
    with pytest.raises(TypeError, match="not a registered rule"):
        Optimizer(lambda grads, params: {}, learning_rate=0.1)
    with pytest.raises(TypeError, match="rule must be"):
        Optimizer(3.0)


def test_custom_callable_rule():
    def half_step(grads, params):
        return symupdates.sgd(grads, params, 0.5)

    w = np.array([1.0])
    Optimizer(half_step).update([w], [np.array([1.0])])
    np.testing.assert_array_equal(w, [0.5])


# ---------------------------------------------------------------------------
# state


def test_state_round_trip_continues_bit_for_bit():
    problem = make_problem(steps=10)
    optimizer = Optimizer("adam", learning_rate=0.05)
    params = [v.copy() for v in problem["init"]]
    for step in range(5):
        optimizer.update(params, numpy_grads(problem, params, step))
    saved_params = [p.copy() for p in params]
    saved_state = optimizer.get_state_values()
    for step in range(5, 10):
        optimizer.update(params, numpy_grads(problem, params, step))

    restored = Optimizer("adam", learning_rate=0.05)
    again = [p.copy() for p in saved_params]
    restored.build(again)
    restored.set_state_values(saved_state)
    for step in range(5, 10):
        restored.update(again, numpy_grads(problem, again, step))
    for a, b in zip(params, again):
        np.testing.assert_array_equal(a, b)
    assert restored.state_names()[-1] == "adam.t"
    assert int(restored.get_state_values()[-1]) == 10


def test_state_errors():
    optimizer = Optimizer("adam", learning_rate=0.05)
    with pytest.raises(ValueError, match="no state yet"):
        optimizer.get_state_values()
    optimizer.build({"w": np.zeros(3)})
    values = optimizer.get_state_values()
    with pytest.raises(ValueError, match="shape"):
        optimizer.set_state_values([np.zeros(4), values[1], values[2]])
    with pytest.raises(ValueError, match="expected 3 state values"):
        optimizer.set_state_values(values[:2])
    np.testing.assert_array_equal(optimizer.get_state_values()[0], np.zeros(3))


def test_build_does_not_change_parameters():
    w = np.arange(3.0)
    Optimizer("adam").build([w])
    np.testing.assert_array_equal(w, np.arange(3.0))


def test_symbolic_learning_rate_changes_without_rebuilding():
    import pytensor

    lr = pytensor.shared(np.asarray(1.0), name="lr")
    w = np.zeros(1)
    optimizer = Optimizer("sgd", learning_rate=lr)
    optimizer.update([w], [np.ones(1)])
    lr.set_value(np.asarray(0.5))
    optimizer.update([w], [np.ones(1)])
    np.testing.assert_array_equal(w, [-1.5])
