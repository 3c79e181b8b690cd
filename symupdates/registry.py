"""The registry of update rules, and the partial application rules, transforms and wrappers share.

:func:`update_rule` registers a rule in :data:`RULES`; it,
:func:`gradient_transform` and :func:`update_wrapper` give their function
PyMC's partial application (called with hyperparameters only, it returns a
function of the rest) through one mechanism, :func:`hyperparameters_only`,
and mark it with the ``kind`` :func:`symupdates.chain` sorts steps by.
"""

import functools
import inspect
from collections import OrderedDict

from .core import check_ranges
from .schedules import with_schedules

__all__ = ["RULES", "update_rule", "gradient_transform", "update_wrapper", "kind_of"]


def hyperparameters_only(who, signature, first, second, args, kwargs):
    """The hyperparameters of a call that gives neither ``first`` nor ``second``; None for a full call.

    The hyperparameters are checked against ``signature`` at once
    (``TypeError`` for an unknown or missing one).  Giving one of
    ``first`` and ``second`` but not the other raises ``ValueError``.
    """
    bound = signature.bind_partial(*args, **kwargs)
    a = bound.arguments.get(first)
    b = bound.arguments.get(second) if second else None
    if a is not None and (b is not None or not second):
        return None
    if a is not None or b is not None:
        raise ValueError("%s: give both %s and %s, or neither to get a function of them" % (who, first, second))
    hyper = {k: v for k, v in bound.arguments.items() if k not in (first, second)}
    signature.bind(*([None] * (2 if second else 1)), **hyper)
    return hyper


def _partially_applicable(kind, first, second=None):
    def decorate(fn):
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            hyper = hyperparameters_only(fn.__name__, signature, first, second, args, kwargs)
            if hyper is None:
                return fn(*args, **kwargs)
            partial = functools.partial(wrapper, **hyper)
            partial.kind = kind
            return partial

        wrapper.kind = kind
        return wrapper

    return decorate


def kind_of(part):
    """What a part of :func:`symupdates.chain` is: ``"transform"``, ``"wrapper"`` or ``"rule"`` (anything else)."""
    return getattr(part, "kind", None) or getattr(getattr(part, "func", None), "kind", None) or "rule"


def gradient_transform(fn):
    """Decorator: a transform ``fn(loss_or_grads, params, ...) -> grads`` with partial application."""
    return _partially_applicable("transform", "loss_or_grads", "params")(fn)


def update_wrapper(fn):
    """Decorator: a wrapper ``fn(updates, params=None, ...) -> updates`` with partial application."""
    return _partially_applicable("wrapper", "updates")(fn)


#: Every public update rule, by name, in definition order (filled by :func:`update_rule`).
RULES = OrderedDict()


def split_loss(loss_or_grads):
    """``(loss, loss_or_grads)``: the loss, if one is known, and what to compute updates from.

    PyMC's optimizers take ``(loss, grads)`` pairs: the gradients give the
    updates and the loss is passed through for the schedulers.  A scalar loss
    is its own loss; a list of gradients has none (``None``).
    """
    if isinstance(loss_or_grads, tuple) and len(loss_or_grads) == 2 and isinstance(loss_or_grads[1], (list, tuple)):
        return loss_or_grads
    if isinstance(loss_or_grads, (list, tuple)):
        return None, loss_or_grads
    return loss_or_grads, loss_or_grads


def update_rule(rule=None, *, anchors=None, ranges=None, register=True):
    """Register an update rule and give it PyMC's partial application.

    ``rule(loss_or_grads, params, ...)`` computes updates as usual; called
    with hyperparameters only (``rule(learning_rate=0.1)``) it returns a
    callable ``f(loss_or_grads, params)``.  Giving exactly one of
    ``loss_or_grads`` and ``params`` raises ``ValueError``.  Hyperparameter
    names are checked at once in both cases.

    As in PyMC, ``loss_or_grads`` may also be a pair ``(loss, grads)``: the
    updates are computed from ``grads``, and with the keyword-only
    ``discard_loss=False`` the rule returns ``(updates, loss)`` instead of
    the updates alone (``loss`` is ``None`` when only gradients were given).
    PyMC's schedulers (:mod:`symupdates.lr_schedulers`) use it to see the loss.

    ``anchors`` maps a reference implementation, named ``module.Class`` or
    ``module.function`` (``"torch.optim.Adam"``, ``"optax.adam"``,
    ``"lasagne.updates.adam"``, ``"blocks.algorithms.RMSProp"``, ...; the
    optimizers of standalone Keras 2.0-2.3, whose ``keras.optimizers`` module
    name Keras 3 took over, are ``"keras2.optimizers.Adagrad"``, ...), to the
    keyword arguments that make the rule reproduce its numbers; the tests run every anchor and the
    documentation's rule table is generated from it.  Use as ``@update_rule``
    or ``@update_rule(anchors={...})``.

    ``ranges`` maps the rule's argument names to their valid :class:`Range`
    where :data:`HYPERPARAMETER_RANGES` has none or means something else;
    every numeric argument is checked against it by :func:`check_ranges`
    when the rule is called, before anything is built.

    ``register=False`` keeps the rule out of :data:`RULES` (a rule private
    to a script); a registered name cannot be registered twice.
    """
    if rule is None:
        return functools.partial(update_rule, anchors=anchors, ranges=ranges, register=register)
    signature = inspect.signature(rule)
    first, second = list(signature.parameters)[:2]

    @functools.wraps(rule)
    def wrapper(*args, discard_loss=True, **kwargs):
        hyper = hyperparameters_only(rule.__name__, signature, first, second, args, kwargs)
        if hyper is not None:
            check_ranges(rule.__name__, hyper, ranges)
            if not discard_loss:
                hyper["discard_loss"] = False
            return functools.partial(wrapper, **hyper)
        arguments = signature.bind(*args, **kwargs)
        arguments.apply_defaults()
        check_ranges(rule.__name__, {k: v for k, v in arguments.arguments.items() if k not in (first, second)}, ranges)
        loss, arguments.arguments[first] = split_loss(arguments.arguments[first])
        updates = with_schedules(rule(*arguments.args, **arguments.kwargs))
        return updates if discard_loss else (updates, loss)

    wrapper.anchors = dict(anchors or {})
    wrapper.ranges = dict(ranges or {})
    if not register:
        return wrapper
    if rule.__name__ in RULES:
        raise ValueError("update_rule: a rule named %r is registered already (%s.%s); give the new one another name"
                         % (rule.__name__, RULES[rule.__name__].__module__, rule.__name__))
    RULES[rule.__name__] = wrapper
    return wrapper
