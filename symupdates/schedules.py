"""Schedules: hyperparameters as symbolic functions of an integer step counter.

A schedule is an ordinary 0-d PyTensor expression of an ``int64`` step
counter, so it goes wherever a hyperparameter goes -- learning rate,
momentum, a beta, a weight decay -- and nothing is recompiled as it changes::

    lr = schedules.warmup_cosine_decay(0.0, 0.1, warmup_steps=100, decay_steps=1000)
    updates = symupdates.adam(loss, params, learning_rate=lr)   # holds lr's counter update

Step convention (torch.optim.lr_scheduler's and optax's): the value used by
the k-th update (k = 0, 1, 2, ...) is ``f(k)``, the schedule at the number
of updates done before it.

The counter.  Unless a ``step`` is given, each schedule creates its own
counter ``<name>.t`` (``name`` defaults to the schedule's function name),
starting at 0, and tagged as optimizer state.  Its update ``counter + 1``
must be in the updates of the compiled training function, exactly once:
:func:`with_schedules` adds ``{counter: counter + 1}`` for every schedule
counter the update expressions depend on.  Every rule calls it on its own
updates, and so do :func:`symupdates.chain`, :func:`symupdates.per_parameter`,
the ``apply_*`` functions and the wrappers of :mod:`symupdates.wrappers` (so
that gradient accumulation and non-finite skipping hold the schedule back
with everything else).  Call it yourself on updates you build otherwise::

    updates = with_schedules({param: param - lr * grad})

Once in the updates, the counter is saved and restored with the rest of the
state (:mod:`symupdates.statefile`).  Reading a schedule never advances
it: use :func:`evaluate`.  (PyTensor deprecates ``default_update``, so the
counter does not advance itself behind the updates' back.)

With ``step=`` a schedule uses the given integer expression instead (for
example a rule's own counter, or a counter shared by several schedules) and
creates nothing; advancing it is then the owner's business.

Every schedule takes ``dtype`` (default ``pytensor.config.floatX``): the
dtype of the value, which a rule casts to its parameters' dtype.
"""

import math
import numbers
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.graph.basic import Variable
from pytensor.graph.traversal import ancestors
from pytensor.graph.replace import clone_replace

from .core import COUNTER_DTYPE, SCHEDULE_COUNTER_TAG, as_hyperparameter, new_global_state, step_counter

__all__ = [
    "constant",
    "step_decay",
    "multistep_decay",
    "exponential_decay",
    "inverse_time_decay",
    "polynomial_decay",
    "linear_schedule",
    "linear_warmup",
    "cosine_decay",
    "warmup_cosine_decay",
    "cosine_warm_restarts",
    "sgdr",
    "one_cycle",
    "one_cycle_momentum",
    "piecewise_constant",
    "piecewise_interpolate",
    "piecewise_linear",
    "join_schedules",
    "reduce_lr_on_plateau",
    "schedule_counters",
    "with_schedules",
    "evaluate",
]



# ---------------------------------------------------------------------------
# binding a formula to a counter


def _check_int(value, name, minimum=0):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)) or value < minimum:
        raise ValueError("%s must be an integer >= %d, got %r" % (name, minimum, value))
    return int(value)


def as_step(step):
    step = pt.as_tensor_variable(step)
    if step.ndim != 0 or not step.dtype.startswith(("int", "uint")):
        raise TypeError("step must be an integer scalar expression, got %s of dtype %s" % (step, step.dtype))
    return step if step.dtype == COUNTER_DTYPE else pt.cast(step, COUNTER_DTYPE)


def new_counter(name):
    counter, next_value = step_counter(name)
    setattr(counter.tag, SCHEDULE_COUNTER_TAG, next_value)
    return counter


def _schedule(formula, step, name, dtype):
    """``formula(step) -> value``, bound to ``step`` or to a new counter."""
    dtype = dtype or pytensor.config.floatX
    step = new_counter(name) if step is None else as_step(step)
    value = pt.cast(formula(step, dtype), dtype)
    value.name = name
    value.tag.schedule_step = step
    return value


def _step_of(schedule):
    """The step expression a schedule is a function of (``None`` for a constant)."""
    schedule = pt.as_tensor_variable(schedule)
    step = getattr(schedule.tag, "schedule_step", None)
    if step is not None:
        return step
    counters = schedule_counters([schedule])
    if len(counters) > 1:
        raise ValueError(
            "%s depends on %d schedule counters; combine schedules built on one "
            "counter (pass step=) to use it here" % (schedule, len(counters))
        )
    return counters[0] if counters else None


def _at(schedule, step, dtype):
    """``schedule`` evaluated at the integer expression ``step``."""
    if not isinstance(schedule, Variable):
        return as_hyperparameter(schedule, dtype, "schedule")
    own = _step_of(schedule)
    value = schedule if own is None else clone_replace(schedule, replace={own: step})
    return pt.cast(value, dtype)


def _float(step, dtype):
    return pt.cast(step, dtype)


def _hyper(value, dtype, name):
    return as_hyperparameter(value, dtype, name)


# ---------------------------------------------------------------------------
# the schedules


def constant(value, step=None, name="constant", dtype=None):
    """``value`` at every step (a schedule only so it can be joined and evaluated)."""
    _hyper(value, dtype or pytensor.config.floatX, "value")
    return _schedule(lambda t, dt: _hyper(value, dt, "value"), step, name, dtype)


def step_decay(init_value, step_size, gamma=0.1, step=None, name="step_decay", dtype=None):
    """Multiply by ``gamma`` every ``step_size`` steps.

    ``value(t) = init_value * gamma ** floor(t / step_size)``

    torch.optim.lr_scheduler.StepLR(step_size, gamma) with ``init_value`` the
    optimizer's learning rate.
    """
    step_size = _check_int(step_size, "step_size", 1)

    def formula(t, dt):
        return _hyper(init_value, dt, "init_value") * _hyper(gamma, dt, "gamma") ** _float(t // step_size, dt)

    return _schedule(formula, step, name, dtype)


def multistep_decay(init_value, milestones, gamma=0.1, step=None, name="multistep_decay", dtype=None):
    """Multiply by ``gamma`` at each milestone.

    ``value(t) = init_value * gamma ** (number of milestones <= t)``; a
    milestone listed twice counts twice.  torch.optim.lr_scheduler.MultiStepLR.
    """
    milestones = sorted(_check_int(m, "milestones[%d]" % i) for i, m in enumerate(milestones))

    def formula(t, dt):
        passed = sum(pt.cast(pt.ge(t, m), COUNTER_DTYPE) for m in milestones) if milestones else 0
        return _hyper(init_value, dt, "init_value") * _hyper(gamma, dt, "gamma") ** _float(passed, dt)

    return _schedule(formula, step, name, dtype)


def exponential_decay(
    init_value, transition_steps, decay_rate, transition_begin=0, staircase=False, end_value=None,
    step=None, name="exponential_decay", dtype=None,
):
    """Exponential decay (optax.exponential_decay).

    ::

        p        = (t - transition_begin) / transition_steps   (floored if staircase)
        value(t) = init_value                    if t <= transition_begin
                   init_value * decay_rate ** p  otherwise

    bounded by ``end_value`` if given (below when ``decay_rate < 1``, above
    otherwise).  ``transition_steps=1`` gives torch's ExponentialLR(gamma=decay_rate).
    """
    transition_steps = _check_int(transition_steps, "transition_steps", 1)
    transition_begin = _check_int(transition_begin, "transition_begin")

    def formula(t, dt):
        elapsed = t - transition_begin
        p = _float(elapsed, dt) / np.asarray(transition_steps, dt)
        if staircase:
            p = pt.floor(p)
        init = _hyper(init_value, dt, "init_value")
        value = pt.switch(pt.le(elapsed, 0), init, init * _hyper(decay_rate, dt, "decay_rate") ** p)
        if end_value is not None:
            bound = pt.maximum if decay_rate < 1 else pt.minimum
            value = bound(value, _hyper(end_value, dt, "end_value"))
        return value

    return _schedule(formula, step, name, dtype)


def inverse_time_decay(
    init_value, decay_rate, decay_steps=1, staircase=False, step=None, name="inverse_time_decay", dtype=None
):
    """Inverse-time decay (Keras' InverseTimeDecay and the legacy ``decay`` argument).

    ``value(t) = init_value / (1 + decay_rate * t / decay_steps)``, with
    ``t / decay_steps`` floored if ``staircase``.  Keras 2 optimizers'
    ``decay=d`` is ``inverse_time_decay(lr, decay_rate=d)``.
    """
    decay_steps = _check_int(decay_steps, "decay_steps", 1)

    def formula(t, dt):
        p = _float(t, dt) / np.asarray(decay_steps, dt)
        if staircase:
            p = pt.floor(p)
        return _hyper(init_value, dt, "init_value") / (1 + _hyper(decay_rate, dt, "decay_rate") * p)

    return _schedule(formula, step, name, dtype)


def polynomial_decay(
    init_value, end_value, power, transition_steps, transition_begin=0, step=None, name="polynomial_decay", dtype=None
):
    """Polynomial decay (optax.polynomial_schedule).

    ::

        s        = clip(t - transition_begin, 0, transition_steps)
        value(t) = (init_value - end_value) * (1 - s / transition_steps) ** power + end_value

    torch's PolynomialLR(total_iters, power) is ``end_value=0``.
    """
    transition_steps = _check_int(transition_steps, "transition_steps", 1)
    transition_begin = _check_int(transition_begin, "transition_begin")

    def formula(t, dt):
        s = pt.clip(t - transition_begin, 0, transition_steps)
        frac = 1 - _float(s, dt) / np.asarray(transition_steps, dt)
        init, end = _hyper(init_value, dt, "init_value"), _hyper(end_value, dt, "end_value")
        return (init - end) * frac ** _hyper(power, dt, "power") + end

    return _schedule(formula, step, name, dtype)


def linear_schedule(init_value, end_value, transition_steps, transition_begin=0, step=None, name="linear_schedule", dtype=None):
    """Linear change from ``init_value`` to ``end_value`` (optax.linear_schedule).

    ``value(t) = init_value + (end_value - init_value) * clip(t - transition_begin, 0, transition_steps) / transition_steps``

    torch's LinearLR(start_factor, end_factor, total_iters) is
    ``linear_schedule(lr * start_factor, lr * end_factor, total_iters)``.
    """
    transition_steps = _check_int(transition_steps, "transition_steps", 1)
    transition_begin = _check_int(transition_begin, "transition_begin")

    def formula(t, dt):
        s = pt.clip(t - transition_begin, 0, transition_steps)
        init, end = _hyper(init_value, dt, "init_value"), _hyper(end_value, dt, "end_value")
        return init + (end - init) * (_float(s, dt) / np.asarray(transition_steps, dt))

    return _schedule(formula, step, name, dtype)


def cosine_decay(init_value, decay_steps, alpha=0.0, exponent=1.0, step=None, name="cosine_decay", dtype=None):
    """Cosine decay to ``alpha * init_value`` (optax.cosine_decay_schedule).

    ::

        c        = (1 + cos(pi * min(t, decay_steps) / decay_steps)) / 2
        value(t) = init_value * ((1 - alpha) * c ** exponent + alpha)

    Holds ``alpha * init_value`` after ``decay_steps``.  torch's
    CosineAnnealingLR(T_max, eta_min) is ``cosine_decay(lr, T_max,
    alpha=eta_min / lr)`` for the first ``T_max`` steps (torch then rises
    again; for restarts use :func:`cosine_warm_restarts`).  Reference:
    Loshchilov and Hutter (2017), SGDR, ICLR, arXiv:1608.03983.
    """
    decay_steps = _check_int(decay_steps, "decay_steps", 1)

    def formula(t, dt):
        s = _float(pt.minimum(t, decay_steps), dt)
        c = (1 + pt.cos(np.asarray(math.pi, dt) * s / np.asarray(decay_steps, dt))) / 2
        a = _hyper(alpha, dt, "alpha")
        return _hyper(init_value, dt, "init_value") * ((1 - a) * c ** _hyper(exponent, dt, "exponent") + a)

    return _schedule(formula, step, name, dtype)


def warmup_cosine_decay(
    init_value, peak_value, warmup_steps, decay_steps, end_value=0.0, exponent=1.0,
    step=None, name="warmup_cosine_decay", dtype=None,
):
    """Linear warmup from ``init_value`` to ``peak_value``, then cosine decay to ``end_value``.

    optax.warmup_cosine_decay_schedule: ``decay_steps`` counts the warmup,
    so the cosine part lasts ``decay_steps - warmup_steps`` steps.
    """
    warmup_steps = _check_int(warmup_steps, "warmup_steps")
    decay_steps = _check_int(decay_steps, "decay_steps", warmup_steps + 1)

    def formula(t, dt):
        peak = _hyper(peak_value, dt, "peak_value")
        alpha = pt.switch(pt.eq(peak, 0), np.asarray(0, dt), _hyper(end_value, dt, "end_value") / peak)
        warmup = linear_schedule(init_value, peak_value, max(warmup_steps, 1), step=t, dtype=dt)
        decay = cosine_decay(peak_value, decay_steps - warmup_steps, alpha, exponent, step=t - warmup_steps, dtype=dt)
        return pt.switch(pt.lt(t, warmup_steps), warmup, decay)

    return _schedule(formula, step, name, dtype)


def linear_warmup(schedule, warmup_steps, init_value=0.0, step=None, name="linear_warmup", dtype=None):
    """Linear warmup from ``init_value`` into ``schedule``.

    For ``t < warmup_steps`` the value goes linearly from ``init_value``
    towards ``schedule``'s first value; from ``warmup_steps`` on it is
    ``schedule(t - warmup_steps)``.  ``schedule`` may be a number.  torch's
    ``SequentialLR([LinearLR(f, 1.0, w), X], milestones=[w])`` is
    ``linear_warmup(X, w, init_value=f * lr)``.
    """
    warmup_steps = _check_int(warmup_steps, "warmup_steps", 1)

    def formula(t, dt):
        target = _at(schedule, pt.zeros((), dtype=COUNTER_DTYPE), dt)
        init = _hyper(init_value, dt, "init_value")
        ramp = init + (target - init) * (_float(t, dt) / np.asarray(warmup_steps, dt))
        return pt.switch(pt.lt(t, warmup_steps), ramp, _at(schedule, t - warmup_steps, dt))

    return _schedule(formula, step, name, dtype)


def cosine_warm_restarts(
    init_value, period, period_mult=1, min_value=0.0, step=None, name="cosine_warm_restarts", dtype=None
):
    """Cosine annealing with warm restarts (SGDR; torch's CosineAnnealingWarmRestarts).

    ::

        value(t) = min_value + (init_value - min_value) * (1 + cos(pi * t_cur / t_i)) / 2

    where the i-th cycle lasts ``t_i = period * period_mult**i`` steps and
    ``t_cur`` counts the steps since the last restart.  Reference:
    Loshchilov and Hutter (2017), SGDR, ICLR, arXiv:1608.03983.
    """
    period = _check_int(period, "period", 1)
    period_mult = _check_int(period_mult, "period_mult", 1)

    def formula(t, dt):
        tf = pt.cast(t, "float64")
        if period_mult == 1:
            cycle_start, length = (t // period) * period, pt.constant(np.asarray(period, COUNTER_DTYPE))
        else:
            m = float(period_mult)

            def start_of(n):  # first step of cycle n
                return period * (m**n - 1) / (m - 1)

            n = pt.floor(pt.log(tf / period * (m - 1) + 1) / math.log(m))
            # the logarithm may land a hair off an integer at a cycle boundary
            n = pt.switch(pt.le(start_of(n + 1), tf), n + 1, n)
            n = pt.switch(pt.gt(start_of(n), tf), n - 1, n)
            cycle_start = pt.cast(pt.round(start_of(n)), COUNTER_DTYPE)
            length = pt.cast(pt.round(period * m**n), COUNTER_DTYPE)
        frac = _float(t - cycle_start, dt) / _float(length, dt)
        low = _hyper(min_value, dt, "min_value")
        return low + (_hyper(init_value, dt, "init_value") - low) * (1 + pt.cos(np.asarray(math.pi, dt) * frac)) / 2

    return _schedule(formula, step, name, dtype)


def sgdr(cycles, step=None, name="sgdr", dtype=None):
    """Consecutive warmup-cosine cycles (optax.sgdr_schedule).

    ``cycles`` is a list of dicts of :func:`warmup_cosine_decay` arguments
    (``init_value``, ``peak_value``, ``warmup_steps``, ``decay_steps``, ...);
    cycle i starts when cycle i-1's ``decay_steps`` are over.
    """
    cycles = list(cycles)
    if not cycles:
        raise ValueError("sgdr needs at least one cycle")
    boundaries, total = [], 0
    for cycle in cycles[:-1]:
        total += cycle["decay_steps"]
        boundaries.append(total)

    def formula(t, dt):
        parts = [warmup_cosine_decay(step=t, dtype=dt, **cycle) for cycle in cycles]
        return join_schedules(parts, boundaries, step=t, dtype=dt)

    return _schedule(formula, step, name, dtype)


def _one_cycle(start, peak, end, total_steps, pct_start, anneal_strategy, three_phase):
    """torch's OneCycleLR phases: start -> peak -> end (three_phase: start -> peak -> start -> end)."""
    total_steps = _check_int(total_steps, "total_steps", 1)
    if not 0 <= pct_start <= 1:
        raise ValueError("pct_start must be in [0, 1], got %r" % (pct_start,))
    if anneal_strategy not in ("cos", "linear"):
        raise ValueError("anneal_strategy must be 'cos' or 'linear', got %r" % (anneal_strategy,))
    if three_phase:
        phases = [(float(pct_start * total_steps) - 1, start, peak), (float(2 * pct_start * total_steps) - 2, peak, start),
                  (total_steps - 1, start, end)]
    else:
        phases = [(float(pct_start * total_steps) - 1, start, peak), (total_steps - 1, peak, end)]

    def formula(t, dt):
        tf = _float(pt.minimum(t, total_steps - 1), dt)
        value, begin, pieces = None, 0.0, []
        for end_step, a, b in phases:
            pct = (tf - begin) / np.asarray(end_step - begin, dt)
            a, b = _hyper(a, dt, "value"), _hyper(b, dt, "value")
            if anneal_strategy == "cos":
                pieces.append((end_step, b + (a - b) / 2 * (pt.cos(np.asarray(math.pi, dt) * pct) + 1)))
            else:
                pieces.append((end_step, (b - a) * pct + a))
            begin = end_step
        value = pieces[-1][1]
        for end_step, piece in reversed(pieces[:-1]):
            value = pt.switch(pt.le(tf, np.asarray(end_step, dt)), piece, value)
        return value

    return formula


def one_cycle(
    max_value, total_steps, pct_start=0.3, anneal_strategy="cos", div_factor=25.0, final_div_factor=1e4,
    three_phase=False, step=None, name="one_cycle", dtype=None,
):
    """The 1cycle learning rate (torch.optim.lr_scheduler.OneCycleLR, same defaults).

    Anneals from ``max_value / div_factor`` up to ``max_value`` over the
    first ``pct_start * total_steps - 1`` steps, then down to
    ``max_value / div_factor / final_div_factor`` at step ``total_steps - 1``
    (held afterwards); ``three_phase`` goes back to the initial value
    first, as in the paper.  ``anneal_strategy`` is ``"cos"`` or
    ``"linear"``.  Reference: Smith and Topin (2017), Super-Convergence,
    arXiv:1708.07120.
    """
    initial = max_value / div_factor
    formula = _one_cycle(initial, max_value, initial / final_div_factor, total_steps, pct_start, anneal_strategy,
                         three_phase)
    return _schedule(formula, step, name, dtype)


def one_cycle_momentum(
    total_steps, base_momentum=0.85, max_momentum=0.95, pct_start=0.3, anneal_strategy="cos", three_phase=False,
    step=None, name="one_cycle_momentum", dtype=None,
):
    """The momentum (or Adam's beta1) that goes with :func:`one_cycle`: inverse to the learning rate.

    ``max_momentum`` -> ``base_momentum`` (at the learning rate's peak) ->
    ``max_momentum``, as torch's OneCycleLR(cycle_momentum=True) sets it.
    """
    formula = _one_cycle(max_momentum, base_momentum, max_momentum, total_steps, pct_start, anneal_strategy,
                         three_phase)
    return _schedule(formula, step, name, dtype)


def _boundaries_and_scales(boundaries_and_scales):
    items = sorted((_check_int(b, "boundary"), s) for b, s in dict(boundaries_and_scales or {}).items())
    for b, s in items:
        if s < 0:
            raise ValueError("scales must be non-negative, got %r at boundary %d" % (s, b))
    return items


def piecewise_constant(init_value, boundaries_and_scales, step=None, name="piecewise_constant", dtype=None):
    """``init_value`` times every scale whose boundary has been reached (optax.piecewise_constant_schedule).

    ``boundaries_and_scales`` is ``{step: scale}``: from that step on the
    value is multiplied by ``scale``.
    """
    items = _boundaries_and_scales(boundaries_and_scales)

    def formula(t, dt):
        value = _hyper(init_value, dt, "init_value")
        for boundary, scale in items:
            value = pt.switch(pt.ge(t, boundary), value * np.asarray(scale, dt), value)
        return value

    return _schedule(formula, step, name, dtype)


def piecewise_interpolate(
    init_value, boundaries_and_scales, interpolate_type="linear", step=None, name="piecewise_interpolate", dtype=None
):
    """Interpolate between the values reached at the boundaries (optax.piecewise_interpolate_schedule).

    The value at boundary ``b_i`` is ``init_value`` times the scales of all
    boundaries up to ``b_i``; between boundaries it is interpolated linearly
    or along a half cosine (``interpolate_type`` ``"linear"`` or ``"cosine"``);
    after the last boundary it holds.  optax's linear and cosine onecycle
    schedules are this with their boundaries.
    """
    if interpolate_type not in ("linear", "cosine"):
        raise ValueError("interpolate_type must be 'linear' or 'cosine', got %r" % (interpolate_type,))
    items = _boundaries_and_scales(boundaries_and_scales)

    def formula(t, dt):
        init = _hyper(init_value, dt, "init_value")
        bounds, values = [0], [init]
        for boundary, scale in items:
            bounds.append(boundary)
            values.append(values[-1] * np.asarray(scale, dt))
        value = values[-1]
        for i in reversed(range(len(bounds) - 1)):
            pct = _float(t - bounds[i], dt) / np.asarray(max(bounds[i + 1] - bounds[i], 1), dt)
            a, b = values[i], values[i + 1]
            if interpolate_type == "linear":
                piece = (b - a) * pct + a
            else:
                piece = b + (a - b) / 2 * (pt.cos(np.asarray(math.pi, dt) * pct) + 1)
            value = pt.switch(pt.lt(t, bounds[i + 1]), piece, value)
        return pt.switch(pt.lt(t, 0), np.asarray(0, dt), value)

    return _schedule(formula, step, name, dtype)


def piecewise_linear(boundaries, values, step=None, name="piecewise_linear", dtype=None):
    """Linear interpolation through the points ``(boundaries[i], values[i])``, constant outside.

    Like ``numpy.interp(t, boundaries, values)``; boundaries must increase.
    """
    boundaries = [_check_int(b, "boundaries[%d]" % i) for i, b in enumerate(boundaries)]
    values = list(values)
    if len(boundaries) != len(values) or not boundaries:
        raise ValueError("piecewise_linear needs as many values as boundaries (at least one)")
    if any(b1 <= b0 for b0, b1 in zip(boundaries, boundaries[1:])):
        raise ValueError("boundaries must increase, got %r" % (boundaries,))

    def formula(t, dt):
        vals = [_hyper(v, dt, "values[%d]" % i) for i, v in enumerate(values)]
        value = vals[-1]
        for i in reversed(range(len(boundaries) - 1)):
            pct = _float(t - boundaries[i], dt) / np.asarray(boundaries[i + 1] - boundaries[i], dt)
            value = pt.switch(pt.lt(t, boundaries[i + 1]), vals[i] + (vals[i + 1] - vals[i]) * pct, value)
        return pt.switch(pt.lt(t, boundaries[0]), vals[0], value)

    return _schedule(formula, step, name, dtype)


def join_schedules(schedules, boundaries, step=None, name="join_schedules", dtype=None):
    """One schedule after another (optax.join_schedules; torch's SequentialLR).

    ``schedules[i]`` runs from ``boundaries[i-1]`` on, restarted at its own
    step 0: ``value(t) = schedules[i](t - boundaries[i-1])``.  The schedules
    may be numbers or schedules (each built on its own counter, which the
    join replaces by its own).
    """
    schedules = list(schedules)
    boundaries = [_check_int(b, "boundaries[%d]" % i) for i, b in enumerate(boundaries)]
    if len(schedules) != len(boundaries) + 1:
        raise ValueError("join_schedules needs one boundary fewer than schedules, got %d and %d"
                         % (len(schedules), len(boundaries)))

    def formula(t, dt):
        value = _at(schedules[0], t, dt)
        for boundary, schedule in zip(boundaries, schedules[1:]):
            value = pt.switch(pt.lt(t, boundary), value, _at(schedule, t - boundary, dt))
        return value

    return _schedule(formula, step, name, dtype)


# ---------------------------------------------------------------------------
# a schedule driven by a metric instead of the step


def reduce_lr_on_plateau(
    init_value, metric, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
    cooldown=0, min_lr=0.0, eps=1e-8, name="reduce_lr_on_plateau", dtype=None,
):
    """torch.optim.lr_scheduler.ReduceLROnPlateau: lower the value when ``metric`` stops improving.

    Unlike the other schedules this one is driven by a metric, not by the
    step, so it is state: it returns ``(value, updates)``, where ``value``
    is a shared scalar (``<name>.value``, starting at ``init_value``) to pass
    as a hyperparameter, and ``updates`` performs one ``scheduler.step(metric)``
    of torch when applied::

        better      = metric < best * (1 - threshold)    (mode "min", threshold_mode "rel")
                      metric < best - threshold          ("min", "abs")
                      metric > best * (1 + threshold)    ("max", "rel")
                      metric > best + threshold          ("max", "abs")
        best        := metric if better else best        (best starts at +inf, or -inf for "max")
        bad         := 0 if better else bad + 1
        if cooldown_counter > 0:  cooldown_counter -= 1; bad := 0
        if bad > patience:
            value := max(value * factor, min_lr)  if value - max(value * factor, min_lr) > eps
            cooldown_counter := cooldown; bad := 0

    Put ``updates`` in the training function to step once per update (the
    metric then is typically the loss), or in a function compiled once per
    epoch with the validation loss as its input, as torch users call
    ``scheduler.step(val_loss)``.  A step uses the value held before it.

    Parameters
    ----------
    init_value : float
        The starting value (the optimizer's learning rate).
    metric : scalar expression
        The quantity watched.
    mode : {"min", "max"}
        Whether the metric should decrease (default) or increase.
    factor : float
        The multiplier on a plateau, < 1 (default 0.1).
    patience : int
        Steps without improvement tolerated before lowering (default 10).
    threshold : float
        The least change that counts as improvement (default 1e-4).
    threshold_mode : {"rel", "abs"}
        Whether ``threshold`` is relative to ``best`` (default) or absolute.
    cooldown : int
        Steps after a reduction during which bad steps are not counted (default 0).
    min_lr : float
        The floor of the value (default 0).
    eps : float
        Reductions smaller than this are skipped (default 1e-8).
    name : str
        Prefix of the state names (``<name>.value``, ``.best``, ``.num_bad_epochs``,
        ``.cooldown_counter``).
    dtype : str
        The value's dtype (default ``pytensor.config.floatX``).

    Returns
    -------
    (shared scalar, OrderedDict)

    Reference: torch.optim.lr_scheduler.ReduceLROnPlateau (defaults and
    arithmetic are torch's).
    """
    if mode not in ("min", "max"):
        raise ValueError("mode must be 'min' or 'max', got %r" % (mode,))
    if threshold_mode not in ("rel", "abs"):
        raise ValueError("threshold_mode must be 'rel' or 'abs', got %r" % (threshold_mode,))
    if isinstance(factor, (bool, np.bool_)) or not isinstance(factor, numbers.Real) or not factor < 1.0:
        raise ValueError("factor must be a number < 1.0, got %r" % (factor,))
    patience = _check_int(patience, "patience")
    cooldown = _check_int(cooldown, "cooldown")
    dtype = dtype or pytensor.config.floatX
    metric = pt.as_tensor_variable(metric)
    if metric.ndim != 0:
        raise ValueError("metric must be a scalar expression, got %d dimensions" % metric.ndim)

    value = new_global_state(name, "value", _hyper(init_value, dtype, "init_value").data, dtype)
    best = new_global_state(name, "best", np.inf if mode == "min" else -np.inf, "float64")
    num_bad = new_global_state(name, "num_bad_epochs", 0, COUNTER_DTYPE)
    cooldown_counter = new_global_state(name, "cooldown_counter", 0, COUNTER_DTYPE)

    current = pt.cast(metric, "float64")
    sign = 1.0 if mode == "min" else -1.0
    if threshold_mode == "rel":
        better = pt.lt(sign * current, sign * best * (1.0 - sign * threshold))
    else:
        better = pt.lt(sign * current, sign * best - threshold)
    bad = pt.switch(better, 0, num_bad + 1)
    in_cooldown = pt.gt(cooldown_counter, 0)
    bad = pt.switch(in_cooldown, 0, bad)
    counted_cooldown = pt.switch(in_cooldown, cooldown_counter - 1, cooldown_counter)
    reduce = pt.gt(bad, patience)
    lowered = pt.maximum(value * _hyper(factor, dtype, "factor"), _hyper(min_lr, dtype, "min_lr"))
    lowered = pt.switch(pt.gt(value - lowered, _hyper(eps, dtype, "eps")), lowered, value)
    updates = OrderedDict()
    updates[best] = pt.switch(better, current, best)
    updates[num_bad] = pt.cast(pt.switch(reduce, 0, bad), COUNTER_DTYPE)
    updates[cooldown_counter] = pt.cast(pt.switch(reduce, cooldown, counted_cooldown), COUNTER_DTYPE)
    updates[value] = pt.cast(pt.switch(reduce, lowered, value), dtype)
    return value, updates


# ---------------------------------------------------------------------------
# counters in updates, and reading a schedule


def schedule_counters(expressions):
    """The schedule counters (created by this module) that ``expressions`` depend on, in graph order."""
    if isinstance(expressions, dict):
        expressions = list(expressions.values())
    expressions = [e for e in expressions if isinstance(e, Variable)]
    return [v for v in ancestors(expressions) if getattr(v.tag, SCHEDULE_COUNTER_TAG, None) is not None]


def with_schedules(updates):
    """A copy of ``updates`` with ``counter: counter + 1`` for each schedule counter it uses.

    Counters ``updates`` already updates are left as they are.  Idempotent.
    """
    updates = type(updates)(updates) if isinstance(updates, dict) else dict(updates)
    for counter in schedule_counters(updates):
        if counter not in updates:
            updates[counter] = getattr(counter.tag, SCHEDULE_COUNTER_TAG)
    return updates


def evaluate(schedule, steps=None):
    """The values of ``schedule`` at ``steps`` (an int or a sequence of ints), as NumPy.

    Without ``steps``: the value the next update will use.  The schedule's
    counter is not advanced.
    """
    schedule = pt.as_tensor_variable(schedule)
    own = _step_of(schedule)
    if own is None:
        value = schedule.eval()
        return value if steps is None else np.full(np.shape(steps), value)
    if steps is None:
        if not hasattr(own, "get_value"):
            raise ValueError("this schedule runs on a step expression, not a counter: pass steps=")
        steps = own.get_value()
    at = pt.scalar(dtype=COUNTER_DTYPE)
    fn = pytensor.function([at], schedule, givens={own: at}, on_unused_input="ignore")
    values = [fn(int(s)) for s in np.ravel(steps)]
    return np.asarray(values, dtype=schedule.dtype).reshape(np.shape(steps))
