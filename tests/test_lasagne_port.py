"""Lasagne's own tests of lasagne.updates, ported to symupdates and PyTensor.

Lasagne checked every rule against values Eben Olson computed with Torch7's
``optim`` package on a toy problem: two parameter vectors ``A`` and ``B``
starting at ``[1, 1, 1]``, loss ``f(A) + f(B)`` with
``f(X) = sum([0.1, 0.2, 0.3] * X**2)``, ten steps.  The values below are
Lasagne's (lasagne/tests/test_updates.py); the tolerance is Lasagne's too
(``np.allclose``), because Torch7 placed epsilon differently for some rules.
The norm-constraint tests follow Lasagne's, with the norms computed by NumPy.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import symupdates

#: Parameter values after ten steps, computed by Torch7's optim (Lasagne's table).
TORCH7_VALUES = {
    "sgd": [0.81707280688755, 0.6648326359915, 0.5386151140949],
    "momentum": [0.6848486952183, 0.44803321781003, 0.27431190123502],
    "nesterov_momentum": [0.67466543592725, 0.44108468114241, 0.2769002108997],
    "adagrad": [0.55373120047759, 0.55373120041518, 0.55373120039438],
    "rmsprop": [0.83205403985348, 0.83205322744821, 0.83205295664444],
    "adadelta": [0.95453237704725, 0.9545237471374, 0.95452214847397],
    "adam": [0.90034972009036, 0.90034967993061, 0.90034966654402],
    "adamax": [0.90211749000754, 0.90211748762402, 0.90211748682951],
}

#: The hyperparameters Lasagne's test used with each rule.
SETTINGS = {
    "sgd": {"learning_rate": 0.1},
    "momentum": {"learning_rate": 0.1, "momentum": 0.5},
    "nesterov_momentum": {"learning_rate": 0.1, "momentum": 0.5},
    "adagrad": {"learning_rate": 0.1},
    "rmsprop": {"learning_rate": 0.01},
    "adadelta": {},
    "adam": {"learning_rate": 0.01},
    "adamax": {"learning_rate": 0.01},
    "amsgrad": {"learning_rate": 0.01},
}

PCT_TOLERANCE = 1e-5


def toy_loss(X):
    return (np.array([0.1, 0.2, 0.3], dtype=X.dtype) * X**2).sum()


def run_toy(method, dtype, steps=10):
    A = pytensor.shared(np.ones(3, dtype=dtype), name="A")
    B = pytensor.shared(np.ones(3, dtype=dtype), name="B")
    updates = getattr(symupdates, method)(toy_loss(A) + toy_loss(B), [A, B], **SETTINGS[method])
    do_update = pytensor.function([], [], updates=updates)
    for _ in range(steps):
        do_update()
    return A, B, updates


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("method", list(TORCH7_VALUES))
def test_updates_match_torch7(method, dtype):
    A, B, _ = run_toy(method, dtype)
    assert A.get_value().dtype == dtype
    assert np.allclose(A.get_value(), B.get_value())
    assert np.allclose(A.get_value(), TORCH7_VALUES[method])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_amsgrad_equals_adam_on_the_toy_problem(dtype):
    # Lasagne had no Torch7 value for AMSGrad.  On this problem the gradients
    # shrink slowly while v grows from zero, so v never decreases, the
    # maximum never takes effect, and AMSGrad takes Adam's steps exactly:
    # Torch7's Adam values apply.
    A, B, updates = run_toy("amsgrad", dtype)
    assert np.allclose(A.get_value(), B.get_value())
    assert np.allclose(A.get_value(), TORCH7_VALUES["adam"])
    state = {var.name: var.get_value() for var in symupdates.state_variables(updates)}
    np.testing.assert_array_equal(state["A.amsgrad.v_hat"], state["A.amsgrad.v"])


def test_get_or_compute_grads():
    A = pytensor.shared(np.float64(1.0), name="A")
    B = pytensor.shared(np.float64(1.0), name="B")
    loss = A * B + B
    grads = symupdates.get_or_compute_grads(loss, [A, B])
    assert len(grads) == 2
    # A list of gradients comes back as the same expressions.
    again = symupdates.get_or_compute_grads(grads, [A, B])
    assert all(g is h for g, h in zip(again, grads))
    f = pytensor.function([], grads)
    np.testing.assert_allclose(f(), [1.0, 2.0])

    with pytest.raises(ValueError):
        symupdates.get_or_compute_grads(grads, [A])

    C = pt.scalar("C", dtype="float64")
    with pytest.raises(ValueError):
        symupdates.get_or_compute_grads(A + C, [A, C])


def compute_norms(array, norm_axes=None):
    """Lasagne's lasagne.utils.compute_norms, in NumPy."""
    if norm_axes is None:
        norm_axes = (0,) if array.ndim == 2 else tuple(range(1, array.ndim))
    return np.sqrt(np.sum(array**2, axis=tuple(norm_axes)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ndim", [2, 3])
def test_norm_constraint(ndim, dtype):
    max_norm = 0.01
    rng = np.random.default_rng(ndim)
    value = rng.normal(size=(25,) * ndim).astype(dtype)
    param = pytensor.shared(value)

    update = symupdates.norm_constraint(param, max_norm)
    assert update.type == param.type
    apply_update = pytensor.function([], [], updates=[(param, update)])
    apply_update()

    norms = compute_norms(param.get_value())
    assert np.max(norms) <= max_norm * (1 + PCT_TOLERANCE)
    # Every unit violated the constraint, so each ends up (just below) max_norm,
    # pointing where it pointed before.
    assert np.all(compute_norms(value) > max_norm)
    np.testing.assert_allclose(norms, max_norm, rtol=1e-4)
    axes = (0,) if ndim == 2 else tuple(range(1, ndim))
    direction = value / compute_norms(value).reshape([1 if a in axes else -1 for a in range(ndim)])
    np.testing.assert_allclose(param.get_value(), max_norm * direction, rtol=1e-4, atol=1e-9)


def test_norm_constraint_norm_axes():
    max_norm = 0.01
    norm_axes = (0, 2)
    rng = np.random.default_rng(1)
    param = pytensor.shared(rng.normal(size=(10, 20, 30, 40)))

    update = symupdates.norm_constraint(param, max_norm, norm_axes=norm_axes)
    assert update.type == param.type
    apply_update = pytensor.function([], [], updates=[(param, update)])
    apply_update()

    assert np.max(compute_norms(param.get_value(), norm_axes=norm_axes)) <= max_norm * (1 + PCT_TOLERANCE)


def test_norm_constraint_leaves_small_norms_alone():
    value = np.array([[0.3, 0.0], [0.4, 2.0]])  # column norms 0.5 and 2.0
    tensor = pt.matrix("w", dtype="float64")
    out = pytensor.function([tensor], symupdates.norm_constraint(tensor, 1.0))(value)
    epsilon = 1e-7
    np.testing.assert_allclose(out[:, 0], value[:, 0] * 0.5 / (0.5 + epsilon), rtol=1e-15)
    np.testing.assert_allclose(out[:, 1], value[:, 1] * 1.0 / (2.0 + epsilon), rtol=1e-15)


def test_norm_constraint_dim6_raises():
    param = pytensor.shared(np.random.default_rng(0).normal(size=(1, 2, 3, 4, 5, 6)))
    with pytest.raises(ValueError, match="norm_axes"):
        symupdates.norm_constraint(param, 0.01)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_total_norm_constraint(dtype):
    x1 = pt.scalar(dtype=dtype)
    x2 = pt.matrix(dtype=dtype)
    threshold = 5.0
    tensors1 = symupdates.total_norm_constraint([x1, x2], threshold, return_norm=False)
    tensors2, norm = symupdates.total_norm_constraint([x1, x2], threshold, return_norm=True)
    assert [t.dtype for t in tensors1 + tensors2] == [dtype] * 4

    f1 = pytensor.function([x1, x2], [tensors1[0], tensors1[1]])
    f2 = pytensor.function([x1, x2], [tensors2[0], tensors2[1], norm])

    x_test = np.arange(1 + 9, dtype=dtype)
    x1_test = x_test[-1]
    x2_test = x_test[:9].reshape((3, 3))
    x1_out1, x2_out1 = f1(x1_test, x2_test)
    x1_out2, x2_out2, norm = f2(x1_test, x2_test)

    np.testing.assert_array_almost_equal(x1_out1, x1_out2)
    np.testing.assert_array_almost_equal(x2_out1, x2_out2)

    x_out = [float(x1_out1)] + list(x2_out1.flatten())

    np.testing.assert_array_almost_equal(np.linalg.norm(x_test), norm, decimal=5)
    np.testing.assert_array_almost_equal(np.linalg.norm(x_out), threshold)
    # Rescaled, not clipped: every entry keeps its share of the norm.
    np.testing.assert_allclose(x2_out1, x2_test * threshold / np.linalg.norm(x_test), rtol=1e-5)
