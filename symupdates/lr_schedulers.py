"""PyMC's learning-rate schedulers: optimizers whose learning rate changes inside the graph.

``pymc.variational.updates`` (main line) wraps an optimizer given with its
hyperparameters only (``adam(learning_rate=0.1)``, a partial application)
into another one, whose learning rate is a shared variable
``learning_rate`` updated on every step:

``exponential_decay_scheduler(optimizer, decay_steps, decay_rate, min_lr=1e-6, staircase=False)``
    ``learning_rate := max(initial_lr * decay_rate ** (t / decay_steps), min_lr)``
    (``t // decay_steps`` with ``staircase``), ``t`` the number of steps
    done before this one.
``reduce_lr_on_plateau_scheduler(optimizer, factor=0.1, patience=10, min_lr=1e-6, cooldown=0)``
    Keras-style plateau detection on the loss: after more than ``patience``
    steps without a new best loss, ``learning_rate := max(min_lr,
    learning_rate * factor)`` and ``cooldown`` steps pass before waiting
    again.

Names, defaults, state names (``learning_rate``, ``t``, ``best_loss``,
``wait``, ``cooldown_counter``) and numbers are PyMC's, so that PyMC's own
tests and callbacks that look state up by name work.  The learning rate a
step uses is the value ``learning_rate`` holds before it (the first step
uses ``initial_lr``), exactly as in PyMC.  Differences: the step counter is
an ``int64`` (PyMC's is ``floatX``, which stops counting at 2**24 steps in
float32), and the wrapped optimizer is not modified (PyMC writes the shared
learning rate into the partial's keywords).

For torch's ``ReduceLROnPlateau`` (mode, threshold, cooldown, min_lr) see
:func:`symupdates.schedules.reduce_lr_on_plateau`.
"""

import functools
import inspect
import numbers

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.compile.sharedvalue import SharedVariable

from .core import COUNTER_DTYPE, tag_state, as_hyperparameter, as_type_of

__all__ = ["exponential_decay_scheduler", "reduce_lr_on_plateau_scheduler"]


def _initial_learning_rate(optimizer, scheduler):
    """The learning rate ``optimizer`` (a rule's partial application) was given, or its rule's default."""
    if not isinstance(optimizer, functools.partial):
        raise TypeError(
            "%s: optimizer must be a rule given its hyperparameters only, e.g. "
            "symupdates.adam(learning_rate=0.01); got %r" % (scheduler, optimizer)
        )
    if "learning_rate" in optimizer.keywords:
        return optimizer.keywords["learning_rate"]
    parameter = inspect.signature(optimizer.func).parameters.get("learning_rate")
    if parameter is None or parameter.default is inspect.Parameter.empty:
        raise ValueError("%s: the optimizer has no learning_rate to schedule; pass one" % scheduler)
    return parameter.default


def _shared_learning_rate(value):
    """PyMC's ``learning_rate``: ``value`` itself if shared, else a new floatX shared scalar."""
    if isinstance(value, SharedVariable):
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError("learning_rate must be a number or a shared scalar, got %r" % (value,))
    return pytensor.shared(np.asarray(value, dtype=pytensor.config.floatX), name="learning_rate")


def _scalar_state(name, value, dtype):
    var = pytensor.shared(np.asarray(value, dtype=dtype), name=name)
    return tag_state(var, "lr_scheduler", name)


def _named(expr, var, name):
    expr = as_type_of(expr, var)
    expr.name = name
    return expr


def _time_step(updates):
    """The counter ``t`` of ``updates`` (removed, to be put back last) or a new one, and its next value."""
    for var in list(updates):
        if var.name == "t":
            return var, updates.pop(var)
    t = _scalar_state("t", 0, COUNTER_DTYPE)
    return t, _named(t + 1, t, "t__updated")


def exponential_decay_scheduler(optimizer, decay_steps, decay_rate, min_lr=1e-6, staircase=False):
    """PyMC's exponential learning-rate decay around ``optimizer``.

    ::

        learning_rate := max(initial_lr * decay_rate ** (t / decay_steps), min_lr)
        t             := t + 1

    with ``t // decay_steps`` instead of ``t / decay_steps`` if
    ``staircase``; ``t`` counts the steps done before this one.

    Parameters
    ----------
    optimizer : callable
        A rule given its hyperparameters only, e.g. ``adam(learning_rate=1.0)``;
        its ``learning_rate`` (or the rule's default) is ``initial_lr``.
    decay_steps : int
        Steps per factor ``decay_rate`` (> 0).
    decay_rate : float
        The decay factor, in ``(0, 1]``.
    min_lr : float
        The floor of the learning rate (default 1e-6).
    staircase : bool
        Decay in whole steps of ``decay_steps`` (default False).

    Returns
    -------
    callable
        ``f(loss_or_grads, params)`` returning the updates of ``optimizer``
        plus ``{learning_rate: ..., t: ...}``.

    Reference: PyMC, ``pymc.variational.updates.exponential_decay_scheduler``.
    """
    if isinstance(decay_rate, (bool, np.bool_)) or not isinstance(decay_rate, numbers.Real) or not 0 < decay_rate <= 1:
        raise ValueError("decay_rate must be between 0 and 1, got %r" % (decay_rate,))
    if isinstance(decay_steps, (bool, np.bool_)) or not isinstance(decay_steps, numbers.Real) or not decay_steps > 0:
        raise ValueError("decay_steps must be a positive number, got %r" % (decay_steps,))
    if not isinstance(staircase, (bool, np.bool_)):
        raise TypeError("staircase must be True or False, got %r" % (staircase,))
    initial = _initial_learning_rate(optimizer, "exponential_decay_scheduler")
    learning_rate = _shared_learning_rate(initial)
    dtype = learning_rate.dtype
    initial_lr = as_hyperparameter(initial if not isinstance(initial, SharedVariable) else initial.get_value(), dtype)
    rate = as_hyperparameter(decay_rate, dtype, "decay_rate")
    floor = as_hyperparameter(min_lr, dtype, "min_lr")

    @functools.wraps(optimizer.func)
    def optimizer_with_exponential_decay(loss_or_grads, params, *args, **kwargs):
        updates = optimizer(loss_or_grads, params, *args, **dict(kwargs, learning_rate=learning_rate))
        t, next_t = _time_step(updates)
        if staircase:
            exponent = pt.cast(t // decay_steps, dtype)
        else:
            exponent = pt.cast(t, dtype) / as_hyperparameter(decay_steps, dtype)
        updates[learning_rate] = _named(
            pt.maximum(initial_lr * rate**exponent, floor), learning_rate, "learning_rate__updated"
        )
        updates[t] = next_t
        return updates

    return optimizer_with_exponential_decay


def reduce_lr_on_plateau_scheduler(optimizer, factor=0.1, patience=10, min_lr=1e-6, cooldown=0):
    """PyMC's learning-rate reduction on a plateau of the loss, around ``optimizer``.

    On each step, with ``loss`` the loss of the step (skipped if infinite)::

        if cooldown_counter > 0:  cooldown_counter -= 1; wait := 0
        elif loss < best_loss:    wait := 0
        elif wait >= patience:    learning_rate := max(min_lr, learning_rate * factor)
                                  cooldown_counter := cooldown; wait := 0
        else:                     wait += 1
        best_loss := min(best_loss, loss)

    Parameters
    ----------
    optimizer : callable
        A rule given its hyperparameters only, e.g. ``adam(learning_rate=1.0)``.
    factor : float
        The learning rate's multiplier on a plateau (default 0.1).
    patience : int
        Steps without improvement tolerated (default 10).
    min_lr : float
        The floor of the learning rate (default 1e-6).
    cooldown : int
        Steps after a reduction before waiting starts again (default 0).

    Returns
    -------
    callable
        ``f(loss_or_grads, params)``, where ``loss_or_grads`` is a scalar
        loss or a pair ``(loss, grads)`` (a list of gradients alone has no
        loss: ``ValueError``), returning the updates of ``optimizer`` plus
        those of ``best_loss``, ``cooldown_counter``, ``wait`` and
        ``learning_rate``.

    Reference: PyMC, ``pymc.variational.updates.reduce_lr_on_plateau_scheduler``.
    """
    for name, value in (("patience", patience), ("cooldown", cooldown)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError("%s must be an integer >= 0, got %r" % (name, value))
    initial = _initial_learning_rate(optimizer, "reduce_lr_on_plateau_scheduler")
    learning_rate = _shared_learning_rate(initial)
    dtype = learning_rate.dtype
    factor = as_hyperparameter(factor, dtype, "factor")
    floor = as_hyperparameter(min_lr, dtype, "min_lr")

    @functools.wraps(optimizer.func)
    def optimizer_with_reduce_lr_on_plateau(loss_or_grads, params, *args, **kwargs):
        kwargs = dict(kwargs, learning_rate=learning_rate, discard_loss=False)
        updates, loss = optimizer(loss_or_grads, params, *args, **kwargs)
        if loss is None:
            raise ValueError(
                "reduce_lr_on_plateau_scheduler needs the loss: pass the loss itself "
                "or a pair (loss, grads), not the gradients alone"
            )
        cooldown_counter = _scalar_state("cooldown_counter", 0, "int32")
        wait = _scalar_state("wait", 0, "int32")
        best_loss = _scalar_state("best_loss", np.inf, "float64")

        skip = pt.isinf(loss)
        in_cooldown = pt.gt(cooldown_counter, 0)
        improving = pt.lt(loss, best_loss)
        exhausted = pt.ge(wait, patience)

        def unless_skipped(value, current):
            return pt.switch(skip, current, value)

        new_best = unless_skipped(pt.switch(improving, loss, best_loss), best_loss)
        new_cooldown = unless_skipped(
            pt.switch(in_cooldown, cooldown_counter - 1,
                      pt.switch(improving, cooldown_counter, pt.switch(exhausted, cooldown, cooldown_counter))),
            cooldown_counter,
        )
        new_learning_rate = unless_skipped(
            pt.switch(in_cooldown | improving | ~exhausted, learning_rate, pt.maximum(floor, learning_rate * factor)),
            learning_rate,
        )
        new_wait = unless_skipped(pt.switch(in_cooldown | improving | exhausted, 0, wait + 1), wait)

        updates[best_loss] = _named(new_best, best_loss, "best_loss__updated")
        updates[cooldown_counter] = _named(new_cooldown, cooldown_counter, "cooldown_counter__updated")
        updates[wait] = _named(new_wait, wait, "wait__updated")
        updates[learning_rate] = _named(new_learning_rate, learning_rate, "learning_rate__updated")
        return updates

    return optimizer_with_reduce_lr_on_plateau
