"""PyMC's own tests of ``pymc.variational.updates`` that need no PyMC model, run against symupdates.

Upstream: pymc-devs/pymc, tests/variational/test_updates.py at
505227cdc291fbc02a36b461716eda2b3fbc8b51 (the main line with
``exponential_decay_scheduler`` and ``reduce_lr_on_plateau_scheduler``).  The
test code below is upstream's, line for line; the adaptations are:

1. Imports: ``from pymc.variational.updates import ...`` is
   ``from symupdates import ...``.
2. Upstream's file also holds the two scheduler tests, which fit a PyMC
   model (``pm.ADVI``); they need PyMC installed and run, with the same
   imports changed, in the PyMC stage of ``.ci/run``
   (tests_pymc/test_pymc_schedulers.py).  ``import pymc as pm``, the
   ``regression_model`` fixture and the scheduler tests are therefore not in
   this file.
3. ``pytensor.config.change_flags(compute_test_value="ignore")``: PyTensor 3
   removed test values and their flag (``KeyError: 'compute_test_value'``),
   so the ``with`` statement uses ``ignore_test_values()``, which is exactly
   that ``change_flags`` call where PyTensor still has the flag (2.38, the
   PyMC stage) and does nothing where it does not.
"""

import contextlib

import numpy as np
import pytensor
import pytest


def ignore_test_values():
    """``change_flags(compute_test_value="ignore")``, or nothing on a PyTensor without test values."""
    if "compute_test_value" in pytensor.config._config_var_dict:
        return pytensor.config.change_flags(compute_test_value="ignore")
    return contextlib.nullcontext()


from symupdates import (
    adadelta,
    adagrad,
    adagrad_window,
    adam,
    adamax,
    exponential_decay_scheduler,  # noqa: F401  (upstream's import list; used in the PyMC stage)
    momentum,
    nesterov_momentum,
    reduce_lr_on_plateau_scheduler,  # noqa: F401
    rmsprop,
    sgd,
)

OPTIMIZERS = [
    sgd,
    momentum,
    nesterov_momentum,
    adagrad,
    rmsprop,
    adadelta,
    adam,
    adamax,
    adagrad_window,
]

OPTIMIZER_NAMES = [
    "sgd",
    "momentum",
    "nesterov_momentum",
    "adagrad",
    "rmsprop",
    "adadelta",
    "adam",
    "adamax",
    "adagrad_window",
]

_a = pytensor.shared(1.0)
_b = _a * 2

_m = pytensor.shared(np.empty((10,), pytensor.config.floatX))
_n = _m.sum()
_m2 = pytensor.shared(np.empty((10, 10, 10), pytensor.config.floatX))
_n2 = _b + _n + _m2.sum()


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=OPTIMIZER_NAMES)
@pytest.mark.parametrize(
    "getter",
    [
        lambda t: t,  # all params -> ok
        lambda t: (None, t[1]),  # missing loss -> fail
        lambda t: (t[0], None),  # missing params -> fail
        lambda t: (None, None),
    ],  # all missing -> partial
    ids=["all_params", "missing_loss", "missing_params", "all_missing"],
)
@pytest.mark.parametrize(
    "kwargs", [dict(), dict(learning_rate=1e-2)], ids=["without_args", "with_args"]
)
@pytest.mark.parametrize(
    "loss_and_params",
    [(_b, [_a]), (_n, [_m]), (_n2, [_a, _m, _m2])],
    ids=["scalar", "matrix", "mixed"],
)
def test_updates_fast(opt, loss_and_params, kwargs, getter):
    with ignore_test_values():  # adaptation 3
        loss, param = getter(loss_and_params)
        args = dict()
        args.update(**kwargs)
        args.update(dict(loss_or_grads=loss, params=param))
        if loss is None and param is None:
            updates = opt(**args)
            # Here we should get new callable
            assert callable(updates)
            # And be able to get updates
            updates = opt(_b, [_a])
            assert isinstance(updates, dict)
        # case when both are None is above
        elif loss is None or param is None:
            # Here something goes wrong and user provides not full set of [params + loss_or_grads]
            # We raise Value error
            with pytest.raises(ValueError):
                opt(**args)
        else:
            # Usual call to optimizer, old behaviour
            updates = opt(**args)
            assert isinstance(updates, dict)
