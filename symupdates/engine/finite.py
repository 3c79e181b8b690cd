"""The all-finite op: one graph node telling whether many tensors are all finite.

:func:`skip_nonfinite <symupdates.skip_nonfinite>` needs one boolean over
every gradient and every new value of a step.  Written with PyTensor's own
ops that is an ``isfinite`` and a reduction per tensor, two nodes per
tensor that every rewrite pass walks again; :class:`AllFinite` takes all the
tensors at once, as :class:`~symupdates.engine.op.MultiElemwise` takes all
the rows of a formula.  ``perform`` here is the Python reference; the C scan
is ``backends/all_finite.c`` and the Numba, JAX and PyTorch implementations
live with the other dispatches in :mod:`symupdates.engine.backends`.
"""

import numpy as np
import pytensor.tensor as pt
from pytensor import config
from pytensor.graph.basic import Apply
from pytensor.link.c.op import COp

from .backends import c as c_backend

__all__ = ["AllFinite", "all_finite"]

FLOAT_DTYPES = ("float16", "float32", "float64")


class AllFinite(COp):
    """A 0-d bool: whether every element of every input is finite (no NaN, no infinity).

    Inputs are floating-point tensors of any shapes.  Piecewise constant:
    its gradient with respect to every input is zero.
    """

    __props__ = ()

    def make_node(self, *inputs):
        inputs = [pt.as_tensor_variable(x) for x in inputs]
        if not inputs:
            raise ValueError("AllFinite: needs at least one tensor")
        for x in inputs:
            if x.type.dtype not in FLOAT_DTYPES:
                raise TypeError("AllFinite: %s has dtype %s, expected one of %s" % (x, x.type.dtype, FLOAT_DTYPES))
        return Apply(self, inputs, [pt.tensor(dtype="bool", shape=())])

    def infer_shape(self, fgraph, node, input_shapes):
        return [()]

    def pullback(self, inputs, outputs, output_grads):
        return [x.zeros_like() for x in inputs]

    L_op = pullback  # PyTensor 2.x's name

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(all(np.isfinite(x).all() for x in inputs))

    # -- C implementation ---------------------------------------------------
    #
    # As for MultiElemwise: PyTensor's C linker compiles ``c_code`` into the
    # graph's module, and the VM linkers call one shared extension module
    # (PyTensor's per-node modules would differ with the number of inputs).

    def c_code_cache_version(self):
        return (c_backend.C_VERSION, 1)

    def c_support_code(self, **kwargs):
        return c_backend.all_finite_source()

    def c_code(self, node, name, inputs, outputs, sub):
        (out,) = outputs
        return """{
    PyArrayObject* af_in[] = {%(ins)s};
    int af_finite = symupdates_all_finite(af_in, %(n)d);
    if (af_finite < 0) { %(fail)s }
    if (!%(out)s || PyArray_NDIM(%(out)s) != 0 || PyArray_TYPE(%(out)s) != NPY_BOOL) {
        Py_XDECREF(%(out)s);
        %(out)s = (PyArrayObject*)PyArray_SimpleNew(0, NULL, NPY_BOOL);
        if (!%(out)s) { %(fail)s }
    }
    *(npy_bool*)PyArray_DATA(%(out)s) = (npy_bool)af_finite;
}""" % dict(ins=", ".join(inputs), n=len(inputs), out=out, fail=sub["fail"])

    def make_thunk(self, node, storage_map, compute_map, no_recycling, impl=None):
        if impl == "py" or not config.cxx:
            return super().make_thunk(node, storage_map, compute_map, no_recycling, impl="py")
        run = c_backend.all_finite_module().run
        in_cells = [storage_map[v] for v in node.inputs]
        out_cell = storage_map[node.outputs[0]]
        output = node.outputs[0]

        def thunk():
            run(in_cells, out_cell)
            compute_map[output][0] = True

        thunk.inputs = in_cells
        thunk.outputs = [out_cell]
        thunk.lazy = False
        return thunk


def all_finite(tensors):
    """``all(isfinite(x))`` over all of ``tensors`` at once: one :class:`AllFinite` node."""
    return AllFinite()(*tensors)
