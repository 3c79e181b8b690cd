"""symupdates inside PyMC: ``pm.fit`` with our optimizers gives PyMC's own histories, bit for bit.

Runs in the PyMC stage of .ci/run, with PyMC and its pinned PyTensor (2.38).
"""

import numpy as np
import pymc as pm
import pytensor
import pytest

import symupdates

N_STEPS = 300


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(3)
    x = rng.normal(size=50)
    y = 1.5 - 2.0 * x + rng.normal(scale=0.5, size=50)
    with pm.Model() as m:
        a = pm.Normal("a", 0.0, 10.0)
        b = pm.Normal("b", 0.0, 10.0)
        sigma = pm.HalfNormal("sigma", 1.0)
        pm.Normal("y", a + b * x, sigma, observed=y)
    return m


def fit(model, optimizer):
    with model:
        approx = pm.fit(n=N_STEPS, method="advi", obj_optimizer=optimizer, random_seed=42, progressbar=False)
    return approx


def test_pytensor_is_pymcs_line():
    assert pytensor.__version__.startswith("2.38."), pytensor.__version__


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (symupdates.adam(learning_rate=0.01), pm.adam(learning_rate=0.01)),
        (symupdates.adagrad_window(), pm.adagrad_window()),
        (symupdates.adagrad_window(learning_rate=0.05, n_win=5), pm.adagrad_window(learning_rate=0.05, n_win=5)),
    ],
    ids=["adam", "adagrad_window", "adagrad_window-options"],
)
def test_fit_histories_are_bit_identical(model, ours, theirs):
    mine, pymcs = fit(model, ours), fit(model, theirs)
    assert len(mine.hist) == len(pymcs.hist) == N_STEPS
    np.testing.assert_array_equal(mine.hist, pymcs.hist)
    for param, reference in zip(mine.params, pymcs.params, strict=True):  # mu and rho
        np.testing.assert_array_equal(param.get_value(), reference.get_value())
    assert np.isfinite(mine.hist).all() and mine.hist[-20:].mean() < mine.hist[:20].mean()
