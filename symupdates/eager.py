"""An eager front end: any symbolic rule applied to NumPy arrays, in place.

For code that computes its gradients by hand (or in another framework)::

    optimizer = Optimizer("adam", learning_rate=0.01)
    for step in range(100):
        grads = {"W": ..., "b": ...}          # NumPy arrays or numbers
        optimizer.update(params, grads)       # params["W"], params["b"] change in place

The first :meth:`Optimizer.update` builds the rule's updates for shared
variables of the parameters' shapes and dtypes and compiles them into one
PyTensor function; every later call copies the gradients in, runs that
function and leaves the new values in the caller's arrays.  The optimizer
state (moments, accumulators, step counters) lives in the compiled
function's shared variables and is read and written with
:meth:`Optimizer.get_state_values` / :meth:`Optimizer.set_state_values`,
as :func:`symupdates.get_state_values` does for symbolic updates.

What ``params`` may be
----------------------
* A dict (any mapping) of NumPy float arrays, 0-d included: each array is
  updated in place (``array[...] = new value``), so other references to it
  see the change.
* A list or tuple of NumPy float arrays: the same.
* Python floats (or NumPy float scalars) as values of a dict or items of a
  list: numbers are immutable, so the entry is *replaced* by the updated
  value, of the same type (a Python float stays a Python float, a
  ``np.float32`` stays a ``np.float32``).  Such a parameter is a float64
  (or the scalar's dtype) 0-d parameter inside the optimizer.  A number
  inside a tuple cannot be replaced and is refused; so are integers (write
  ``0.0``, not ``0``) and read-only arrays.
* Each array once: the same array twice, or two views of one array whose
  elements overlap, are refused (one step would update that memory twice).

The set of keys (or the length of the list), the shapes and the dtypes are
fixed by the first call; a later call with other keys or shapes raises
``ValueError`` naming the difference.  Call :meth:`Optimizer.reset` to
start over (new state) with other parameters.  Gradients must have exactly
their parameter's shape (numbers for 0-d parameters); they are converted
to the parameter's dtype.
"""

import numbers
from collections.abc import Mapping

import numpy as np
import pytensor
import pytensor.tensor as pt
from numpy.lib.array_utils import byte_bounds

from .registry import RULES
from .state import get_state_values, set_state_values, state_variables

__all__ = ["Optimizer"]


def _resolve_rule(rule, hyperparameters):
    """A callable ``f(grads, params) -> updates`` for ``rule`` and its hyperparameters."""
    if isinstance(rule, str):
        if rule not in RULES:
            raise ValueError("unknown rule %r; the rules are: %s" % (rule, ", ".join(RULES)))
        rule = RULES[rule]
    if not callable(rule):
        raise TypeError("rule must be a rule name, a rule function or f(grads, params), got %r" % (rule,))
    if rule in RULES.values():
        # Partial application checks the hyperparameter names (and any
        # required one, e.g. sgd's learning_rate) now, not at the first update.
        try:
            return rule(**hyperparameters)
        except TypeError as error:
            raise TypeError("%s: %s" % (rule.__name__, error)) from None
    if hyperparameters:
        raise TypeError(
            "hyperparameters %s given with %r, which is not a registered rule: "
            "pass them to the rule instead, e.g. Optimizer(symupdates.adam(learning_rate=0.01))"
            % (", ".join(sorted(hyperparameters)), rule)
        )
    return rule


def _describe(value):
    if isinstance(value, np.ndarray):
        return "an array of shape %s and dtype %s" % (value.shape, value.dtype)
    return "%r (%s)" % (value, type(value).__name__)


def _refuse_shared_memory(labelled_arrays):
    """Refuse two parameter arrays that share memory, naming them.

    Arrays are sorted by the addresses they span; only arrays whose spans
    overlap are compared element by element (``np.shares_memory``), so
    many separate parameters cost a sort, not a comparison per pair.
    """
    spans = sorted(
        (byte_bounds(array), label, array) for label, array in labelled_arrays
        if isinstance(array, np.ndarray) and array.size
    )
    open_spans = []
    for (low, high), label, array in spans:
        open_spans = [span for span in open_spans if span[0] > low]
        for _, other_label, other in open_spans:
            try:
                shared = np.shares_memory(array, other, max_work=100000)
            except np.exceptions.TooHardError:  # interleaved strides: too costly to tell, so refuse
                shared = True
            if shared:
                raise ValueError(
                    "%s and %s share memory (the same array, or overlapping views of one); a step "
                    "would update it twice: pass every parameter once, as separate arrays"
                    % (other_label, label)
                )
        open_spans.append((high, label, array))


class _Slot:
    """How one parameter of the caller's structure is read and written back."""

    def __init__(self, key, label, value, container):
        self.key = key
        self.label = label
        if isinstance(value, np.ndarray):
            if value.dtype.kind != "f":
                raise TypeError(
                    "%s has dtype %s; parameters must be floating-point arrays "
                    "(e.g. np.asarray(value, dtype=float))" % (label, value.dtype)
                )
            if not value.flags.writeable:
                raise ValueError("%s is a read-only array and cannot be updated in place" % label)
            self.kind = "array"
            self.dtype = value.dtype
            self.shape = value.shape
        elif isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError("%s is %r; parameters must be NumPy float arrays or floats" % (label, value))
        elif isinstance(value, (numbers.Integral, np.integer)):
            raise TypeError(
                "%s is the integer %r; parameters must be floating point (write %r)"
                % (label, value, float(value))
            )
        elif isinstance(container, tuple):
            raise TypeError(
                "%s is a number inside a tuple, which cannot be updated: pass a list "
                "or a dict, or a 0-d array np.array(%r)" % (label, value)
            )
        else:
            self.kind = "number"
            self.number_type = type(value)
            self.dtype = np.asarray(value).dtype
            self.shape = ()

    def check(self, value):
        """Refuse a value that does not fit this parameter any more."""
        is_array = isinstance(value, np.ndarray)
        shape = np.shape(value) if is_array or isinstance(value, numbers.Real) else None
        dtype = value.dtype if is_array else None
        if is_array != (self.kind == "array") or shape != self.shape or (is_array and dtype != self.dtype):
            raise ValueError(
                "%s changed from %s to %s; call reset() to start over with new parameters"
                % (self.label, self._describe_first(), _describe(value))
            )
        if is_array and not value.flags.writeable:
            raise ValueError("%s is a read-only array and cannot be updated in place" % self.label)

    def _describe_first(self):
        if self.kind == "array":
            return "an array of shape %s and dtype %s" % (self.shape, self.dtype)
        return "a number (%s)" % self.number_type.__name__

    def read(self, value):
        return value if self.kind == "array" else np.array(value, dtype=self.dtype)

    def write(self, container, original, new_value):
        if self.kind == "array":
            if not np.shares_memory(original, new_value):
                original[...] = new_value
        else:
            container[self.key] = self.number_type(new_value[()])


class Optimizer:
    """A symbolic update rule applied eagerly to NumPy arrays, in place.

    Parameters
    ----------
    rule : str or callable
        A rule name from :data:`symupdates.RULES` (``"adam"``), a rule
        function (``symupdates.adam``), a partially applied rule
        (``symupdates.adam(learning_rate=0.01)``), or any function
        ``f(grads, params)`` returning updates.
    mode : PyTensor mode, optional
        The compilation mode of the step function (default: PyTensor's).
    **hyperparameters
        The rule's hyperparameters, with a rule name or rule function
        (``Optimizer("adam", learning_rate=0.01)``).  Symbolic scalars
        (shared variables) may be changed between updates.

    Examples
    --------
    >>> import numpy as np
    >>> from symupdates.eager import Optimizer
    >>> params = {"w": np.array([1.0, -2.0]), "b": 0.5}
    >>> optimizer = Optimizer("sgd", learning_rate=0.1)
    >>> optimizer.update(params, {"w": np.array([1.0, 1.0]), "b": 2.0})
    >>> params["w"], params["b"]
    (array([ 0.9, -2.1]), 0.3)
    """

    def __init__(self, rule, mode=None, **hyperparameters):
        self.rule = _resolve_rule(rule, hyperparameters)
        self.mode = mode
        self.reset()

    def reset(self):
        """Forget the compiled step and the optimizer state (the next update starts afresh)."""
        self._structure = None
        self._slots = None
        self._shared = None
        self._step = None
        self.updates = None

    # -- structure -------------------------------------------------------

    @staticmethod
    def _keys(params):
        if isinstance(params, Mapping):
            return list(params.keys())
        if isinstance(params, (list, tuple)):
            return list(range(len(params)))
        raise TypeError(
            "params must be a dict, list or tuple of NumPy arrays, got %s" % type(params).__name__
        )

    @staticmethod
    def _label(params, key):
        return "params[%r]" % (key,)

    def _describe(self, params):
        kind = "dict" if isinstance(params, Mapping) else "sequence"
        keys = self._keys(params)
        slots = [_Slot(k, self._label(params, k), params[k], params) for k in keys]
        return kind, keys, slots

    def build(self, params):
        """Compile the step for these parameters without updating them.

        Called by the first :meth:`update`; call it yourself to restore
        saved state (:meth:`set_state_values`) before the first update.
        """
        if self._structure is not None:
            self._check_structure(params)
            return
        kind, keys, slots = self._describe(params)
        if not keys:
            raise ValueError("params is empty: pass at least one array to optimize")
        _refuse_shared_memory([(slot.label, params[slot.key]) for slot in slots])
        shared = [
            pytensor.shared(
                np.array(slot.read(params[slot.key]), dtype=slot.dtype),
                name=str(slot.key) if kind == "dict" else "param%d" % slot.key,
                shape=slot.shape,
            )
            for slot in slots
        ]
        grads = [pt.tensor(dtype=s.dtype, shape=s.type.shape, name="grad_" + (s.name or "")) for s in shared]
        updates = self.rule(grads, shared)
        step = pytensor.function(grads, [], updates=updates, mode=self.mode)
        self._structure = (kind, keys)
        self._slots, self._shared, self._step, self.updates = slots, shared, step, updates

    def _check_structure(self, params):
        kind, keys = self._structure
        new_kind = "dict" if isinstance(params, Mapping) else "sequence"
        if new_kind != kind:
            raise ValueError("this optimizer was built for a %s of parameters, got a %s" % (kind, new_kind))
        new_keys = self._keys(params)
        if kind == "dict" and set(new_keys) != set(keys):
            missing = [k for k in keys if k not in params]
            extra = [k for k in new_keys if k not in set(keys)]
            raise ValueError(
                "the parameters' keys changed: missing %s, new %s; use the same keys at every "
                "update, or call reset() to start over" % (missing, extra)
            )
        if kind == "sequence" and len(new_keys) != len(keys):
            raise ValueError(
                "this optimizer was built for %d parameters, got %d; call reset() to start over"
                % (len(keys), len(new_keys))
            )
        for slot in self._slots:
            slot.check(params[slot.key])
        _refuse_shared_memory([(slot.label, params[slot.key]) for slot in self._slots])

    # -- stepping --------------------------------------------------------

    def update(self, params, grads):
        """Apply one step of the rule to ``params``, in place.

        ``grads`` has the structure of ``params`` (the same keys, or the
        same length), each gradient of its parameter's shape.  Nothing is
        changed if an argument is refused.
        """
        self.build(params)
        kind, keys = self._structure
        if kind == "dict":
            if not isinstance(grads, Mapping) or set(grads.keys()) != set(keys):
                got = sorted(map(str, grads.keys())) if isinstance(grads, Mapping) else type(grads).__name__
                raise ValueError("grads must be a dict with the keys of params %s, got %s" % (
                    sorted(map(str, keys)), got))
        elif not isinstance(grads, (list, tuple)) or len(grads) != len(keys):
            raise ValueError("grads must be a list of %d gradients, one per parameter" % len(keys))
        arrays = []
        for slot in self._slots:
            grad = np.asarray(grads[slot.key], dtype=slot.dtype)
            if grad.shape != slot.shape:
                raise ValueError(
                    "the gradient for %s has shape %s; expected %s, its parameter's shape"
                    % (slot.label, grad.shape, slot.shape)
                )
            arrays.append(grad)
        originals = [params[slot.key] for slot in self._slots]
        for slot, var, value in zip(self._slots, self._shared, originals):
            var.set_value(slot.read(value), borrow=True)
        self._step(*arrays)
        for slot, var, value in zip(self._slots, self._shared, originals):
            slot.write(params, value, var.get_value(borrow=True))

    # -- state -----------------------------------------------------------

    def _require_built(self):
        if self._step is None:
            raise ValueError(
                "this optimizer has no state yet: call update(params, grads) or build(params) first"
            )

    def state_names(self):
        """The names of the state variables, in the order of :meth:`get_state_values`."""
        self._require_built()
        return [var.name for var in state_variables(self.updates)]

    def get_state_values(self):
        """Copies of the optimizer state (see :func:`symupdates.get_state_values`)."""
        self._require_built()
        return get_state_values(self.updates)

    def set_state_values(self, values):
        """Restore state from :meth:`get_state_values`; checked before anything changes."""
        self._require_built()
        set_state_values(self.updates, values)

    def __repr__(self):
        rule = getattr(self.rule, "func", self.rule)
        name = getattr(rule, "__name__", repr(rule))
        keywords = getattr(self.rule, "keywords", {})
        args = "".join(", %s=%r" % item for item in keywords.items())
        return "Optimizer(%r%s)" % (name, args)
