"""The multi-tensor op: one graph node applying an element-wise formula to many tensors.

:class:`MultiElemwise` is the engine's answer to compile time, in the spirit
of torch's multi-tensor ("foreach"/fused) kernels: one node holds the scalar
:class:`~pytensor.scalar.basic.Composite` of a rule and takes, for every
parameter, a *row* of tensors (``param, grad, m, v`` ...) plus the
loop-invariant scalars (``a_t``, ``beta1`` ...) shared by all rows.  It
returns every row's outputs, each with the type an ``Elemwise`` of the same
composite would give it.  A rule's update part is then O(1) nodes however
many parameters the model has, so PyTensor's rewriter, which re-validates the
graph at every replacement, has nothing to do per parameter.

This module holds the op and its graph-level helpers, apart from its
implementations: ``perform`` here is the Python reference; the C kernel and
the Numba, JAX and PyTorch dispatches live in :mod:`symupdates.engine.backends`.
"""

import os

import numpy as np
import pytensor.scalar as ps
from pytensor import config
from pytensor.graph.basic import Apply
from pytensor.link.c.op import COp
from pytensor.tensor.type import TensorType

from .backends import c as c_backend
from .backends.c import c_kernel_available, c_kernel_module

__all__ = ["MultiElemwise", "multi_elemwise", "row_layout", "reference_position", "can_overwrite", "MAX_ROWS", "PARALLEL_MIN_SIZE"]

# Tensors at least this large are split over the cores (C and Numba); below,
# starting threads costs more than it saves.
PARALLEL_MIN_SIZE = 1 << 16


class MultiElemwise(COp):
    """Apply ``scalar_op`` element-wise to ``n_rows`` rows of tensors.

    Inputs: row 0's ``row_width`` tensors, row 1's, ..., then the
    ``n_invariants`` 0-d invariants.  Outputs: row 0's ``scalar_op.nout``
    outputs, row 1's, ...  In a row, the positions flagged in ``zero_dim``
    are 0-d and broadcast; the other entries all have the same shape, which
    is the shape of the row's outputs.

    Parameters
    ----------
    scalar_op : Composite
        The formula; its inputs are one row then the invariants.
    zero_dim : tuple of bool
        For each row position, whether it is a 0-d (broadcast) entry.
    candidates : tuple of int
        For each output position, the row position whose input the output
        replaces (may overwrite), or -1.
    inplace : tuple of (int, int)
        Active destroy pairs ``(output index, input index)``, over the whole
        node; set by :class:`MultiElemwiseInplace`.
    """

    __props__ = ("scalar_op", "zero_dim", "candidates", "inplace")

    def __init__(self, scalar_op, zero_dim, candidates=None, inplace=()):
        self.scalar_op = scalar_op
        self.zero_dim = tuple(bool(s) for s in zero_dim)
        self.candidates = tuple(candidates) if candidates is not None else (-1,) * scalar_op.nout
        self.inplace = tuple(sorted((int(o), int(i)) for o, i in inplace))
        self.destroy_map = {o: [i] for o, i in self.inplace}
        self.row_width = len(self.zero_dim)
        self.n_invariants = scalar_op.nin - self.row_width
        self.nout_row = scalar_op.nout
        if self.n_invariants < 0 or len(self.candidates) != self.nout_row:
            raise ValueError("MultiElemwise: row layout does not match the composite")

    def __str__(self):
        suffix = "{inplace}" if self.inplace else ""
        return "MultiElemwise%s{%s}" % (suffix, self.scalar_op)

    # -- graph construction -------------------------------------------------

    def n_rows(self, node):
        return (len(node.inputs) - self.n_invariants) // self.row_width

    def make_node(self, *inputs):
        from pytensor.tensor import as_tensor_variable

        inputs = [as_tensor_variable(x) for x in inputs]
        width, nrow_in = self.row_width, len(inputs) - self.n_invariants
        if nrow_in < 0 or nrow_in % width:
            raise ValueError("MultiElemwise: %d inputs do not form rows of %d" % (len(inputs), width))
        for x in inputs[nrow_in:]:
            if x.type.ndim != 0:
                raise ValueError("MultiElemwise: invariants must be 0-d, got %s" % x.type)
        scalar_in = [ps.get_scalar_type(x.type.dtype) for x in inputs[:width]] + [
            ps.get_scalar_type(x.type.dtype) for x in inputs[nrow_in:]
        ]
        for expected, got in zip(scalar_in, self.scalar_op.inputs):
            if expected.dtype != got.type.dtype:
                raise TypeError("MultiElemwise: input dtype %s where %s expected" % (expected.dtype, got.type.dtype))
        out_dtypes = [o.type.dtype for o in self.scalar_op.outputs]
        outputs = []
        for r in range(nrow_in // width):
            row = inputs[r * width:(r + 1) * width]
            shape = row_shape(row, self.zero_dim)
            for dtype in out_dtypes:
                outputs.append(TensorType(dtype, shape=shape)())
        for o, i in self.inplace:
            if not can_overwrite(inputs[i], outputs[o]):
                raise TypeError("MultiElemwise: output %d cannot overwrite input %d of another type" % (o, i))
        return Apply(self, inputs, outputs)

    def infer_shape(self, fgraph, node, input_shapes):
        width, nout = self.row_width, self.nout_row
        shapes = []
        for r in range(self.n_rows(node)):
            shapes.extend([input_shapes[r * width + reference_position(self.zero_dim)]] * nout)
        return shapes

    def pullback(self, inputs, outputs, output_grads):
        from .gradient import multi_elemwise_l_op  # each row's gradient is its Elemwise's

        return multi_elemwise_l_op(self, inputs, outputs, output_grads)

    L_op = pullback  # PyTensor 2.x's name

    # -- Python implementation ----------------------------------------------

    def perform(self, node, inputs, output_storage):
        width, nout = self.row_width, self.nout_row
        n_rows = self.n_rows(node)
        invariants = inputs[n_rows * width:]
        ref = reference_position(self.zero_dim)
        fn = self._ufunc()
        destroy = dict(self.inplace)
        out_dtypes = [o.type.dtype for o in self.scalar_op.outputs]
        for r in range(n_rows):
            row = inputs[r * width:(r + 1) * width]
            check_row_shapes(row, self.zero_dim, r)
            with np.errstate(all="ignore"):
                results = fn(*row, *invariants)
            if nout == 1:
                results = (results,)
            for j, (value, dtype) in enumerate(zip(results, out_dtypes)):
                value = np.asarray(value, dtype=dtype).reshape(row[ref].shape)
                o = r * nout + j
                if o in destroy:
                    target = inputs[destroy[o]]
                    target[...] = value
                    value = target
                elif not value.flags.owndata or not value.flags.writeable:
                    value = value.copy()
                output_storage[o][0] = value

    def _ufunc(self):
        fn = getattr(self, "_py_ufunc", None)
        if fn is None:
            fn = np.frompyfunc(self.scalar_op.impl, self.scalar_op.nin, self.scalar_op.nout)
            self._py_ufunc = fn
        return fn

    def __getstate__(self):
        state = dict(self.__dict__)
        for cached in ("_py_ufunc", "_numba_scalar", "_c_source"):
            state.pop(cached, None)
        return state

    # -- C implementation ---------------------------------------------------
    #
    # Two ways in.  PyTensor's C linker ("C" mode: the whole graph one C
    # module) compiles ``c_code`` into its module.  The VM linkers call the
    # thunk of ``make_thunk``: one extension module per composite and row
    # layout, shared by every node of any number of rows (the C VM's own
    # per-node modules would differ with the number of rows, and each costs
    # a compiler run).  Both run the kernel and driver of
    # ``backends/multi_elemwise.c``.

    def c_code_cache_version(self):
        composite = self.scalar_op.c_code_cache_version()
        return (c_backend.C_VERSION, *composite) if composite else ()

    def c_headers(self, **kwargs):
        return list(self.scalar_op.c_headers(**kwargs))

    def c_header_dirs(self, **kwargs):
        return list(self.scalar_op.c_header_dirs(**kwargs))

    def c_libraries(self, **kwargs):
        return list(self.scalar_op.c_libraries(**kwargs)) + (["gomp"] if c_backend.use_openmp() else [])

    def c_lib_dirs(self, **kwargs):
        return list(self.scalar_op.c_lib_dirs(**kwargs))

    def c_compile_args(self, **kwargs):
        return list(self.scalar_op.c_compile_args(**kwargs)) + (["-fopenmp"] if c_backend.use_openmp() else [])

    def c_support_code(self, **kwargs):
        return self.scalar_op.c_support_code(**kwargs)

    def c_support_code_apply(self, node, name):
        if not c_kernel_available(self, node):
            raise NotImplementedError("MultiElemwise: no C code for %s" % self.scalar_op)
        return "\n".join(c_backend.c_headers(self)[-3:] + [c_backend.c_kernel_source(self, name)])

    def c_code(self, node, name, inputs, outputs, sub):
        if not c_kernel_available(self, node):
            raise NotImplementedError("MultiElemwise: no C code for %s" % self.scalar_op)
        n_rows, width = self.n_rows(node), self.row_width
        start = n_rows * width
        destroy = [-1] * len(outputs)
        for o, i in self.inplace:
            destroy[o] = i % width
        return """{
    PyArrayObject* mt_in[] = {%(ins)s};
    PyArrayObject* mt_inv[] = {%(invs)s};
    PyArrayObject* mt_out[] = {%(outs)s};
    static const npy_int64 mt_destroy[] = {%(destroy)s};
    int mt_ok = run_node_%(name)s(mt_in, mt_inv, mt_out, mt_destroy, %(n_rows)d);
    %(store)s
    if (!mt_ok) { %(fail)s }
}""" % dict(
            ins=", ".join(inputs[:start]) or "NULL",
            invs=", ".join(inputs[start:]) or "NULL",
            outs=", ".join(outputs) or "NULL",
            destroy=", ".join(map(str, destroy)) or "0",
            name=name,
            n_rows=n_rows,
            store=" ".join("%s = mt_out[%d];" % (out, o) for o, out in enumerate(outputs)),
            fail=sub["fail"],
        )

    def make_thunk(self, node, storage_map, compute_map, no_recycling, impl=None):
        if impl == "py" or not config.cxx or not c_kernel_available(self, node):
            return super().make_thunk(node, storage_map, compute_map, no_recycling, impl="py")
        module = c_kernel_module(self, node)
        run = module.run
        n_rows, width = self.n_rows(node), self.row_width
        in_cells = [storage_map[v] for v in node.inputs]
        out_cells = [storage_map[v] for v in node.outputs]
        destroy = np.full(len(node.outputs), -1, dtype=np.int64)
        for o, i in self.inplace:
            destroy[o] = i % width  # the row position it overwrites
        destroy = destroy.tobytes()
        row_cells = in_cells[: n_rows * width]
        inv_cells = in_cells[n_rows * width:]
        outputs = node.outputs

        def thunk():
            run(row_cells, inv_cells, out_cells, destroy, n_rows)
            for o in outputs:
                compute_map[o][0] = True

        thunk.inputs = in_cells
        thunk.outputs = out_cells
        thunk.lazy = False
        return thunk


def can_overwrite(inp, out):
    """Whether ``out`` may be computed in ``inp``'s buffer.

    Same dtype and rank suffice: the row's full-rank entries are checked to
    have the output's shape at run time (static shapes may merely differ in
    what is known, e.g. a shared variable without static shape).
    """
    return inp.type.dtype == out.type.dtype and inp.type.ndim == out.type.ndim


def reference_position(zero_dim):
    """The first full-rank position of a row (0 when all are 0-d)."""
    for k, s in enumerate(zero_dim):
        if not s:
            return k
    return 0


def row_shape(row, zero_dim):
    """The static shape of a row's outputs: its full-rank entries, merged."""
    full = [x for x, s in zip(row, zero_dim) if not s]
    if not full:
        return ()
    shape = list(full[0].type.shape)
    for x in full[1:]:
        for d, n in enumerate(x.type.shape):
            if shape[d] is None:
                shape[d] = n
    return tuple(shape)


def check_row_shapes(row, zero_dim, r):
    full = [x for x, s in zip(row, zero_dim) if not s]
    for x in full[1:]:
        if x.shape != full[0].shape:
            raise ValueError(
                "MultiElemwise: row %d mixes shapes %s and %s; every tensor of a "
                "parameter's row must have the parameter's shape" % (r, full[0].shape, x.shape)
            )


def row_layout(row):
    """``zero_dim`` flags of ``row`` if it can go into a MultiElemwise, else None.

    A row qualifies when its entries that are not 0-d all have the same
    number of dimensions and no static broadcasting between them (the
    multi-tensor kernel does not broadcast, except 0-d entries).
    """
    zero_dim = tuple(x.type.ndim == 0 for x in row)
    full = [x for x in row if x.type.ndim != 0]
    if full:
        ndim = full[0].type.ndim
        if any(x.type.ndim != ndim for x in full):
            return None
        for dims in zip(*(x.type.shape for x in full)):
            known = {d for d in dims if d is not None}
            if len(known) > 1 or (1 in known and None in dims):
                return None
    return zero_dim


#: Rows per node.  PyTensor's graph traversals queue a node's inputs once per
#: output, so a node with n rows costs O(n**2) per traversal; groups of a few
#: dozen rows keep every rewrite pass linear in the number of tensors.
MAX_ROWS = int(os.environ.get("SYMUPDATES_MAX_ROWS", 32))


def multi_elemwise(composite, rows, invariants, candidates=None):
    """Apply ``composite`` to every row with :class:`MultiElemwise` nodes
    of at most :data:`MAX_ROWS` rows each.

    All rows must share the layout returned by :func:`row_layout`.  Returns
    a list of output lists, one per row.
    """
    zero_dim = row_layout(rows[0])
    op = MultiElemwise(composite, zero_dim, candidates)
    nout = op.nout_row
    results = []
    for start in range(0, len(rows), MAX_ROWS):
        chunk = rows[start:start + MAX_ROWS]
        flat = [x for row in chunk for x in row] + list(invariants)
        outs = op.make_node(*flat).outputs
        results.extend(list(outs[r * nout:(r + 1) * nout]) for r in range(len(chunk)))
    return results


def scalar_node(op):
    """A scalar ``Apply`` of ``op``'s composite, for the backends' code generators."""
    composite = op.scalar_op
    return Apply(
        composite,
        [ps.get_scalar_type(i.type.dtype).make_variable() for i in composite.inputs],
        [ps.get_scalar_type(o.type.dtype).make_variable() for o in composite.outputs],
    )


def row_slices(op, node):
    """``(n_rows, row_width, outputs per row, index of the first invariant)`` of ``node``."""
    n_rows, width, nout = op.n_rows(node), op.row_width, op.nout_row
    return n_rows, width, nout, n_rows * width
