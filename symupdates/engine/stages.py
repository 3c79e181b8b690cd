"""The stages a rule is built from, and how values flow between them.

A rule is a list of stages over *named values*.  Each parameter has its
own values: ``param``, ``grad``, ``index`` (its position in ``params``),
its state slots by name, and whatever earlier stages returned for it.  The
rule as a whole has the hyperparameters, the step number ``t`` and its
scalar slots.  A stage function's arguments are looked up by name, first
among the tensor's values, then among the rule's; what it returns is stored
under the names in ``returns``.  Three kinds:

* :class:`elementwise`: a formula on scalars, traced once and applied to
  every tensor by fused kernels (:func:`symupdates.engine.apply.apply_composite`);
  a tensor's values it reads are the kernel's rows, the rule's values are
  loop-invariant 0-d inputs, cast to the kernel's dtype;
* :class:`per_tensor`: an ordinary graph per tensor (a norm, a reduction
  over axes, a matrix iteration), whose results an element-wise stage may
  read as 0-d or broadcasting row entries; the rule's values come cast to
  the tensor's dtype;
* :class:`across_tensors`: an ordinary graph over all tensors at once (a
  product of decay factors, a dot product over the whole model), which
  reads a tensor value as the list of it over the tensors and returns
  values of the rule; these are in the widest parameter dtype.

A value may be a tuple of tensors (a slot with one state variable per axis);
an element-wise stage passes it to its formula as a tuple of scalars.
"""

import inspect
from collections import OrderedDict

import numpy as np
import pytensor.tensor as pt

from ..core import as_hyperparameter, as_type_of
from .trace import trace_elementwise

__all__ = ["elementwise", "per_tensor", "across_tensors"]

#: Formulas abbreviate some arguments; errors name the rule's argument.
ARGUMENT_NAMES = {"lr": "learning_rate"}


class _Stage:
    kind = None

    def __init__(self, fn, returns):
        self.fn = fn
        self.returns = (returns,) if isinstance(returns, str) else tuple(returns)
        signature = inspect.signature(fn)
        self.arguments = [
            (name, p.default is not inspect.Parameter.empty)
            for name, p in signature.parameters.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in signature.parameters.values()):
            raise TypeError("%s: a stage function names its arguments (no *args or **kwargs), so that "
                            "each is looked up by name" % fn.__name__)

    def __repr__(self):
        return "%s(%s -> %s)" % (self.kind, self.fn.__name__, ", ".join(self.returns))


class elementwise(_Stage):
    """An element-wise stage: ``formula``'s scalar outputs, stored under ``returns``.

    An output named after a slot (or ``param``) that the tensor's row still
    holds as the state variable itself may overwrite it in place.
    """

    kind = "elementwise"


class per_tensor(_Stage):
    """A stage computed tensor by tensor with ordinary PyTensor operations."""

    kind = "per_tensor"


class across_tensors(_Stage):
    """A stage over all tensors: tensor values come as lists, it returns values of the rule."""

    kind = "across_tensors"


class Values:
    """The named values of a rule being built: one dict per tensor and one of the rule."""

    def __init__(self, rule, params, tensors, rule_values):
        self.rule = rule
        self.tensors = tensors  # one OrderedDict per parameter
        self.rule_values = rule_values  # numbers or symbolic scalars, as given
        self.wide_dtype = np.result_type(*[p.dtype for p in params]).name
        self._cast = {}

    def cast(self, name, dtype):
        """The rule's value ``name`` as a 0-d of ``dtype``, built once per dtype."""
        key = (name, dtype)
        if key not in self._cast:
            value = self.rule_values[name]
            self._cast[key] = as_hyperparameter(value, dtype, name=ARGUMENT_NAMES.get(name, name))
        return self._cast[key]

    def binding(self, stage):
        """``(tensor names, rule names)`` of ``stage``'s arguments (:func:`check_bindings` refused unknown ones)."""
        tensor_names = [name for name, _ in stage.arguments if name in self.tensors[0]]
        rule_names = [name for name, _ in stage.arguments if name not in self.tensors[0] and name in self.rule_values]
        return tensor_names, rule_names

    def store(self, stage, where, outputs):
        """Store what ``stage.fn`` returned: one value per name (a tuple of them for several)."""
        outputs = tuple(outputs) if len(stage.returns) > 1 and isinstance(outputs, (tuple, list)) else (outputs,)
        if len(outputs) != len(stage.returns):
            raise ValueError("%s: %s returned %d values for %d names (%s)"
                             % (self.rule, stage.fn.__name__, len(outputs), len(stage.returns), ", ".join(stage.returns)))
        where.update(zip(stage.returns, outputs))
        if where is self.rule_values:  # new values of the rule: their casts are out of date
            self._cast = {k: v for k, v in self._cast.items() if k[0] not in stage.returns}


def check_bindings(stages, values):
    """Refuse, before anything is created, a stage argument that no value or earlier stage provides."""
    tensor_names, rule_names = set(values.tensors[0]), set(values.rule_values)
    for stage in stages:
        if not isinstance(stage, _Stage):
            raise TypeError("%s: a rule's stages are elementwise, per_tensor or across_tensors, got %r"
                            % (values.rule, stage))
        for name, optional in stage.arguments:
            if name not in tensor_names and name not in rule_names and not optional:
                raise TypeError(
                    "%s: the argument %r of %s names no value; the tensors' values are %s and the rule's %s"
                    % (values.rule, name, stage.fn.__name__, ", ".join(sorted(tensor_names)),
                       ", ".join(sorted(rule_names)))
                )
        (rule_names if stage.kind == "across_tensors" else tensor_names).update(stage.returns)


def run_stages(stages, values, state):
    """Run ``stages`` in order on ``values``; ``state[i]`` maps tensor ``i``'s slot names (and
    ``param``) to its shared variables."""
    for stage in stages:
        if stage.kind == "per_tensor":
            tensor_names, rule_names = values.binding(stage)
            for tensor in values.tensors:
                dtype = tensor["param"].dtype
                args = {n: tensor[n] for n in tensor_names}
                args.update((n, values.cast(n, dtype)) for n in rule_names)
                values.store(stage, tensor, stage.fn(**args))
        elif stage.kind == "across_tensors":
            tensor_names, rule_names = values.binding(stage)
            args = {n: [tensor[n] for tensor in values.tensors] for n in tensor_names}
            args.update((n, values.cast(n, values.wide_dtype)) for n in rule_names)
            values.store(stage, values.rule_values, stage.fn(**args))
        else:
            _run_elementwise(stage, values, state)


def entries_of(value):
    """The tensors of a value: itself, or the entries of a tuple of them."""
    return tuple(value) if isinstance(value, tuple) else (value,)


def _run_elementwise(stage, values, state):
    """An element-wise stage: rows grouped by dtypes and widths, one traced composite per group."""
    from .apply import apply_composite

    tensor_names, rule_names = values.binding(stage)
    groups = OrderedDict()
    rows, like = [], []
    for i, tensor in enumerate(values.tensors):
        entries = [entries_of(tensor[n]) for n in tensor_names]
        row = tuple(pt.as_tensor_variable(x) for entry in entries for x in entry)
        # An output named after a slot takes its state variable's type, any other one the parameter's.
        out_like = tuple(state[i].get(name, state[i]["param"]) for name in stage.returns)
        if any(isinstance(v, tuple) for v in out_like):
            raise TypeError("%s: %s returns %s, which holds several state variables; return it from a "
                            "per_tensor stage" % (values.rule, stage.fn.__name__, stage.returns))
        rows.append(row)
        like.append(out_like)
        widths = tuple(len(e) if isinstance(tensor[n], tuple) else None for e, n in zip(entries, tensor_names))
        key = (tuple(x.dtype for x in row), tuple(v.dtype for v in out_like), widths)
        groups.setdefault(key, []).append(i)

    for (input_dtypes, output_dtypes, width), indices in groups.items():
        dtype = output_dtypes[0]

        def formula(*elements, **rule_values):
            args, k = {}, 0
            for name, w in zip(tensor_names, width):
                args[name] = elements[k] if w is None else tuple(elements[k:k + w])
                k += 1 if w is None else w
            return stage.fn(**args, **rule_values)

        formula.__name__ = stage.fn.__name__
        composite, invariants = trace_elementwise(
            formula, input_dtypes, output_dtypes, {n: values.cast(n, dtype) for n in rule_names}, values.rule)
        # An output may overwrite the state variable it replaces while the row still holds it.
        targets = [tuple(state[i].get(name) if values.tensors[i].get(name) is state[i].get(name) else None
                         for name in stage.returns) for i in indices]
        outputs = apply_composite(composite, [rows[i] for i in indices], invariants, targets)
        for i, outs in zip(indices, outputs):
            values.tensors[i].update(zip(stage.returns, (as_type_of(o, v) for o, v in zip(outs, like[i]))))
