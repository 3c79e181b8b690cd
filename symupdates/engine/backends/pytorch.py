"""The PyTorch implementation of :class:`~symupdates.engine.op.MultiElemwise`.

Registered with PyTensor's ``pytorch_funcify`` when PyTensor loads its
PyTorch backend (see :mod:`symupdates.engine.backends`).
"""

import numpy as np
import pytensor.scalar as ps
from pytensor.graph.basic import Constant

from .. import workarounds
from ..finite import AllFinite
from ..op import MultiElemwise, reference_position, row_slices


def _identity(x):
    return x


def _torch_scalar_function(fgraph, pytorch_funcify, kwargs):
    """The composite's scalar graph as a function of tensors, node by node.

    PyTensor's PyTorch backend has no dispatch for a whole Composite (its
    PyTorch mode never fuses), so the scalar graph is interpreted here.
    """
    import torch

    # Keyed by id: scalar variables compare (and constants hash) by value.
    slots = {id(v): k for k, v in enumerate(fgraph.inputs)}
    constants = []
    steps = []
    # A composite's toposort can list a node twice; run each once.
    nodes = list({id(node): node for node in fgraph.toposort()}.values())
    for node in nodes:
        for v in node.inputs:
            if isinstance(v, Constant) and id(v) not in slots:
                slots[id(v)] = len(slots)
                constants.append(torch.as_tensor(np.asarray(v.data, dtype=v.type.dtype)))
    for node in nodes:
        if isinstance(node.op, ps.Composite):
            fn = _torch_scalar_function(node.op.fgraph, pytorch_funcify, kwargs)
        elif isinstance(node.op, ps.Identity):
            fn = _identity
        else:
            fn = pytorch_funcify(node.op, node=node, **kwargs)
        ins = tuple(slots[id(v)] for v in node.inputs)
        for v in node.outputs:
            slots[id(v)] = len(slots)
        steps.append((fn, ins, len(node.outputs)))
    outputs = tuple(slots[id(v)] for v in fgraph.outputs)
    n_inputs = len(fgraph.inputs)

    def scalar_function(*args):
        values = list(args[:n_inputs]) + constants
        for fn, ins, nout in steps:
            result = fn(*[values[k] for k in ins])
            if isinstance(result, list) and nout == 1:  # a nested composite
                result = result[0]
            if nout == 1:
                values.append(result)
            else:
                values.extend(result)
        return [values[k] for k in outputs]

    return scalar_function


def register():
    try:
        import torch
        from pytensor.link.pytorch.dispatch import pytorch_funcify
    except ImportError:
        return

    workarounds.pytorch_scalar_ops()
    workarounds.pytorch_composite(_torch_scalar_function)

    @pytorch_funcify.register(MultiElemwise)
    def pytorch_funcify_MultiElemwise(op, node, **kwargs):
        n_rows, width, nout, start = row_slices(op, node)
        kwargs.pop("storage_map", None)
        kwargs.pop("node", None)
        scalar_fn = _torch_scalar_function(op.scalar_op.fgraph, pytorch_funcify, kwargs)
        ref = reference_position(op.zero_dim)
        out_dtypes = [getattr(torch, o.type.dtype) for o in op.scalar_op.outputs]

        def multi_elemwise(*inputs):
            invariants = inputs[start:]
            outs = []
            for r in range(n_rows):
                row = inputs[r * width:(r + 1) * width]
                shape = row[ref].shape
                for value, dtype in zip(scalar_fn(*row, *invariants), out_dtypes):
                    outs.append(torch.as_tensor(value).to(dtype).expand(shape))
            return outs[0] if len(outs) == 1 else tuple(outs)

        return multi_elemwise

    @pytorch_funcify.register(AllFinite)
    def pytorch_funcify_AllFinite(op, node, **kwargs):
        def all_finite(*inputs):
            return torch.stack([torch.isfinite(x).all() for x in inputs]).all()

        return all_finite
