"""Adam and its relatives: Lasagne's forms, with switches for every anchor.

Where the reference implementations disagree, a keyword switch chooses; the
same switch names are used throughout the package:

``epsilon_placement``
    Where ``epsilon`` enters the denominator.  For the Adam family:
    ``"raw"`` adds it to the root of the raw second moment and folds the bias
    corrections into the step size (the paper's "epsilon-hat" form: Lasagne,
    Keras, Chainer); ``"corrected"`` adds it to the root of the
    bias-corrected second moment (torch.optim.Adam, optax).  For AdaMax:
    ``"outside_max"`` (Lasagne, Keras) or ``"inside_max"`` (torch, optax).
``epsilon_root``
    optax's ``eps_root``: added inside the square root (default 0).
``weight_decay``, ``decoupled_weight_decay``
    torch's names: L2 weight decay added to the gradient, or, decoupled,
    ``param *= 1 - learning_rate * weight_decay`` before the step.
``maximize``
    torch's: ascend the objective (the gradient is negated).
"""


from collections import OrderedDict

import numpy as np
import pytensor.tensor as pt

from ..core import Range, as_hyperparameter, as_type_of, check_ranges, is_state, state_slot
from ..registry import update_rule
from ..engine import across_tensors, elementwise, elementwise_rule
from .options import check_choice, check_switch, coupled_gradient, initial_value, is_off, optional_hyperparameters

__all__ = [
    "adam",
    "sparse_adam",
    "adamax",
    "amsgrad",
    "adamw",
    "radam",
    "nadam",
    "adabelief",
    "yogi",
    "adan",
    "adopt",
    "schedule_free_adamw",
    "schedule_free_eval_params",
    "adabound",
    "amsbound",
]


# ---------------------------------------------------------------------------
# the switches, checked when the updates are built


def _torch_preamble(weight_decay, decoupled_weight_decay=False, maximize=False):
    """torch.optim's first lines of a step, as ``prepare(param, grad, lr, weight_decay)``.

    The gradient is negated for ``maximize``; then weight decay is added to
    it (L2, "coupled"), or, decoupled, shrinks the parameter by
    ``1 - lr * weight_decay`` before the step.
    """
    maximize = check_switch("maximize", maximize)
    decoupled = check_switch("decoupled_weight_decay", decoupled_weight_decay)
    decay = None if is_off(weight_decay) else ("decoupled" if decoupled else "coupled")

    def prepare(param, grad, lr, weight_decay):
        grad = coupled_gradient(param, grad, weight_decay if decay == "coupled" else None, maximize)
        if decay == "decoupled":
            param = param * (1 - lr * weight_decay)
        return param, grad

    return prepare


def _adam_step(lr, m, t, beta1, beta2, epsilon, epsilon_root, placement, v=None, v_hat=None):
    """``lr * m_hat / (sqrt(v_hat) + epsilon)`` with epsilon placed as asked.

    Give the raw second moment ``v`` or the bias-corrected ``v_hat``.
    ``"raw"``: ``lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m / (sqrt(v + epsilon_root) + epsilon)``;
    ``"corrected"``: ``lr * m / (1 - beta1**t) / (sqrt(v_hat + epsilon_root) + epsilon)``.
    ``epsilon_root`` is None when it is a literal zero.
    """
    correction2 = 1 - beta2**t
    if placement == "raw":
        v = v if v is not None else v_hat * correction2
        root = pt.sqrt(v if epsilon_root is None else v + epsilon_root)
        return lr * pt.sqrt(correction2) / (1 - beta1**t) * m / (root + epsilon)
    v_hat = v_hat if v_hat is not None else v / correction2
    root = pt.sqrt(v_hat if epsilon_root is None else v_hat + epsilon_root)
    return lr * (m / (1 - beta1**t)) / (root + epsilon)


_ADAM_PLACEMENTS = ("raw", "corrected")


def _adam_updates(rule, loss_or_grads, params, learning_rate, beta1, beta2, epsilon,
                  epsilon_placement, epsilon_root, weight_decay, decoupled_weight_decay, maximize, lazy=False):
    """Adam's updates, its state named after ``rule`` (``adam``, ``adamw`` or ``sparse_adam``)."""
    placement = check_choice("epsilon_placement", epsilon_placement, _ADAM_PLACEMENTS)
    prepare = _torch_preamble(weight_decay, decoupled_weight_decay, maximize)

    def formula(param, grad, m, v, lr, beta1, beta2, epsilon, weight_decay, t, epsilon_root=None):
        param, grad = prepare(param, grad, lr, weight_decay)
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        return m, v, param - _adam_step(lr, m, t, beta1, beta2, epsilon, epsilon_root, placement, v=v)

    return elementwise_rule(
        formula, loss_or_grads, params, rule, lazy=lazy, slots=["m", "v"], counter=True,
        lr=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon,
        **optional_hyperparameters(epsilon_root=epsilon_root), weight_decay=weight_decay,
    )


# ---------------------------------------------------------------------------
# Lasagne's rules


@update_rule(
    anchors={
        "lasagne.updates.adam": {},
        "keras.optimizers.Adam": {"epsilon": 1e-7},
        "chainer.optimizers.Adam": {},
        "torch.optim.Adam": {"epsilon_placement": "corrected"},
        "optax.adam": {"epsilon_placement": "corrected"},
        "blocks.algorithms.Adam": {"learning_rate": 0.002},
    }
)
def adam(
    loss_or_grads,
    params,
    learning_rate=0.001,
    beta1=0.9,
    beta2=0.999,
    epsilon=1e-8,
    *,
    epsilon_placement="raw",
    epsilon_root=0.0,
    weight_decay=0.0,
    decoupled_weight_decay=False,
    maximize=False,
    lazy=False,
):
    """Adam: steps from bias-corrected moving averages of the gradient and its square.

    Lasagne's form (the default), with the bias correction folded into the
    step size (the paper's "epsilon-hat" formulation, end of its section 2)::

        t     := t + 1
        a_t   := learning_rate * sqrt(1 - beta2**t) / (1 - beta1**t)
        m     := beta1 * m + (1 - beta1) * grad
        v     := beta2 * v + (1 - beta2) * grad**2
        param := param - a_t * m / (sqrt(v) + epsilon)

    With ``epsilon_placement="corrected"`` (torch.optim.Adam, optax.adam)::

        param := param - learning_rate * m_hat / (sqrt(v_hat + epsilon_root) + epsilon)
        m_hat = m / (1 - beta1**t),  v_hat = v / (1 - beta2**t)

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 0.001).
    beta1 : float or symbolic scalar
        Decay rate of the first moment (default 0.9).
    beta2 : float or symbolic scalar
        Decay rate of the second moment (default 0.999).
    epsilon : float or symbolic scalar
        Added to the root of the second moment (default 1e-8).
    epsilon_placement : {"raw", "corrected"}
        ``"raw"`` (default: Lasagne, Keras, Chainer) adds epsilon to
        ``sqrt(v)``; ``"corrected"`` (torch, optax) adds it to ``sqrt(v_hat)``.
    epsilon_root : float or symbolic scalar
        optax's ``eps_root``, added inside the square root (default 0).
    weight_decay : float or symbolic scalar
        torch's ``weight_decay`` (default 0): added to the gradient as
        ``weight_decay * param``, or decoupled (below).
    decoupled_weight_decay : bool
        torch's switch: ``param *= 1 - learning_rate * weight_decay`` before
        the step instead (AdamW; default False).
    maximize : bool
        torch's switch: ascend instead of descend (default False).
    lazy : bool
        Row-sparse updates (default False): a matrix whose gradient only
        touches some rows (the gradient of ``E[idx]``, dense or through
        ``pytensor.sparse.sparse_grad``) gets the formula at those rows
        only, ``m`` and ``v`` included; ``t`` counts every step.  This is
        TensorFlow Addons' ``LazyAdam`` (``epsilon=1e-7``), and with the
        other defaults :func:`sparse_adam`.  See ``docs/sparse.rst``.

    Notes
    -----
    State: ``<param>.adam.m``, ``<param>.adam.v`` and the integer step
    counter ``adam.t``.  Keras' Adam is the default form with
    ``epsilon=1e-7``.  Reference: Kingma and Ba (2015), Adam: A Method for
    Stochastic Optimization, ICLR, arXiv:1412.6980.
    """
    return _adam_updates(
        "adam", loss_or_grads, params, learning_rate, beta1, beta2, epsilon,
        epsilon_placement, epsilon_root, weight_decay, decoupled_weight_decay, maximize, lazy,
    )


@update_rule(anchors={"torch.optim.SparseAdam": {}})
def sparse_adam(loss_or_grads, params, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
    """Adam for embeddings: moments and parameter change at the rows the gradient touches only.

    For a matrix whose gradient is row-sparse (the gradient of ``E[idx]``,
    dense or through ``pytensor.sparse.sparse_grad``), with ``rows`` the
    distinct indices and ``g`` the gradient rows of each summed over its
    repetitions, at step ``t`` (1, 2, ...; counted for every step)::

        m[rows] := beta1 * m[rows] + (1 - beta1) * g
        v[rows] := beta2 * v[rows] + (1 - beta2) * g**2
        a_t     := learning_rate * sqrt(1 - beta2**t) / (1 - beta1**t)
        param[rows] := param[rows] - a_t * m[rows] / (sqrt(v[rows]) + epsilon)

    Other rows of ``param``, ``m`` and ``v`` keep their values, and the
    step costs in the number of touched rows, not the size of the matrix.
    Any other parameter (a bias, a matrix used densely) gets this formula
    on all its elements, that is :func:`adam`'s.

    Parameters
    ----------
    learning_rate, beta1, beta2, epsilon : float or symbolic scalar
        As in :func:`adam` and torch's SparseAdam (defaults 0.001, 0.9,
        0.999, 1e-8).

    Returns
    -------
    OrderedDict
        ``{m: ..., v: ..., param: ...}`` per parameter (``<param>.sparse_adam.m``,
        ``<param>.sparse_adam.v``), then the step counter ``sparse_adam.t``.

    Notes
    -----
    The numbers of ``torch.optim.SparseAdam`` (with
    ``nn.Embedding(sparse=True)``); it is ``adam(..., lazy=True)`` with state
    of its own name.  Reference: Kingma and Ba (2015), Adam: A Method for
    Stochastic Optimization, ICLR, arXiv:1412.6980; lazy moments as in
    TensorFlow Addons' ``LazyAdam``.
    """
    return _adam_updates(
        "sparse_adam", loss_or_grads, params, learning_rate, beta1, beta2, epsilon,
        "raw", 0.0, 0.0, False, False, True,
    )


@update_rule(
    anchors={
        "lasagne.updates.adamax": {},
        "keras.optimizers.Adamax": {"learning_rate": 0.001, "epsilon": 1e-7},
        "torch.optim.Adamax": {"epsilon_placement": "inside_max"},
        "optax.adamax": {"epsilon_placement": "inside_max"},
    }
)
def adamax(
    loss_or_grads,
    params,
    learning_rate=0.002,
    beta1=0.9,
    beta2=0.999,
    epsilon=1e-8,
    *,
    epsilon_placement="outside_max",
    weight_decay=0.0,
    maximize=False,
):
    """AdaMax: Adam with the infinity norm in place of the second moment.

    Lasagne's form (the default)::

        t     := t + 1
        a_t   := learning_rate / (1 - beta1**t)
        m     := beta1 * m + (1 - beta1) * grad
        u     := max(beta2 * u, abs(grad))
        param := param - a_t * m / (u + epsilon)

    With ``epsilon_placement="inside_max"`` (torch.optim.Adamax, optax)::

        u     := max(beta2 * u, abs(grad) + epsilon)
        param := param - a_t * m / u

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 0.002).
    beta1, beta2 : float or symbolic scalar
        Decay rates of the first moment and of the norm (0.9, 0.999).
    epsilon : float or symbolic scalar
        Added to the norm (default 1e-8).
    epsilon_placement : {"outside_max", "inside_max"}
        Lasagne and Keras add epsilon to ``u`` in the denominator
        (default); torch and optax add it to ``abs(grad)`` inside the max.
    weight_decay : float or symbolic scalar
        torch's L2 weight decay, added to the gradient (default 0).
    maximize : bool
        torch's switch: ascend instead of descend (default False).

    Notes
    -----
    State: ``<param>.adamax.m``, ``<param>.adamax.u``, counter
    ``adamax.t``.  Reference: Kingma and Ba (2015), section 7.1.
    """
    placement = check_choice("epsilon_placement", epsilon_placement, ("outside_max", "inside_max"))
    prepare = _torch_preamble(weight_decay, maximize=maximize)

    def formula(param, grad, m, u, lr, beta1, beta2, epsilon, weight_decay, t):
        param, grad = prepare(param, grad, lr, weight_decay)
        a_t = lr / (1 - beta1**t)
        m = beta1 * m + (1 - beta1) * grad
        if placement == "inside_max":
            u = pt.maximum(beta2 * u, abs(grad) + epsilon)
            return m, u, param - a_t * m / u
        u = pt.maximum(beta2 * u, abs(grad))
        return m, u, param - a_t * m / (u + epsilon)

    return elementwise_rule(
        formula, loss_or_grads, params, "adamax", slots=["m", "u"], counter=True,
        lr=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon, weight_decay=weight_decay,
    )


@update_rule(
    anchors={
        "lasagne.updates.amsgrad": {},
        "keras.optimizers.Adam": {"epsilon": 1e-7},
        "chainer.optimizers.AMSGrad": {},
        "torch.optim.Adam": {"epsilon_placement": "corrected"},
        "optax.amsgrad": {"epsilon_placement": "corrected", "maximum_of": "corrected"},
    }
)
def amsgrad(
    loss_or_grads,
    params,
    learning_rate=0.001,
    beta1=0.9,
    beta2=0.999,
    epsilon=1e-8,
    *,
    epsilon_placement="raw",
    maximum_of="raw",
    epsilon_root=0.0,
    weight_decay=0.0,
    decoupled_weight_decay=False,
    maximize=False,
):
    """AMSGrad: Adam whose second moment never decreases.

    Lasagne's form (the default): the maximum is taken over the raw (not
    bias-corrected) second moment, and the bias correction is folded into
    the step size::

        t     := t + 1
        a_t   := learning_rate * sqrt(1 - beta2**t) / (1 - beta1**t)
        m     := beta1 * m + (1 - beta1) * grad
        v     := beta2 * v + (1 - beta2) * grad**2
        v_max := max(v_max, v)
        param := param - a_t * m / (sqrt(v_max) + epsilon)

    torch (``epsilon_placement="corrected"``) divides by
    ``sqrt(v_max / (1 - beta2**t)) + epsilon``; optax (also
    ``maximum_of="corrected"``) keeps ``v_max := max(v_max, v / (1 - beta2**t))``
    and divides by ``sqrt(v_max + epsilon_root) + epsilon``.

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 0.001).
    beta1, beta2 : float or symbolic scalar
        Moment decay rates (0.9, 0.999).
    epsilon : float or symbolic scalar
        Added to the root of ``v_max`` (default 1e-8).
    epsilon_placement : {"raw", "corrected"}
        As in :func:`adam` (default ``"raw"``, Lasagne's).
    maximum_of : {"raw", "corrected"}
        Whether ``v_max`` tracks the raw second moment (default: Lasagne,
        Keras, Chainer, torch) or the bias-corrected one (optax).
    epsilon_root, weight_decay, decoupled_weight_decay, maximize
        As in :func:`adam`.

    Notes
    -----
    State: ``<param>.amsgrad.m``, ``.v``, ``.v_hat`` (the running maximum),
    counter ``amsgrad.t``.  Reference: Reddi, Kale and Kumar (2018), On the
    Convergence of Adam and Beyond, ICLR.
    """
    placement = check_choice("epsilon_placement", epsilon_placement, _ADAM_PLACEMENTS)
    tracked = check_choice("maximum_of", maximum_of, ("raw", "corrected"))
    prepare = _torch_preamble(weight_decay, decoupled_weight_decay, maximize)

    def formula(param, grad, m, v, v_hat, lr, beta1, beta2, epsilon, weight_decay, t, epsilon_root=None):
        param, grad = prepare(param, grad, lr, weight_decay)
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        if tracked == "corrected":
            v_hat = pt.maximum(v_hat, v / (1 - beta2**t))
            direction = _adam_step(lr, m, t, beta1, beta2, epsilon, epsilon_root, placement, v_hat=v_hat)
        else:
            v_hat = pt.maximum(v_hat, v)
            direction = _adam_step(lr, m, t, beta1, beta2, epsilon, epsilon_root, placement, v=v_hat)
        return m, v, v_hat, param - direction

    return elementwise_rule(
        formula, loss_or_grads, params, "amsgrad", slots=["m", "v", "v_hat"], counter=True,
        lr=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon,
        **optional_hyperparameters(epsilon_root=epsilon_root), weight_decay=weight_decay,
    )


# ---------------------------------------------------------------------------
# torch.optim's and optax's


@update_rule(
    anchors={
        "torch.optim.AdamW": {},
        "optax.adamw": {"weight_decay": 1e-4},
        "keras.optimizers.AdamW": {"weight_decay": 0.004, "epsilon": 1e-7, "epsilon_placement": "raw"},
    }
)
def adamw(
    loss_or_grads,
    params,
    learning_rate=0.001,
    beta1=0.9,
    beta2=0.999,
    epsilon=1e-8,
    weight_decay=0.01,
    *,
    epsilon_placement="corrected",
    epsilon_root=0.0,
    maximize=False,
):
    """AdamW: Adam with decoupled weight decay.

    ::

        param := param * (1 - learning_rate * weight_decay)
        m     := beta1 * m + (1 - beta1) * grad
        v     := beta2 * v + (1 - beta2) * grad**2
        param := param - learning_rate * m_hat / (sqrt(v_hat + epsilon_root) + epsilon)

    with ``m_hat = m / (1 - beta1**t)`` and ``v_hat = v / (1 - beta2**t)``.

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 0.001).
    beta1, beta2 : float or symbolic scalar
        Moment decay rates (0.9, 0.999).
    epsilon : float or symbolic scalar
        Added to the root of the second moment (default 1e-8).
    weight_decay : float or symbolic scalar
        Decoupled decay rate, multiplied by the learning rate (default 0.01,
        torch's; optax's default is 1e-4, Keras' 0.004).
    epsilon_placement : {"corrected", "raw"}
        As in :func:`adam`; default ``"corrected"`` (torch, optax), Keras'
        AdamW is ``"raw"``.
    epsilon_root, maximize
        As in :func:`adam`.

    Notes
    -----
    Same as ``adam(..., decoupled_weight_decay=True)``.  State:
    ``<param>.adamw.m``, ``.v``, counter ``adamw.t``.  Reference:
    Loshchilov and Hutter (2019), Decoupled Weight Decay Regularization, ICLR.
    """
    return _adam_updates(
        "adamw", loss_or_grads, params, learning_rate, beta1, beta2, epsilon,
        epsilon_placement, epsilon_root, weight_decay, True, maximize,
    )


@update_rule(
    anchors={
        "torch.optim.RAdam": {},
        "optax.radam": {"epsilon_placement": "corrected"},
    },
    # the rectification term's root is of (rho_t - 4) (rho_t - 2): below 4 it is NaN
    ranges={"threshold": Range(4, np.inf)},
)
def radam(
    loss_or_grads,
    params,
    learning_rate=0.001,
    beta1=0.9,
    beta2=0.999,
    epsilon=1e-8,
    *,
    threshold=5.0,
    epsilon_placement="raw",
    epsilon_root=0.0,
    weight_decay=0.0,
    decoupled_weight_decay=False,
    maximize=False,
):
    """RAdam: Adam whose adaptive step is switched on once its variance is tractable.

    ::

        m       := beta1 * m + (1 - beta1) * grad
        v       := beta2 * v + (1 - beta2) * grad**2
        rho_inf  = 2 / (1 - beta2) - 1
        rho_t    = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        r_t      = sqrt((rho_t - 4) (rho_t - 2) rho_inf / ((rho_inf - 4) (rho_inf - 2) rho_t))
        param   := param - learning_rate * r_t * m_hat / (sqrt(v_hat) + epsilon)   if rho_t > threshold
        param   := param - learning_rate * m_hat                                   otherwise

    with ``m_hat = m / (1 - beta1**t)``, ``v_hat = v / (1 - beta2**t)``.

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 0.001).
    beta1, beta2 : float or symbolic scalar
        Moment decay rates (0.9, 0.999).
    epsilon : float or symbolic scalar
        Added to the root of the second moment (default 1e-8).
    threshold : float or symbolic scalar
        The adaptive step is used when ``rho_t > threshold`` (default 5,
        torch's; optax tests ``>=``, which differs only when ``rho_t`` equals
        the threshold exactly).
    epsilon_placement : {"raw", "corrected"}
        torch adds epsilon to ``sqrt(v)`` and multiplies by
        ``sqrt(1 - beta2**t)`` afterwards (``"raw"``, default); optax adds it
        to ``sqrt(v_hat)`` (``"corrected"``).
    epsilon_root, weight_decay, decoupled_weight_decay, maximize
        As in :func:`adam`.

    Notes
    -----
    State: ``<param>.radam.m``, ``.v``, counter ``radam.t``.  Reference:
    Liu et al. (2020), On the Variance of the Adaptive Learning Rate and
    Beyond, ICLR, arXiv:1908.03265.
    """
    placement = check_choice("epsilon_placement", epsilon_placement, _ADAM_PLACEMENTS)
    prepare = _torch_preamble(weight_decay, decoupled_weight_decay, maximize)

    def formula(param, grad, m, v, lr, beta1, beta2, epsilon, weight_decay, threshold, t, epsilon_root=None):
        param, grad = prepare(param, grad, lr, weight_decay)
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        rectifier = pt.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        adaptive = rectifier * _adam_step(lr, m, t, beta1, beta2, epsilon, epsilon_root, placement, v=v)
        momentum_only = lr * m / (1 - beta1**t)
        return m, v, param - pt.switch(rho_t > threshold, adaptive, momentum_only)

    return elementwise_rule(
        formula, loss_or_grads, params, "radam", slots=["m", "v"], counter=True,
        lr=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon,
        **optional_hyperparameters(epsilon_root=epsilon_root), weight_decay=weight_decay, threshold=threshold,
    )


def _nadam_momentum(beta1, schedule_decay, t):
    """Dozat's warming momentum schedule: ``beta1 * (1 - 0.5 * 0.96**(t * schedule_decay))``."""
    half, base = (np.asarray(c, dtype=beta1.dtype) for c in (0.5, 0.96))
    return beta1 * (1 - half * base ** (t * schedule_decay))


@update_rule(
    anchors={
        "torch.optim.NAdam": {},
        "keras2.optimizers.Nadam": {"epsilon": 1e-7},
        "keras.optimizers.Nadam": {"learning_rate": 0.001, "epsilon": 1e-7, "schedule_decay": 1.0},
    }
)
def nadam(
    loss_or_grads,
    params,
    learning_rate=0.002,
    beta1=0.9,
    beta2=0.999,
    epsilon=1e-8,
    schedule_decay=0.004,
    *,
    weight_decay=0.0,
    decoupled_weight_decay=False,
    maximize=False,
):
    """Nadam: Adam with Nesterov momentum and Dozat's warming momentum schedule.

    ::

        mu_t       = beta1 * (1 - 0.5 * 0.96**(t * schedule_decay))
        mu_product := mu_product * mu_t                 (starts at 1)
        m          := beta1 * m + (1 - beta1) * grad
        v          := beta2 * v + (1 - beta2) * grad**2
        m_bar       = (1 - mu_t) * grad / (1 - mu_product)
                      + mu_{t+1} * m / (1 - mu_product * mu_{t+1})
        param      := param - learning_rate * m_bar / (sqrt(v / (1 - beta2**t)) + epsilon)

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 0.002).
    beta1, beta2 : float or symbolic scalar
        Moment decay rates (0.9, 0.999).
    epsilon : float or symbolic scalar
        Added to the root of the corrected second moment (default 1e-8;
        Keras' is 1e-7).
    schedule_decay : float or symbolic scalar
        Speed of the momentum schedule (default 0.004): Keras 2's
        ``schedule_decay``, torch's ``momentum_decay``.  Keras 3's Nadam
        uses ``0.96**t``, that is ``schedule_decay=1``.
    weight_decay, decoupled_weight_decay, maximize
        torch's switches, as in :func:`adam`.

    Notes
    -----
    State: ``<param>.nadam.m``, ``<param>.nadam.v``, the counter
    ``nadam.t`` and the schedule product ``nadam.mu_product`` (a scalar of
    the widest parameter dtype),
    all saved by :func:`symupdates.get_state_values` (Keras 2.2 lost the
    product when saving).  optax.nadam is a different algorithm (no schedule).
    Reference: Dozat (2016), Incorporating Nesterov Momentum into Adam, ICLR
    workshop.
    """
    prepare = _torch_preamble(weight_decay, decoupled_weight_decay, maximize)

    def advance_product(mu_product, beta1, schedule_decay, t):
        return mu_product * _nadam_momentum(beta1, schedule_decay, t)

    def formula(param, grad, m, v, lr, beta1, beta2, epsilon, schedule_decay, weight_decay, mu_product, t):
        param, grad = prepare(param, grad, lr, weight_decay)
        mu = _nadam_momentum(beta1, schedule_decay, t)
        mu_next = _nadam_momentum(beta1, schedule_decay, t + 1)
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        m_bar = (1 - mu) * grad / (1 - mu_product) + mu_next * m / (1 - mu_product * mu_next)
        return m, v, param - lr * m_bar / (pt.sqrt(v / (1 - beta2**t)) + epsilon)

    return elementwise_rule(
        [across_tensors(advance_product, returns="mu_product"), elementwise(formula, returns=("m", "v", "param"))],
        loss_or_grads, params, "nadam", slots=["m", "v"], counter=True, scalar_slots=[("mu_product", 1.0)],
        lr=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon,
        schedule_decay=schedule_decay, weight_decay=weight_decay,
    )


@update_rule(anchors={"optax.adabelief": {}})
def adabelief(
    loss_or_grads,
    params,
    learning_rate=0.001,
    beta1=0.9,
    beta2=0.999,
    epsilon=1e-16,
    *,
    epsilon_root=1e-16,
):
    """AdaBelief: Adam whose second moment is that of the gradient's surprise ``grad - m``.

    ::

        m     := beta1 * m + (1 - beta1) * grad
        s     := beta2 * s + (1 - beta2) * (grad - m)**2 + epsilon_root
        param := param - learning_rate * m_hat / (sqrt(s_hat) + epsilon)

    with ``m_hat = m / (1 - beta1**t)``, ``s_hat = s / (1 - beta2**t)``.

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 0.001).
    beta1, beta2 : float or symbolic scalar
        Moment decay rates (0.9, 0.999).
    epsilon : float or symbolic scalar
        Added to the root (default 1e-16).
    epsilon_root : float or symbolic scalar
        Added to ``s`` at every step, so inside the square root (default
        1e-16, optax's and the paper's).

    Notes
    -----
    State: ``<param>.adabelief.m``, ``.s``, counter ``adabelief.t``.
    Reference: Zhuang et al. (2020), AdaBelief Optimizer: Adapting Stepsizes
    by the Belief in Observed Gradients, NeurIPS, arXiv:2010.07468.
    """

    def formula(param, grad, m, s, lr, beta1, beta2, epsilon, epsilon_root, t):
        m = beta1 * m + (1 - beta1) * grad
        s = beta2 * s + (1 - beta2) * (grad - m) ** 2 + epsilon_root
        m_hat = m / (1 - beta1**t)
        s_hat = s / (1 - beta2**t)
        return m, s, param - lr * m_hat / (pt.sqrt(s_hat) + epsilon)

    return elementwise_rule(
        formula, loss_or_grads, params, "adabelief", slots=["m", "s"], counter=True,
        lr=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon, epsilon_root=epsilon_root,
    )


@update_rule(anchors={"optax.yogi": {}})
def yogi(
    loss_or_grads,
    params,
    learning_rate=0.01,
    beta1=0.9,
    beta2=0.999,
    epsilon=1e-3,
    *,
    initial_accumulator_value=1e-6,
    epsilon_root=0.0,
):
    """Yogi: Adam whose second moment moves additively, by the sign of its error.

    ::

        m     := beta1 * m + (1 - beta1) * grad
        v     := v - (1 - beta2) * sign(v - grad**2) * grad**2
        param := param - learning_rate * m_hat / (sqrt(v_hat + epsilon_root) + epsilon)

    with ``m_hat = m / (1 - beta1**t)``, ``v_hat = v / (1 - beta2**t)``, and
    ``m`` and ``v`` starting at ``initial_accumulator_value``.

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 0.01, the paper's).
    beta1, beta2 : float or symbolic scalar
        Moment decay rates (0.9, 0.999).
    epsilon : float or symbolic scalar
        Added to the root (default 1e-3).
    initial_accumulator_value : float
        Initial value of both moments (default 1e-6).
    epsilon_root : float or symbolic scalar
        Added inside the square root (default 0).

    Notes
    -----
    State: ``<param>.yogi.m``, ``.v``, counter ``yogi.t``.  Overflow: a
    gradient whose square overflows (above about 1.8e19 in float32) makes
    ``v`` infinite, and the next step's ``v - grad**2`` NaN, as in
    ``optax.yogi``; wrap the rule in ``skip_nonfinite(rule,
    check_updates=True)`` to skip such steps.  Reference:
    Zaheer et al. (2018), Adaptive Methods for Nonconvex Optimization,
    NeurIPS.
    """
    init = initial_value("initial_accumulator_value", initial_accumulator_value)

    def formula(param, grad, m, v, lr, beta1, beta2, epsilon, t, epsilon_root=None):
        m = beta1 * m + (1 - beta1) * grad
        v = v - (1 - beta2) * pt.sign(v - grad**2) * grad**2
        return m, v, param - _adam_step(lr, m, t, beta1, beta2, epsilon, epsilon_root, "corrected", v=v)

    return elementwise_rule(
        formula, loss_or_grads, params, "yogi", slots=[("m", init), ("v", init)], counter=True,
        lr=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon, **optional_hyperparameters(epsilon_root=epsilon_root),
    )


@update_rule(anchors={"optax.adan": {}})
def adan(
    loss_or_grads,
    params,
    learning_rate=0.001,
    beta1=0.98,
    beta2=0.92,
    beta3=0.99,
    epsilon=1e-8,
    *,
    epsilon_root=1e-8,
    weight_decay=0.0,
):
    """Adan: adaptive Nesterov momentum from moving averages of gradient differences.

    ::

        diff  = grad - grad_prev            (0 on the first step)
        m     := beta1 * m + (1 - beta1) * grad
        v     := beta2 * v + (1 - beta2) * diff
        n     := beta3 * n + (1 - beta3) * (grad + (1 - beta2) * diff)**2
        u      = (m_hat + (1 - beta2) * v_hat) / (sqrt(n_hat + epsilon_root) + epsilon)
        param := param - learning_rate * (u + weight_decay * param)

    with every ``x_hat = x / (1 - beta_x**t)``.

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 0.001).
    beta1, beta2, beta3 : float or symbolic scalar
        Decay rates of the gradient, difference and squared-correction
        averages (0.98, 0.92, 0.99; optax's convention: the paper writes
        ``1 - beta``).
    epsilon : float or symbolic scalar
        Added to the root (default 1e-8).
    epsilon_root : float or symbolic scalar
        Added inside the square root (default 1e-8, optax's).
    weight_decay : float or symbolic scalar
        Decoupled decay, scaled by the learning rate (default 0).

    Notes
    -----
    State: ``<param>.adan.m``, ``.v``, ``.n``, ``.previous_grad``, counter
    ``adan.t``.  Reference: Xie et al. (2022), Adan: Adaptive Nesterov
    Momentum Algorithm for Faster Optimizing Deep Models, arXiv:2208.06677.
    """

    def formula(param, grad, m, v, n, previous_grad, lr, beta1, beta2, beta3, epsilon, epsilon_root, weight_decay, t):
        diff = pt.switch(t > 1, grad - previous_grad, 0)
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * diff
        n = beta3 * n + (1 - beta3) * (grad + (1 - beta2) * diff) ** 2
        m_hat, v_hat, n_hat = m / (1 - beta1**t), v / (1 - beta2**t), n / (1 - beta3**t)
        u = (m_hat + (1 - beta2) * v_hat) / (pt.sqrt(n_hat + epsilon_root) + epsilon)
        return m, v, n, grad, param - lr * (u + weight_decay * param)

    return elementwise_rule(
        formula, loss_or_grads, params, "adan", slots=["m", "v", "n", "previous_grad"], counter=True,
        lr=learning_rate, beta1=beta1, beta2=beta2, beta3=beta3, epsilon=epsilon,
        epsilon_root=epsilon_root, weight_decay=weight_decay,
    )


@update_rule(anchors={"optax.contrib.adopt": {}})
def adopt(
    loss_or_grads,
    params,
    learning_rate=0.001,
    beta1=0.9,
    beta2=0.9999,
    epsilon=1e-6,
    *,
    nesterov=False,
    clipping=True,
):
    """ADOPT: Adam that normalizes the gradient by the second moment of the steps before it.

    ::

        c     = sqrt(sqrt(t - 1))                  (the clip value; 0 on the first step)
        u     = clip(grad / max(sqrt(v), epsilon), -c, c)   (v before this step's update)
        m     := beta1 * m + (1 - beta1) * u       (m := m on the first step)
        v     := beta2 * v + (1 - beta2) * grad**2 (v := grad**2 on the first step)
        param := param - learning_rate * m

    The first step only initializes ``v``.  Because ``u`` is normalized by
    a ``v`` that does not hold the current gradient, ADOPT converges for any
    ``beta2`` (the paper's theorem), where Adam needs ``beta2`` near 1.

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 0.001).
    beta1, beta2 : float or symbolic scalar
        Decay rates of the first and second moments (0.9, 0.9999).
    epsilon : float or symbolic scalar
        Lower bound of ``sqrt(v)`` in the normalization (default 1e-6).
    nesterov : bool
        Step along ``beta1 * m + (1 - beta1) * u`` with the new ``m`` (on the
        first step, ``m``) instead of ``m`` (default False).
    clipping : bool
        Clip the normalized gradient into ``[-c, c]`` (default True, the
        paper's stabilized form and optax's ``use_clipping``); without it
        ``u = grad / max(sqrt(v), epsilon)``.

    Notes
    -----
    The numbers of ``optax.contrib.adopt`` (its default ``clip_value_fn``,
    ``t**0.25`` of the steps done).  State: ``<param>.adopt.m``,
    ``<param>.adopt.v``, counter ``adopt.t``.  Reference: Taniguchi et al.
    (2024), ADOPT: Modified Adam Can Converge with Any beta2 with the
    Optimal Rate, NeurIPS, arXiv:2411.02853.
    """
    nesterov = check_switch("nesterov", nesterov)
    clipping = check_switch("clipping", clipping)

    def formula(param, grad, m, v, lr, beta1, beta2, epsilon, t):
        first = pt.eq(t, 1)
        beta1 = pt.switch(first, 1, beta1)
        beta2 = pt.switch(first, 0, beta2)
        u = grad / pt.maximum(pt.sqrt(v), epsilon)
        if clipping:
            c = pt.sqrt(pt.sqrt(t - 1))
            u = pt.clip(u, -c, c)
        m = beta1 * m + (1 - beta1) * u
        direction = beta1 * m + (1 - beta1) * u if nesterov else m
        v = beta2 * v + (1 - beta2) * grad**2
        return m, v, param - lr * direction

    return elementwise_rule(
        formula, loss_or_grads, params, "adopt", slots=["m", "v"], counter=True,
        lr=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon,
    )


@update_rule(
    anchors={"optax.contrib.schedule_free_adamw": {}},
    ranges={"beta1": Range(0, 1, low_open=True, high_open=True), "weight_lr_power": Range(0, np.inf),
            "warmup_steps": Range(1, np.inf, integer=True, optional=True)},
)
def schedule_free_adamw(
    loss_or_grads,
    params,
    learning_rate=0.0025,
    warmup_steps=None,
    beta1=0.9,
    beta2=0.999,
    epsilon=1e-8,
    weight_decay=0.0,
    weight_lr_power=2.0,
):
    """Schedule-Free AdamW: no learning-rate schedule, an average of the iterates instead.

    The parameter holds ``y``, where gradients are evaluated; the rule keeps
    ``z``, the plain steps (it starts at the parameter's value), and ``x``,
    their running average, is ``(y - (1 - beta1) * z) / beta1``::

        lr_t       = learning_rate * min(t / warmup_steps, 1)   (learning_rate without warmup)
        max_lr    := max(max_lr, lr_t)
        weight_sum := weight_sum + max_lr**weight_lr_power
        c          = max_lr**weight_lr_power / weight_sum        (0 while the sum is 0)
        v         := beta2 * v + (1 - beta2) * grad**2
        u          = grad / (sqrt(v / (1 - beta2**t)) + epsilon) + weight_decay * y
        z_next     = z - lr_(t-1) * u
        x          = (1 - c) * (y - (1 - beta1) * z) / beta1 + c * z_next
        z         := z_next
        y         := beta1 * x + (1 - beta1) * z

    Evaluate the model at ``x``, not at the parameters:
    :func:`schedule_free_eval_params` gives its expressions.

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size after warmup (default 0.0025).
    warmup_steps : int or None
        Length of the linear warmup from 0 (default None: no warmup).
    beta1 : float or symbolic scalar
        Weight of ``x`` in the interpolation ``y`` (default 0.9, in (0, 1)).
    beta2 : float or symbolic scalar
        Decay rate of the second moment (default 0.999).
    epsilon : float or symbolic scalar
        Added to the root of the bias-corrected second moment (default 1e-8).
    weight_decay : float or symbolic scalar
        Decoupled weight decay at ``y``, scaled by the learning rate (default 0).
    weight_lr_power : float or symbolic scalar
        Steps are averaged with weights ``max_lr**weight_lr_power`` (default 2).

    Notes
    -----
    The numbers of ``optax.contrib.schedule_free_adamw``, whose step ``z``
    uses the warmup's learning rate of the step before (``lr_(t-1)``) and
    whose weights the current one.  State: ``<param>.schedule_free_adamw.z``,
    ``.v``, counter ``schedule_free_adamw.t``, scalars
    ``schedule_free_adamw.max_lr`` and ``.weight_sum``.  Reference: Defazio
    et al. (2024), The Road Less Scheduled, NeurIPS, arXiv:2405.15682.
    """
    def scheduled(lr, t):
        return lr if warmup_steps is None else lr * pt.minimum(t / warmup_steps, 1)

    def advance_weights(max_lr, weight_sum, lr, weight_lr_power, t):
        max_lr = pt.maximum(max_lr, scheduled(lr, t))
        return max_lr, weight_sum + max_lr**weight_lr_power

    def formula(param, grad, z, v, lr, beta1, beta2, epsilon, weight_decay, weight_lr_power, max_lr, weight_sum, t):
        c = pt.switch(weight_sum > 0, max_lr**weight_lr_power / weight_sum, 0)
        v = beta2 * v + (1 - beta2) * grad**2
        u = grad / (pt.sqrt(v / (1 - beta2**t)) + epsilon) + weight_decay * param
        z_next = z - scheduled(lr, t - 1) * u
        x = (1 - c) * (param - (1 - beta1) * z) / beta1 + c * z_next
        return z_next, v, beta1 * x + (1 - beta1) * z_next

    return elementwise_rule(
        [across_tensors(advance_weights, returns=("max_lr", "weight_sum")),
         elementwise(formula, returns=("z", "v", "param"))],
        loss_or_grads, params, "schedule_free_adamw", slots=[("z", np.copy), "v"], counter=True,
        scalar_slots=[("max_lr", 0.0), ("weight_sum", 0.0)],
        lr=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon, weight_decay=weight_decay,
        weight_lr_power=weight_lr_power,
    )


def schedule_free_eval_params(updates, beta1=0.9):
    """Where to evaluate a model trained by :func:`schedule_free_adamw`: ``x`` for every parameter.

    Returns an ``OrderedDict`` ``{param: (param - (1 - beta1) * z) / beta1}``
    with ``z`` the parameter's ``<param>.schedule_free_adamw.z``, ready for
    ``pytensor.function(..., givens=...)``; ``beta1`` must be the rule's.
    The counterpart of ``optax.contrib.schedule_free_eval_params``.
    """
    check_ranges("schedule_free_eval_params", {"beta1": beta1}, {"beta1": Range(0, 1, low_open=True, high_open=True)})
    x, z = OrderedDict(), None
    for var in updates:  # every parameter comes after its own state
        if is_state(var):
            if state_slot(var) == ("schedule_free_adamw", "z"):
                z = var
        elif z is not None:
            beta1_ = as_hyperparameter(beta1, var.dtype, "beta1")
            x[var] = as_type_of((var - (1 - beta1_) * z) / beta1_, var)
            z = None
    if not x:
        raise ValueError("schedule_free_eval_params: these updates hold no schedule_free_adamw state")
    return x


# ---------------------------------------------------------------------------
# Chainer's


def _bounded_step(m, v, lr, beta1, beta2, final_lr, gamma, epsilon, t):
    """AdaBound's step: Adam's per-element step size clipped into ``[lower, upper]``, times ``m``."""
    lower = final_lr * (1 - 1 / (gamma * t + 1))
    upper = final_lr * (1 + 1 / (gamma * t))
    a_t = lr * pt.sqrt(1 - beta2**t) / (1 - beta1**t)
    return pt.clip(a_t / (pt.sqrt(v) + epsilon), lower, upper) * m


@update_rule(anchors={"chainer.optimizers.AdaBound": {}})
def adabound(
    loss_or_grads, params, learning_rate=0.001, beta1=0.9, beta2=0.999, final_lr=0.1, gamma=1e-3, epsilon=1e-8
):
    """AdaBound: Adam whose per-element step size is clipped into bounds converging to SGD's.

    ::

        m         := beta1 * m + (1 - beta1) * grad
        v         := beta2 * v + (1 - beta2) * grad**2
        a_t        = learning_rate * sqrt(1 - beta2**t) / (1 - beta1**t)
        lower      = final_lr * (1 - 1 / (gamma * t + 1))
        upper      = final_lr * (1 + 1 / (gamma * t))
        param     := param - clip(a_t / (sqrt(v) + epsilon), lower, upper) * m

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        Adam's step size (default 0.001).
    beta1, beta2 : float or symbolic scalar
        Moment decay rates (0.9, 0.999).
    final_lr : float or symbolic scalar
        The SGD learning rate both bounds converge to (default 0.1).
    gamma : float or symbolic scalar
        Convergence speed of the bounds (default 1e-3).
    epsilon : float or symbolic scalar
        Added to the root of the second moment (default 1e-8).

    Notes
    -----
    Chainer's ``Adam(adabound=True)`` (and Luo's reference code).  Chainer
    rescales ``final_lr`` when its learning rate is changed by a schedule;
    here ``final_lr`` is a hyperparameter of its own.  State:
    ``<param>.adabound.m``, ``.v``, counter ``adabound.t``.  Reference: Luo
    et al. (2019), Adaptive Gradient Methods with Dynamic Bound of Learning
    Rate, ICLR.
    """

    def formula(param, grad, m, v, lr, beta1, beta2, final_lr, gamma, epsilon, t):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        return m, v, param - _bounded_step(m, v, lr, beta1, beta2, final_lr, gamma, epsilon, t)

    return elementwise_rule(
        formula, loss_or_grads, params, "adabound", slots=["m", "v"], counter=True,
        lr=learning_rate, beta1=beta1, beta2=beta2, final_lr=final_lr, gamma=gamma, epsilon=epsilon,
    )


@update_rule(anchors={"chainer.optimizers.AMSBound": {}})
def amsbound(
    loss_or_grads, params, learning_rate=0.001, beta1=0.9, beta2=0.999, final_lr=0.1, gamma=1e-3, epsilon=1e-8
):
    """AMSBound: AdaBound on AMSGrad's running maximum of the second moment.

    As :func:`adabound`, with ``v_max := max(v_max, v)`` in place of ``v``
    in the step size (the maximum of the raw second moment, as Chainer's
    ``Adam(amsgrad=True, adabound=True)``).  Same parameters and defaults.
    State: ``<param>.amsbound.m``, ``.v``, ``.v_hat``, counter
    ``amsbound.t``.  Reference: Luo et al. (2019), ICLR.
    """

    def formula(param, grad, m, v, v_hat, lr, beta1, beta2, final_lr, gamma, epsilon, t):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        v_hat = pt.maximum(v_hat, v)
        return m, v, v_hat, param - _bounded_step(m, v_hat, lr, beta1, beta2, final_lr, gamma, epsilon, t)

    return elementwise_rule(
        formula, loss_or_grads, params, "amsbound", slots=["m", "v", "v_hat"], counter=True,
        lr=learning_rate, beta1=beta1, beta2=beta2, final_lr=final_lr, gamma=gamma, epsilon=epsilon,
    )
