"""The engine: one formula per rule, traced once, applied to every tensor.

Layout, in the order data flows:

* :mod:`.trace`: a rule's element-wise ``step`` formula traced into a scalar
  ``Composite`` plus the loop-invariant scalars it reads;
* :mod:`.stages`: the stages a rule is a list of (element-wise formulas,
  per-tensor and across-tensor graphs) and the named values between them;
* :mod:`.apply`: :func:`elementwise_rule`, the one way rules are built,
  which creates the state, runs the stages and applies each traced
  composite to all parameters;
* :mod:`.op`: :class:`MultiElemwise`, one graph node for a group of tensors,
  and its Python reference implementation;
* :mod:`.compose`: compositions (wrappers, transforms) fused into the
  kernels of the rule they wrap (:func:`fuse_updates`);
* :mod:`.inplace`: the rewrite that lets the op overwrite what it updates;
* :mod:`.backends`: one module per PyTensor backend (C, Numba, JAX, PyTorch);
* :mod:`.workarounds`: every workaround for a PyTensor defect, in one place.
"""

from . import inplace
from .apply import apply_composite, elementwise_rule
from .backends import register_backends
from .compose import fuse_updates
from .backends.numba import register_split_rows
from .op import MultiElemwise, multi_elemwise, row_layout
from .stages import across_tensors, elementwise, per_tensor
from .trace import NotElementwiseError, trace_elementwise

__all__ = [
    "elementwise_rule",
    "elementwise",
    "per_tensor",
    "across_tensors",
    "apply_composite",
    "fuse_updates",
    "trace_elementwise",
    "NotElementwiseError",
    "MultiElemwise",
    "multi_elemwise",
    "row_layout",
]

inplace.register()
register_split_rows()
register_backends()
