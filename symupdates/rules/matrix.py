"""Rules that use the shape of a tensor: Adafactor, Muon, SM3.

Adafactor keeps factored second moments (one row and one column vector per
matrix), SM3 one accumulator per axis, and Muon orthogonalises a matrix's
momentum with a Newton-Schulz iteration.  The reductions and matrix
products are ordinary graphs; everything element-wise still goes through
the fused engine, with per-tensor numbers passed in as 0-d row entries and
per-axis state broadcast along the other axes.
"""

import functools
from collections import OrderedDict

import numpy as np
import pytensor.tensor as pt

from ..core import (
    Range,
    as_hyperparameter,
    check_hyperparameters,
    check_params,
    get_or_compute_grads,
    l2_norm,
    param_label,
    step_counter,
)
from ..engine import elementwise, elementwise_rule, per_tensor
from ..registry import update_rule
from .options import check_choice, check_switch

__all__ = ["adafactor", "muon", "sm3"]


def static_shape(param):
    """The shape of ``param``'s value when the updates are built."""
    return param.get_value(borrow=True).shape


# Means divide by sizes known when the updates are built: a symbolic shape
# would add several nodes per tensor to the graph.


def mean_along(x, axis, shape):
    """The mean of ``x`` over ``axis`` (kept, of size 1), ``x`` being of ``shape``."""
    return pt.sum(x, axis=axis, keepdims=True) / np.asarray(shape[axis], dtype=x.dtype)


def rms(x, shape):
    """The root mean square of all elements of ``x`` (0-d), ``x`` being of ``shape``."""
    return pt.sqrt(pt.sum(pt.sqr(x)) / np.asarray(max(1, int(np.prod(shape))), dtype=x.dtype))


# ---------------------------------------------------------------------------
# Adafactor


def factored_axes(shape, min_dim_size_to_factor):
    """``(row_axis, col_axis)`` over which Adafactor factors a tensor's second moment, or None.

    With ``min_dim_size_to_factor=None`` (torch): the last two axes of every
    tensor with two or more.  With a number (optax): the two largest axes,
    if the smaller of them has at least that many elements.
    """
    if len(shape) < 2:
        return None
    if min_dim_size_to_factor is None:
        return len(shape) - 2, len(shape) - 1
    second, largest = (int(a) for a in np.argsort(shape)[-2:])
    if shape[second] < min_dim_size_to_factor:
        return None
    return second, largest


def squeezed_shape(shape, axis):
    return tuple(1 if i == axis else n for i, n in enumerate(shape))


@update_rule(
    anchors={
        "torch.optim.Adafactor": {},
        "optax.adafactor": {
            "relative_step": False,
            "epsilon1": 1e-30,
            "epsilon1_added": True,
            "min_dim_size_to_factor": 128,
        },
    },
    ranges={
        "beta2_decay": Range(-np.inf, 0),  # torch's check: the decay rate 1 - t**beta2_decay must not grow
        "clipping_threshold": Range(0, np.inf, low_open=True, optional=True),
        "min_dim_size_to_factor": Range(0, np.inf, integer=True, optional=True),
    },
)
def adafactor(
    loss_or_grads,
    params,
    learning_rate=0.01,
    beta2_decay=-0.8,
    epsilon1=None,
    epsilon2=1e-3,
    clipping_threshold=1.0,
    weight_decay=0.0,
    relative_step=True,
    epsilon1_added=False,
    multiply_by_parameter_scale=True,
    min_dim_size_to_factor=None,
):
    """Adafactor: Adam-like steps from factored second moments, scaled to the parameter's size.

    ::

        t     := t + 1
        beta2 := 1 - t**beta2_decay
        rho   := min(learning_rate, 1 / sqrt(t))         (relative_step=False: learning_rate)
        alpha := rho * max(epsilon2, rms(param))          (per tensor, before the decay)
        param := param * (1 - learning_rate * weight_decay)
        tensors of 2 or more axes, factored over rows i and columns j:
            R := beta2 * R + (1 - beta2) * mean_j(grad**2)
            C := beta2 * C + (1 - beta2) * mean_i(grad**2)
            V := R * C / max(mean_i(R), epsilon1)
        vectors and scalars:
            V := beta2 * V + (1 - beta2) * grad**2
        U     := grad / sqrt(max(V, epsilon1**2))
        param := param - alpha * U / max(1, rms(U) / clipping_threshold)

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        Cap of the relative step size and factor of the weight decay
        (default 0.01, torch's).
    beta2_decay : float or symbolic scalar
        Exponent of the second-moment decay schedule, at most 0 (default -0.8).
    epsilon1 : float, symbolic scalar or None
        Floor of the second-moment estimate (default None: the machine
        epsilon of the parameter's dtype, as torch).
    epsilon2 : float or symbolic scalar
        Floor of the parameter scale ``rms(param)`` (default 1e-3).
    clipping_threshold : float, symbolic scalar or None
        Largest RMS of the update ``U`` (torch's ``d``, default 1.0; None:
        no clipping).
    weight_decay : float or symbolic scalar
        Decoupled weight decay, multiplied by ``learning_rate`` (default 0).
    relative_step : bool
        True (torch): the step size is ``min(learning_rate, 1/sqrt(t))``;
        False (optax): ``learning_rate``.
    epsilon1_added : bool
        False (torch): ``epsilon1`` floors ``mean_i(R)`` and ``V``; True
        (the paper, optax): it is added to ``grad**2`` and nothing is floored.
    multiply_by_parameter_scale : bool
        Scale the step by ``max(epsilon2, rms(param))`` (default True; torch
        always does).
    min_dim_size_to_factor : int or None
        None (torch): factor every tensor of 2 or more axes over its last two
        axes.  A number (optax, whose default is 128): factor over the two
        largest axes, and only if the smaller of them has at least this size.

    Notes
    -----
    State: ``<param>.adafactor.row`` and ``.col`` (the factors ``R`` and
    ``C``, shaped like the parameter with the column or row axis of size 1)
    for factored tensors, ``<param>.adafactor.v`` for the others, and the
    integer counter ``adafactor.t``.

    Overflow: a gradient whose square overflows (above about 1.8e19 in
    float32) makes a factored tensor's ``R C / mean(R)`` inf/inf, NaN, as
    in ``torch.optim.Adafactor`` (which also gives NaN for unfactored
    tensors) and ``optax.adafactor``; unfactored tensors stay finite, as in
    optax.  Wrap the rule in ``skip_nonfinite(rule, check_updates=True)``
    to skip such steps.

    The defaults reproduce ``torch.optim.Adafactor`` (``lr=learning_rate``,
    ``beta2_decay``, ``eps=(epsilon1, epsilon2)``, ``d=clipping_threshold``,
    ``weight_decay``).  ``optax.adafactor(learning_rate, ...)`` is reproduced
    by ``relative_step=False, epsilon1=1e-30, epsilon1_added=True,
    min_dim_size_to_factor=128`` (optax's ``eps`` and
    ``min_dim_size_to_factor``; its ``decay_rate`` is ``-beta2_decay``), up
    to optax computing the decay ``beta2`` in float32.  Not reproduced:
    optax's ``momentum`` and ``decay_offset``; its ``weight_decay_rate`` (a
    decay ``param * (1 - weight_decay_rate)``) is ``weight_decay =
    weight_decay_rate / learning_rate`` here.  torch's ``maximize`` is
    ``-grad`` in ``loss_or_grads``.  Reference: Shazeer and Stern (2018),
    Adafactor: Adaptive Learning Rates with Sublinear Memory Cost, ICML,
    arXiv:1804.04235.
    """
    params = check_params(params)
    grads = get_or_compute_grads(loss_or_grads, params)
    relative_step = check_switch("relative_step", relative_step)
    epsilon1_added = check_switch("epsilon1_added", epsilon1_added)
    multiply_by_parameter_scale = check_switch("multiply_by_parameter_scale", multiply_by_parameter_scale)
    optional = {k: v for k, v in (("epsilon1", epsilon1), ("clipping_threshold", clipping_threshold)) if v is not None}
    hyper = dict(lr=learning_rate, beta2_decay=beta2_decay, epsilon2=epsilon2, weight_decay=weight_decay, **optional)
    # checked here, before the first group's state: the groups below are built one after the other
    check_hyperparameters(params, learning_rate=learning_rate, beta2_decay=beta2_decay, epsilon2=epsilon2,
                          weight_decay=weight_decay, **optional)

    def floor(param, epsilon1=None):
        return as_hyperparameter(np.finfo(param.dtype).eps if epsilon1 is None else epsilon1, param.dtype, "epsilon1")

    def squared(grad, floor):
        return grad**2 + floor if epsilon1_added else grad**2

    def unfactored(grad, v, floor, beta2_decay, t):
        beta2 = 1 - t**beta2_decay
        v = beta2 * v + (1 - beta2) * squared(grad, floor)
        return v, grad / pt.sqrt(v if epsilon1_added else pt.maximum(v, floor**2))

    def factored(grad, row, col, row_mean, floor):
        v = row * col / (row_mean if epsilon1_added else pt.maximum(row_mean, floor))
        return grad / pt.sqrt(v if epsilon1_added else pt.maximum(v, floor**2))

    def step_size(param, u, lr, t, epsilon2, clipping_threshold=None):
        """alpha, divided by the clipping denominator: one number per tensor."""
        rho = pt.minimum(lr, 1 / pt.sqrt(t)) if relative_step else lr
        scale = pt.maximum(epsilon2, rms(param, static_shape(param)))
        alpha = rho * scale if multiply_by_parameter_scale else rho
        if clipping_threshold is None:
            return alpha
        return alpha / pt.maximum(1, rms(u, static_shape(param)) / clipping_threshold)

    def formula(param, u, alpha, lr, weight_decay):
        return param * (1 - lr * weight_decay) - alpha * u

    def factored_stages(row_axis, col_axis):
        def new_factors(param, grad, row, col, floor, beta2_decay, t):
            """Reductions over rows and columns: ordinary graphs, outside the kernels."""
            beta2, sq, shape = 1 - t**beta2_decay, squared(grad, floor), static_shape(param)
            row = beta2 * row + (1 - beta2) * mean_along(sq, col_axis, shape)
            col = beta2 * col + (1 - beta2) * mean_along(sq, row_axis, shape)
            return row, col, mean_along(row, row_axis, shape)

        return [per_tensor(new_factors, returns=("row", "col", "row_mean")), elementwise(factored, returns="u")]

    # Tensors factored over the same axes (or not factored) share their slots and stages.
    groups = OrderedDict()
    for i, p in enumerate(params):
        groups.setdefault(factored_axes(static_shape(p), min_dim_size_to_factor), []).append(i)
    count, t = step_counter("adafactor")
    parts = []
    for axes, indices in groups.items():
        if axes is None:
            slots, stages = ["v"], [elementwise(unfactored, returns=("v", "u"))]
        else:
            slots = [("row", 0.0, functools.partial(squeezed_shape, axis=axes[1])),
                     ("col", 0.0, functools.partial(squeezed_shape, axis=axes[0]))]
            stages = factored_stages(*axes)
        parts.append(elementwise_rule(
            [per_tensor(floor, returns="floor"), *stages, per_tensor(step_size, returns="alpha"),
             elementwise(formula, returns="param")],
            [grads[i] for i in indices], [params[i] for i in indices], "adafactor", slots=slots, counter=(count, t),
            **hyper,
        ))
    updates = in_parameter_order(params, parts)
    updates[count] = t
    return updates


def in_parameter_order(params, parts):
    """The updates of several groups of ``params``, each parameter's state then parameter, in ``params``' order."""
    chunks, is_param = {}, set(params)
    for updates in parts:
        chunk = []
        for var, value in updates.items():
            chunk.append((var, value))
            if var in is_param:
                chunks[var], chunk = chunk, []
    return OrderedDict(pair for p in params for pair in chunks[p])


# ---------------------------------------------------------------------------
# Muon


def newton_schulz(x, coefficients, steps, epsilon, epsilon_added=False):
    """Approximately orthogonalise the matrix ``x`` (its zeroth power ``U V^T``).

    ``x`` is normalised to Frobenius norm 1 (dividing by ``max(norm,
    epsilon)``, or ``norm + epsilon`` with ``epsilon_added``), then ``steps``
    times ``x := a x + (b A + c A A) x`` with ``A = x x^T``, ``(a, b, c) =
    coefficients``; a tall matrix is transposed first so ``A`` is the smaller
    Gram matrix.  ``coefficients`` and ``epsilon`` are 0-d of ``x``'s dtype.
    """
    rows, cols = x.type.shape
    tall = rows is not None and cols is not None and rows > cols
    if tall:
        x = x.T
    norm = l2_norm(x)
    x = x / (norm + epsilon if epsilon_added else pt.maximum(norm, epsilon))
    a, b, c = coefficients
    for _ in range(steps):
        gram = pt.dot(x, x.T)
        x = a * x + pt.dot(b * gram + c * pt.dot(gram, gram), x)
    return x.T if tall else x


ADJUST_LR = {
    # Keller Jordan's scaling: sqrt(max(1, fan_out / fan_in))
    "original": lambda fan_out, fan_in: np.sqrt(max(1.0, fan_out / fan_in)),
    # Moonshot's: the update's RMS matches AdamW's (0.2)
    "match_rms_adamw": lambda fan_out, fan_in: 0.2 * np.sqrt(max(fan_out, fan_in)),
}


@update_rule(
    anchors={
        "torch.optim.Muon": {},
        "optax.contrib.muon": {
            "weight_decay": 0.0,
            "epsilon": 1e-8,
            "epsilon_added": True,
            "bias_correction": True,
            "fan_out_axis": 1,
        },
    },
    ranges={"ns_steps": Range(0, 99, integer=True), "fan_out_axis": Range(0, 1, integer=True)},
)
def muon(
    loss_or_grads,
    params,
    learning_rate=0.001,
    momentum=0.95,
    nesterov=True,
    weight_decay=0.1,
    ns_coefficients=(3.4445, -4.7750, 2.0315),
    ns_steps=5,
    epsilon=1e-7,
    adjust_lr_fn="original",
    fan_out_axis=0,
    bias_correction=False,
    epsilon_added=False,
    fallback=None,
):
    """Muon: momentum orthogonalised by a Newton-Schulz iteration, for matrices.

    ::

        B     := momentum * B + (1 - momentum) * grad
        D     := (1 - momentum) * grad + momentum * B        (nesterov=False: D := B)
        O     := NewtonSchulz(D)                             (ns_steps iterations)
        scale := sqrt(max(1, fan_out / fan_in))              ("original")
                 0.2 * sqrt(max(fan_out, fan_in))            ("match_rms_adamw")
        param := param * (1 - learning_rate * weight_decay) - learning_rate * scale * O

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 0.001).
    momentum : float or symbolic scalar
        Decay of the momentum buffer ``B`` (default 0.95).
    nesterov : bool
        Orthogonalise the Nesterov look-ahead ``D`` rather than ``B``
        (default True).
    weight_decay : float or symbolic scalar
        Decoupled weight decay, multiplied by ``learning_rate`` (default 0.1).
    ns_coefficients : three floats
        ``(a, b, c)`` of the quintic Newton-Schulz step (default
        ``(3.4445, -4.7750, 2.0315)``).
    ns_steps : int
        Number of Newton-Schulz iterations (default 5).
    epsilon : float or symbolic scalar
        Floor of the Frobenius norm ``D`` is divided by first (default 1e-7).
    adjust_lr_fn : str
        The shape-dependent ``scale``: ``"original"`` (default) or
        ``"match_rms_adamw"``.
    fan_out_axis : int
        Which axis of a weight matrix is its output: 0 for torch's
        ``(out, in)`` layout (default), 1 for ``(in, out)`` weights such as
        Lasagne's ``DenseLayer.W`` and JAX's kernels.
    bias_correction : bool
        Divide ``B`` and ``grad`` in ``D`` by Adam's bias corrections
        ``1 - momentum**(t+1)`` and ``1 - momentum**t`` (optax; default
        False, torch).  Adds the integer counter ``muon.t``.
    epsilon_added : bool
        Divide by ``norm + epsilon`` instead of ``max(norm, epsilon)``
        (optax; default False, torch).
    fallback : callable or None
        The rule for parameters that are not matrices, called as
        ``fallback(grads, params)`` with those parameters only, e.g.
        ``symupdates.adamw(learning_rate=3e-4)`` (torch recommends AdamW).
        None (the default): such parameters raise ``ValueError``, as in torch.

    Notes
    -----
    State: ``<param>.muon.B`` per matrix.  The defaults reproduce
    ``torch.optim.Muon`` up to its precision: torch runs the Newton-Schulz
    iteration in bfloat16, this rule in the parameter's dtype.  (torch's
    documentation writes ``B := momentum * B + grad``; its code, which this
    rule follows, keeps the moving average above.)  torch accepts only
    matrices and recommends AdamW for the other parameters: pass it as
    ``fallback``.  ``optax.contrib.muon`` is reproduced on matrices by
    ``weight_decay=0, epsilon=1e-8, epsilon_added=True,
    bias_correction=True, fan_out_axis=1`` (its ``beta`` is ``momentum``,
    its ``consistent_rms=0.2`` is ``adjust_lr_fn="match_rms_adamw"``); its
    non-matrix parameters get optax's Nesterov AdamW, which ``fallback``
    can provide.  References: Jordan et al. (2024), Muon: An optimizer for
    hidden layers in neural networks, https://kellerjordan.github.io/posts/muon/;
    Liu et al. (2025), Muon is Scalable for LLM Training, arXiv:2502.16982.
    """
    params = check_params(params)
    grads = get_or_compute_grads(loss_or_grads, params)
    nesterov = check_switch("nesterov", nesterov)
    bias_correction = check_switch("bias_correction", bias_correction)
    epsilon_added = check_switch("epsilon_added", epsilon_added)
    check_choice("adjust_lr_fn", adjust_lr_fn, list(ADJUST_LR))
    if isinstance(ns_coefficients, (str, bytes)) or len(ns_coefficients) != 3:
        raise ValueError("ns_coefficients must be three numbers (a, b, c), got %r" % (ns_coefficients,))
    check_hyperparameters(params, learning_rate=learning_rate, momentum=momentum, weight_decay=weight_decay,
                          epsilon=epsilon, **{"ns_coefficients[%d]" % i: c for i, c in enumerate(ns_coefficients)})
    matrices = [(p, g) for p, g in zip(params, grads) if p.ndim == 2]
    others = [(p, g) for p, g in zip(params, grads) if p.ndim != 2]
    if others and fallback is None:
        raise ValueError(
            "muon orthogonalises matrices only, but %s is %d-d; pass fallback= a rule for "
            "the other parameters, e.g. fallback=symupdates.adamw(learning_rate=3e-4)"
            % (param_label(others[0][0]), others[0][0].ndim)
        )
    if others and not callable(fallback):
        raise TypeError("fallback must be a rule, called as fallback(grads, params), got %r" % (fallback,))

    updates = OrderedDict()
    if matrices:
        updates.update(_muon_matrices(
            [p for p, _ in matrices], [g for _, g in matrices], learning_rate, momentum, nesterov, weight_decay,
            ns_coefficients, ns_steps, epsilon, ADJUST_LR[adjust_lr_fn], fan_out_axis, bias_correction,
            epsilon_added,
        ))
    if others:
        updates.update(fallback([g for _, g in others], [p for p, _ in others]))
    return updates


def _muon_matrices(params, grads, learning_rate, momentum, nesterov, weight_decay, ns_coefficients, ns_steps,
                   epsilon, adjust, fan_out_axis, bias_correction, epsilon_added):

    def look_ahead(grad, B, momentum, t=None):
        B = momentum * B + (1 - momentum) * grad
        current = ahead = B
        if bias_correction:  # optax: Adam's corrections; the look-ahead's is one step further
            current, ahead = B / (1 - momentum**t), B / (1 - momentum ** (t + 1))
            grad = grad / (1 - momentum**t)
        if nesterov:
            return B, (1 - momentum) * grad + momentum * ahead
        return B, current

    def orthogonalise(param, direction, epsilon):
        shape = static_shape(param)
        coefficients = [as_hyperparameter(c, param.dtype, "ns_coefficients") for c in ns_coefficients]
        orthogonal = newton_schulz(pt.specify_shape(direction, shape), coefficients, ns_steps, epsilon, epsilon_added)
        return orthogonal, as_hyperparameter(adjust(shape[fan_out_axis], shape[1 - fan_out_axis]), param.dtype, "scale")

    def formula(param, orthogonal, scale, lr, weight_decay):
        return param * (1 - lr * weight_decay) - lr * scale * orthogonal

    return elementwise_rule(
        [elementwise(look_ahead, returns=("B", "direction")),
         per_tensor(orthogonalise, returns=("orthogonal", "scale")), elementwise(formula, returns="param")],
        grads, params, "muon", slots=["B"], counter=bias_correction, lr=learning_rate, momentum=momentum,
        weight_decay=weight_decay, epsilon=epsilon,
    )


# ---------------------------------------------------------------------------
# SM3


def _max_over(nu, axes, shape):
    """The maximum of ``nu >= 0`` over ``axes``; 0 where that is over no element (a size-0 axis)."""
    if any(shape[i] == 0 for i in axes):
        return pt.zeros([n for i, n in enumerate(shape) if i not in axes], dtype=nu.dtype)
    return pt.max(nu, axis=axes) if axes else nu


@update_rule(anchors={"optax.sm3": {}})
def sm3(loss_or_grads, params, learning_rate=0.1, momentum=0.9, epsilon=1e-8):
    """SM3: AdaGrad with one accumulator per axis instead of per element, plus momentum.

    ::

        nu    := grad**2 + min_k acc_k             (acc_k broadcast along the other axes)
        acc_k := max of nu over every axis but k   (for each axis k)
        u     := grad / sqrt(nu + epsilon)         (0 where nu is 0)
        m     := momentum * m + (1 - momentum) * u
        param := param - learning_rate * m

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 0.1; optax has no default).
    momentum : float or symbolic scalar
        Decay of the momentum (default 0.9).
    epsilon : float or symbolic scalar
        Added inside the root (default 1e-8).

    Notes
    -----
    State: ``<param>.sm3.acc0``, ``.acc1``, ... (one vector per axis) and
    ``<param>.sm3.m``.  A vector's single accumulator is element-wise
    (AdaGrad); a 0-d parameter gets a 0-d accumulator ``<param>.sm3.acc``,
    which is what optax computes for a 1-element vector (optax itself
    rejects 0-d parameters).  The defaults reproduce ``optax.sm3`` (its
    ``scale_by_sm3`` with ``b2=1``).  Reference: Anil, Gupta, Koren and
    Singer (2019), Memory-Efficient Adaptive Optimization, NeurIPS,
    arXiv:1901.11150.
    """

    def accumulator_shapes(dims):
        # the accumulators know the lengths the parameter's type knows: a kernel
        # output of the parameter's type may then overwrite the parameter
        return [(n,) for n in dims] if dims else ()

    def broadcast(param, acc):
        """Each axis's accumulator broadcast along the other axes."""
        if param.ndim <= 1:
            return (acc[0] if param.ndim else acc,)
        return tuple(a.dimshuffle(["x"] * k + [0] + ["x"] * (param.ndim - k - 1)) for k, a in enumerate(acc))

    def formula(param, grad, m, accs, lr, momentum, epsilon):
        nu = grad**2 + functools.reduce(pt.minimum, accs)
        u = pt.switch(nu > 0, grad / pt.sqrt(nu + epsilon), 0)
        m = momentum * m + (1 - momentum) * u
        return nu, m, param - lr * m

    def new_accumulators(nu, acc):
        if not isinstance(acc, tuple):  # a 0-d parameter's
            return nu
        shape = tuple(static_shape(a)[0] for a in acc)
        return tuple(_max_over(nu, tuple(i for i in range(nu.ndim) if i != k), shape) for k in range(nu.ndim))

    return elementwise_rule(
        [per_tensor(broadcast, returns="accs"), elementwise(formula, returns=("nu", "m", "param")),
         per_tensor(new_accumulators, returns="acc")],
        loss_or_grads, params, "sm3", slots=[("acc", 0.0, accumulator_shapes), "m"], lr=learning_rate,
        momentum=momentum, epsilon=epsilon,
    )
