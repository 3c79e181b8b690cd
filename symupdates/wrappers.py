"""Update wrappers: what goes around a rule.

Three shapes, all returning an ``OrderedDict`` for ``pytensor.function(updates=...)``:

* update wrappers ``wrapper(updates, params=None, ...) -> updates`` act on
  the dict a rule returned (:func:`lookahead`,
  :func:`exponential_moving_average`, :func:`polyak_average`, and
  :func:`symupdates.apply_decoupled_weight_decay`), like Lasagne's
  ``apply_momentum``;
* rule wrappers ``wrapper(rule, ...) -> rule`` change when and with what a
  rule steps (:func:`accumulate_gradients`, :func:`skip_nonfinite`,
  :func:`per_parameter`);
* :func:`chain` strings gradient transforms, one rule and update wrappers
  into one rule::

      rule = chain(clip_by_global_norm(max_norm=1.0), add_weight_decay(weight_decay=1e-4),
                   adam(learning_rate=1e-3), lookahead(sync_period=5))
      updates = rule(loss, params)

Every hyperparameter may be a number, a symbolic scalar or a schedule.
"""

import contextlib
from collections import OrderedDict

import numpy as np
import pytensor.tensor as pt

from .engine.compose import fuse_updates
from .core import (
    as_hyperparameter,
    as_type_of,
    check_params,
    get_or_compute_grads,
    make_updates,
    new_state,
    parameter_mask,
    step_counter,
    updates_and_params,
)
from .schedules import with_schedules
from .engine.finite import all_finite
from .rowsparse import checked_part, gated_update
from .registry import kind_of, update_wrapper
from .transforms import global_norm

__all__ = [
    "chain",
    "per_parameter",
    "accumulate_gradients",
    "skip_nonfinite",
    "skipped_steps",
    "lookahead",
    "exponential_moving_average",
    "polyak_average",
    "averaged_parameters",
    "swap_averaged_parameters",
    "update_norm",
    "global_norm",
]

#: Tag attribute on an averaged copy of a parameter: the parameter.
AVERAGE_OF = "symupdates_average_of"


# ---------------------------------------------------------------------------
# composition


def chain(*parts):
    """Compose gradient transforms, one rule and update wrappers into one rule.

    ``chain(t1, t2, rule, w1, w2)(loss_or_grads, params)`` computes the
    gradients, applies ``t1`` then ``t2`` to them, gives them to ``rule``,
    passes its updates through ``w1`` then ``w2``, and adds the updates of
    the schedule counters used anywhere (:func:`symupdates.with_schedules`).
    Transforms are the functions of :mod:`symupdates.transforms` (or any
    ``f(grads, params) -> grads`` marked ``f.kind = "transform"``), wrappers
    those marked ``"wrapper"`` (``f(updates, params) -> updates``); the one
    remaining part is the rule (any ``f(grads, params) -> updates``).  Give
    each part its hyperparameters only: ``clip_by_global_norm(max_norm=1.0)``,
    ``adam(learning_rate=lr)``.  In the spirit of optax.chain and Blocks'
    CompositeRule.
    """
    kinds = [kind_of(s) for s in parts]
    if kinds.count("rule") != 1:
        raise ValueError("chain needs exactly one update rule among its parts, got %d" % kinds.count("rule"))
    at = kinds.index("rule")
    if any(k != "transform" for k in kinds[:at]) or any(k != "wrapper" for k in kinds[at + 1:]):
        raise ValueError("chain: gradient transforms go before the rule and update wrappers after it, got %s"
                         % " -> ".join(kinds))
    for s in parts:
        if not callable(s):
            raise TypeError("chain: %r is not callable; give a transform, rule or wrapper with its "
                            "hyperparameters, e.g. adam(learning_rate=0.01)" % (s,))

    def rule(loss_or_grads, params):
        params = check_params(params)
        grads = get_or_compute_grads(loss_or_grads, params)
        apply_rule = parts[at]
        if hasattr(apply_rule, "reduce_gradients"):  # data_parallel: transforms see the gradients of all ranks
            grads, apply_rule = apply_rule.reduce_gradients(grads, params), apply_rule.apply_to_averaged
        for transform in parts[:at]:
            grads = transform(grads, params)
            if not isinstance(grads, (list, tuple)):
                raise TypeError("chain: %r did not return a list of gradients (return_norm=True?)" % (transform,))
        updates = apply_rule(grads, params)
        for wrapper in parts[at + 1:]:
            updates = wrapper(updates, params)
        if at > 0:  # the transforms' arithmetic joins the rule's kernels
            updates = fuse_updates(updates)
        return OrderedDict(with_schedules(updates))

    rule.parts = parts
    return rule


def per_parameter(rule, overrides=()):
    """A rule that steps different parameters differently.

    ``overrides`` is a list of ``(where, rule_or_None)`` pairs (or a dict);
    each parameter goes to the rule of the first ``where`` that selects it
    (:func:`symupdates.parameter_mask`: a name pattern, a regular
    expression, a predicate or a list of parameters), the others to
    ``rule``.  ``None`` freezes the parameter (no update at all).  Like
    optax.multi_transform and torch's parameter groups::

        per_parameter(adam(learning_rate=1e-3), [("b*", adam(learning_rate=1e-2)), ([embedding], None)])
    """
    overrides = list(overrides.items()) if isinstance(overrides, dict) else list(overrides)
    for pair in overrides:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError("per_parameter: overrides are (where, rule) pairs, got %r" % (pair,))

    def grouped(loss_or_grads, params):
        params = check_params(params)
        grads = get_or_compute_grads(loss_or_grads, params)
        masks = [parameter_mask(params, where) for where, _ in overrides]
        groups = OrderedDict()
        for i, p in enumerate(params):
            choice = next((j for j, m in enumerate(masks) if m[i]), None)
            groups.setdefault(choice, []).append(i)
        updates = OrderedDict()
        for choice, indices in groups.items():
            group_rule = rule if choice is None else overrides[choice][1]
            if group_rule is not None:
                updates.update(group_rule([grads[i] for i in indices], [params[i] for i in indices]))
        return with_schedules(updates)

    return grouped


# ---------------------------------------------------------------------------
# when a rule steps


def _gate(updates, condition):
    """Every update replaced by ``switch(condition, update, current value)``."""
    return OrderedDict((var, as_type_of(gated_update(var, expr, condition), var)) for var, expr in updates.items())


def accumulate_gradients(rule, every):
    """Step with the mean gradient of ``every`` calls, once every ``every`` calls.

    The returned rule adds each call's gradient to ``<param>.accumulate.sum``;
    on every ``every``-th call it gives ``rule`` the mean of the last
    ``every`` gradients and lets its updates through (parameters, state,
    counters, schedules); on the other calls nothing but the sums and the
    call counter ``accumulate.i`` changes.  So ``k`` calls on ``k``
    mini-batches step like one call on their union (for a mean loss).
    Lasagne issue 826; optax.MultiSteps.
    """
    if isinstance(every, (bool, np.bool_)) or not isinstance(every, (int, np.integer)) or every < 1:
        raise ValueError("accumulate_gradients: every must be a positive integer (calls per step), got %r" % (every,))

    def accumulating(loss_or_grads, params):
        params = check_params(params)
        grads = get_or_compute_grads(loss_or_grads, params)
        calls, _ = step_counter("accumulate", name="i")
        last = pt.eq(calls, every - 1)
        sums = [new_state(p, "accumulate", "sum") for p in params]
        totals = [s + g for s, g in zip(sums, grads)]
        inner = with_schedules(rule([t / np.asarray(every, p.dtype) for t, p in zip(totals, params)], params))
        updates = _gate(inner, last)
        updates.update(make_updates([(s, pt.switch(last, pt.zeros_like(t), t)) for s, t in zip(sums, totals)]))
        updates[calls] = (calls + 1) % every
        return fuse_updates(updates)

    return accumulating


def skip_nonfinite(rule, check_updates=True):
    """Skip every step whose gradients (or new values) are not all finite.

    On such a step no parameter, state, counter or schedule changes; the
    integer counter ``skip_nonfinite.skipped`` (see :func:`skipped_steps`)
    counts the skipped steps.  ``check_updates`` also checks the new values
    of the floating-point variables (a finite gradient can still overflow).
    """

    def guarded(loss_or_grads, params):
        params = check_params(params)
        grads = get_or_compute_grads(loss_or_grads, params)
        inner = with_schedules(rule(grads, params))
        checked = [checked_part(g) for g in grads]
        if check_updates:
            checked += [checked_part(expr, var) for var, expr in inner.items() if str(expr.dtype).startswith("float")]
        finite = all_finite(checked)
        skipped, _ = step_counter("skip_nonfinite", name="skipped")
        updates = _gate(inner, finite)
        updates[skipped] = skipped + pt.cast(pt.invert(finite), skipped.dtype)
        return fuse_updates(updates)

    return guarded


def skipped_steps(updates):
    """The counter of steps skipped by :func:`skip_nonfinite` in ``updates`` (a shared int64)."""
    found = [v for v in updates if v.name == "skip_nonfinite.skipped"]
    if len(found) != 1:
        raise ValueError("updates hold %d skip_nonfinite counters, expected one" % len(found))
    return found[0]


# ---------------------------------------------------------------------------
# wrappers on the updates


@update_wrapper
def lookahead(updates, params=None, sync_period=6, alpha=0.5):
    """Lookahead: every ``sync_period`` steps, pull slow weights towards the fast ones and restart from them.

    The rule's updates move the fast weights (the parameters).  With the
    slow weights ``<param>.lookahead.slow`` (initially the parameters) and
    ``t`` the step number (1 first)::

        fast := update
        if t % sync_period == 0:
            slow := slow + alpha * (fast - slow)
            fast := slow

    The inner rule's state is kept at a sync (optax.lookahead's default).
    Reference: Zhang, Lucas, Hinton and Ba (2019), Lookahead Optimizer: k
    steps forward, 1 step back, NeurIPS, arXiv:1907.08610.
    """
    if isinstance(sync_period, (bool, np.bool_)) or not isinstance(sync_period, (int, np.integer)) or sync_period < 1:
        raise ValueError("lookahead: sync_period must be a positive integer, got %r" % (sync_period,))
    updates, params = updates_and_params(updates, params, "lookahead")
    counter, t = step_counter("lookahead")
    sync = pt.eq(t % sync_period, 0)
    for param in params:
        slow = new_state(param, "lookahead", "slow")
        slow.set_value(param.get_value())
        fast = updates[param]
        pulled = slow + as_hyperparameter(alpha, param.dtype, "alpha") * (fast - slow)
        updates[slow] = as_type_of(pt.switch(sync, pulled, slow), slow)
        updates[param] = as_type_of(pt.switch(sync, pulled, fast), param)
    updates[counter] = t
    return fuse_updates(updates)


def _averages(updates, params, rule, average):
    updates, params = updates_and_params(updates, params, rule)
    counter, n = step_counter(rule, name="n")
    first = pt.eq(n, 1)  # the first average is the first stepped value (torch's AveragedModel)
    # the step's coefficients, computed once per dtype rather than once per parameter
    averages = {dtype: average(n, dtype) for dtype in sorted({p.dtype for p in params})}
    for param in params:
        avg = new_state(param, rule, "average")
        avg.set_value(param.get_value())
        setattr(avg.tag, AVERAGE_OF, param)
        new = updates[param]
        updates[avg] = as_type_of(pt.switch(first, new, averages[param.dtype](avg, new)), avg)
    updates[counter] = n
    return fuse_updates(updates)


@update_wrapper
def exponential_moving_average(updates, params=None, decay=0.999):
    """Keep an exponential moving average of the parameters, for evaluation.

    ``average := new value`` after the first step, then
    ``average := decay * average + (1 - decay) * new value`` (torch's
    ``AveragedModel`` with ``get_ema_multi_avg_fn(decay)`` updated after
    each step).  The averages ``<param>.ema.average`` do not feed back into
    training; evaluate with them inside :func:`averaged_parameters`.
    """

    def average(n, dtype):
        d = as_hyperparameter(decay, dtype, "decay")
        keep = 1 - d
        return lambda avg, new: d * avg + keep * new

    return _averages(updates, params, "ema", average)


@update_wrapper
def polyak_average(updates, params=None):
    """Keep the running mean of the parameters over all steps (Polyak-Ruppert averaging, SWA).

    ``average := average + (new value - average) / n`` at the n-th step
    (torch's ``AveragedModel`` default).  The averages are
    ``<param>.polyak.average``.  Reference: Polyak and Juditsky (1992),
    Acceleration of Stochastic Approximation by Averaging, SIAM J. Control
    Optim. 30(4).
    """

    def average(n, dtype):
        count = pt.cast(n, dtype)
        return lambda avg, new: avg + (new - avg) / count

    return _averages(updates, params, "polyak", average)


def _average_pairs(updates):
    pairs = [(getattr(v.tag, AVERAGE_OF), v) for v in updates if hasattr(v.tag, AVERAGE_OF)]
    if not pairs:
        raise ValueError("these updates keep no parameter averages (exponential_moving_average, polyak_average)")
    return pairs


def swap_averaged_parameters(updates):
    """Exchange the values of the parameters and of their averages in ``updates``.

    Call once to evaluate with the averaged weights, once more to go back.
    """
    for param, avg in _average_pairs(updates):
        value = param.get_value()
        param.set_value(avg.get_value())
        avg.set_value(value)


@contextlib.contextmanager
def averaged_parameters(updates):
    """Within the block the parameters hold their averages; restored on exit, even on error::

        with symupdates.averaged_parameters(updates):
            print(accuracy(test_x, test_y))
    """
    swap_averaged_parameters(updates)
    try:
        yield
    finally:
        swap_averaged_parameters(updates)


# ---------------------------------------------------------------------------
# monitoring


def update_norm(updates, params=None):
    """The global L2 norm of the steps ``new value - param`` of ``params`` (default: all parameters).

    Add it to the compiled function's outputs to monitor the step size;
    :func:`global_norm` of the gradients monitors the gradient size.
    """
    updates, params = updates_and_params(updates, params, "update_norm")
    return global_norm([updates[p] - p for p in params])

