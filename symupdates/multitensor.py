"""One graph node that applies an element-wise formula to many tensors.

:class:`MultiElemwise` is the engine's answer to compile time, in the spirit
of torch's multi-tensor ("foreach"/fused) kernels: one node holds the scalar
:class:`~pytensor.scalar.basic.Composite` of a rule and takes, for every
parameter, a *row* of tensors (``param, grad, m, v`` ...) plus the
loop-invariant scalars (``a_t``, ``beta1`` ...) shared by all rows.  It
returns every row's outputs, each with the type an ``Elemwise`` of the same
composite would give it.  A rule's update part is then O(1) nodes however
many parameters the model has, so PyTensor's rewriter, which re-validates the
graph at every replacement, has nothing to do per parameter.

Implementations, one per backend:

* Python (``perform``): NumPy, the reference and fallback.
* C (``make_thunk``): a small extension module, compiled once per composite
  and row layout (never per tensor count) and cached on disk in PyTensor's
  compile directory, holds one static kernel generated from the composite's
  scalar C code.  One call runs every row of the node; a large node is
  split into one contiguous share of elements per core inside a single
  OpenMP region.  The per-tensor bookkeeping is a C loop over the node's
  storage cells, so a step costs one Python call.
* Numba, JAX, PyTorch: dispatch functions registered at the end of this
  module (each backend only if it is installed).

In-place: the op is created out-of-place; the rewrite
:class:`MultiElemwiseInplace` (tags ``fast_run``, ``inplace``) then lets each
output overwrite the input it replaces (``param``, ``m``, ``v`` ...) where
PyTensor's destroy handler accepts it, exactly like PyTensor's own in-place
Elemwise rewrite.
"""

import hashlib
import os
import sys
import threading
from collections import Counter

import numpy as np
import pytensor
import pytensor.scalar as ps
from pytensor import config
from pytensor.graph.basic import Apply, Constant
from pytensor.graph.features import ReplaceValidate
from pytensor.graph.op import Op
from pytensor.graph.rewriting.basic import GraphRewriter
from pytensor.graph.utils import InconsistencyError
from pytensor.tensor.type import TensorType

__all__ = ["MultiElemwise", "multi_elemwise", "MultiElemwiseInplace"]

# The differences between the PyTensor versions we support (3.x and the 2.38
# line PyMC pins), in one place.
try:
    from pytensor.compile.aliasing import Supervisor  # PyTensor >= 3
except ImportError:  # PyTensor 2.38
    from pytensor.compile.function.types import Supervisor

# Tensors at least this large are split over the cores (C and Numba); below,
# starting threads costs more than it saves.
PARALLEL_MIN_SIZE = 1 << 16


class MultiElemwise(Op):
    """Apply ``scalar_op`` element-wise to ``n_rows`` rows of tensors.

    Inputs: row 0's ``row_width`` tensors, row 1's, ..., then the
    ``n_invariants`` 0-d invariants.  Outputs: row 0's ``scalar_op.nout``
    outputs, row 1's, ...  In a row, the positions flagged in ``scalars``
    are 0-d and broadcast; the other entries all have the same shape, which
    is the shape of the row's outputs.

    Parameters
    ----------
    scalar_op : Composite
        The formula; its inputs are one row then the invariants.
    scalars : tuple of bool
        For each row position, whether it is a 0-d (broadcast) entry.
    candidates : tuple of int
        For each output position, the row position whose input the output
        replaces (may overwrite), or -1.
    inplace : tuple of (int, int)
        Active destroy pairs ``(output index, input index)``, over the whole
        node; set by :class:`MultiElemwiseInplace`.
    """

    __props__ = ("scalar_op", "scalars", "candidates", "inplace")

    def __init__(self, scalar_op, scalars, candidates=None, inplace=()):
        self.scalar_op = scalar_op
        self.scalars = tuple(bool(s) for s in scalars)
        self.candidates = tuple(candidates) if candidates is not None else (-1,) * scalar_op.nout
        self.inplace = tuple(sorted((int(o), int(i)) for o, i in inplace))
        self.destroy_map = {o: [i] for o, i in self.inplace}
        self.row_width = len(self.scalars)
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
            shape = row_shape(row, self.scalars)
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
            shapes.extend([input_shapes[r * width + reference_position(self.scalars)]] * nout)
        return shapes

    def grad(self, inputs, output_grads):
        raise NotImplementedError("MultiElemwise computes updates; it has no gradient")

    # -- Python implementation ----------------------------------------------

    def perform(self, node, inputs, output_storage):
        width, nout = self.row_width, self.nout_row
        n_rows = self.n_rows(node)
        invariants = inputs[n_rows * width:]
        ref = reference_position(self.scalars)
        fn = self._ufunc()
        destroy = dict(self.inplace)
        out_dtypes = [o.type.dtype for o in self.scalar_op.outputs]
        for r in range(n_rows):
            row = inputs[r * width:(r + 1) * width]
            check_row_shapes(row, self.scalars, r)
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
        state.pop("_py_ufunc", None)
        return state

    # -- C implementation ---------------------------------------------------

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


def reference_position(scalars):
    """The first full-rank position of a row (0 when all are 0-d)."""
    for k, s in enumerate(scalars):
        if not s:
            return k
    return 0


def row_shape(row, scalars):
    """The static shape of a row's outputs: its full-rank entries, merged."""
    full = [x for x, s in zip(row, scalars) if not s]
    if not full:
        return ()
    shape = list(full[0].type.shape)
    for x in full[1:]:
        for d, n in enumerate(x.type.shape):
            if shape[d] is None:
                shape[d] = n
    return tuple(shape)


def check_row_shapes(row, scalars, r):
    full = [x for x, s in zip(row, scalars) if not s]
    for x in full[1:]:
        if x.shape != full[0].shape:
            raise ValueError(
                "MultiElemwise: row %d mixes shapes %s and %s; every tensor of a "
                "parameter's row must have the parameter's shape" % (r, full[0].shape, x.shape)
            )


def row_layout(row):
    """``scalars`` flags of ``row`` if it can go into a MultiElemwise, else None.

    A row qualifies when its entries that are not 0-d all have the same
    number of dimensions and no static broadcasting between them (the
    multi-tensor kernel does not broadcast, except 0-d entries).
    """
    scalars = tuple(x.type.ndim == 0 for x in row)
    full = [x for x in row if x.type.ndim != 0]
    if full:
        ndim = full[0].type.ndim
        if any(x.type.ndim != ndim for x in full):
            return None
        for dims in zip(*(x.type.shape for x in full)):
            known = {d for d in dims if d is not None}
            if len(known) > 1 or (1 in known and None in dims):
                return None
    return scalars


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
    scalars = row_layout(rows[0])
    op = MultiElemwise(composite, scalars, candidates)
    nout = op.nout_row
    results = []
    for start in range(0, len(rows), MAX_ROWS):
        chunk = rows[start:start + MAX_ROWS]
        flat = [x for row in chunk for x in row] + list(invariants)
        outs = op.make_node(*flat).outputs
        results.extend(list(outs[r * nout:(r + 1) * nout]) for r in range(len(chunk)))
    return results


# ---------------------------------------------------------------------------
# in-place rewrite


class MultiElemwiseInplace(GraphRewriter):
    """Let MultiElemwise outputs overwrite the tensors they replace.

    For each node, all candidate pairs are tried at once (one graph
    validation); if the destroy handler refuses, the set is halved
    recursively, so a few refused rows cost O(log n) validations, not O(n).
    """

    def add_requirements(self, fgraph):
        from pytensor.graph.destroyhandler import DestroyHandler

        fgraph.attach_feature(ReplaceValidate())
        fgraph.attach_feature(DestroyHandler())

    def apply(self, fgraph):
        protected = set(fgraph.outputs)
        for feature in fgraph._features:
            if isinstance(feature, Supervisor):
                protected.update(feature.protected)
        todo = []
        for node in fgraph.toposort():
            if isinstance(node.op, MultiElemwise) and not node.op.inplace:
                pairs = self._candidate_pairs(node, protected)
                if pairs:
                    todo.append((node, pairs))
        if not todo:
            return
        # Usually every candidate is accepted: one validation for all nodes.
        new_nodes = [self._inplace_node(node, pairs) for node, pairs in todo]
        replacements = [r for (node, _), new in zip(todo, new_nodes) for r in zip(node.outputs, new.outputs)]
        try:
            fgraph.replace_all_validate(replacements, reason="symupdates_multitensor_inplace")
            return
        except (InconsistencyError, ValueError):
            pass
        for node, pairs in todo:
            self._try(fgraph, node, [], pairs)

    @staticmethod
    def _candidate_pairs(node, protected):
        op = node.op
        width, nout = op.row_width, op.nout_row
        uses = Counter(node.inputs)
        pairs = []
        for r in range(op.n_rows(node)):
            for j, k in enumerate(op.candidates):
                if k < 0:
                    continue
                o, i = r * nout + j, r * width + k
                inp = node.inputs[i]
                if (
                    inp in protected
                    or isinstance(inp, Constant)
                    or not can_overwrite(inp, node.outputs[o])
                    or uses[inp] > 1
                ):
                    continue
                pairs.append((o, i))
        return pairs

    @staticmethod
    def _inplace_node(node, pairs):
        op = node.op
        return MultiElemwise(op.scalar_op, op.scalars, op.candidates, inplace=pairs).make_node(*node.inputs)

    def _try(self, fgraph, node, accepted, pairs):
        """Replace ``node`` by one destroying ``accepted + pairs``; bisect on refusal."""
        new_node = self._inplace_node(node, accepted + pairs)
        try:
            fgraph.replace_all_validate(
                list(zip(node.outputs, new_node.outputs)), reason="symupdates_multitensor_inplace"
            )
            return new_node, accepted + pairs
        except (InconsistencyError, ValueError):
            if len(pairs) == 1:
                return node, accepted
            half = len(pairs) // 2
            node, accepted = self._try(fgraph, node, accepted, pairs[:half])
            return self._try(fgraph, node, accepted, pairs[half:])


def _register_inplace_rewrite():
    from pytensor.compile import optdb

    optdb.register(
        "symupdates_multitensor_inplace",
        MultiElemwiseInplace(),
        "fast_run",
        "inplace",
        position=50.6,  # right after PyTensor's inplace_elemwise
    )


_register_inplace_rewrite()


# ---------------------------------------------------------------------------
# the C kernel module


_C_TYPES = {
    "float16": None,
    "float32": ("npy_float32", "NPY_FLOAT32"),
    "float64": ("npy_float64", "NPY_FLOAT64"),
    "int8": ("npy_int8", "NPY_INT8"),
    "int16": ("npy_int16", "NPY_INT16"),
    "int32": ("npy_int32", "NPY_INT32"),
    "int64": ("npy_int64", "NPY_INT64"),
    "uint8": ("npy_uint8", "NPY_UINT8"),
    "uint16": ("npy_uint16", "NPY_UINT16"),
    "uint32": ("npy_uint32", "NPY_UINT32"),
    "uint64": ("npy_uint64", "NPY_UINT64"),
    "bool": ("npy_bool", "NPY_BOOL"),
}

_c_modules = {}
_c_lock = threading.Lock()


def _scalar_node(op):
    composite = op.scalar_op
    return Apply(
        composite,
        [ps.get_scalar_type(i.type.dtype).make_variable() for i in composite.inputs],
        [ps.get_scalar_type(o.type.dtype).make_variable() for o in composite.outputs],
    )


def c_kernel_available(op, node):
    """Whether the C kernel can run ``op`` (known dtypes, C code for the composite)."""
    dtypes = [i.type.dtype for i in op.scalar_op.inputs] + [o.type.dtype for o in op.scalar_op.outputs]
    if any(_C_TYPES.get(d) is None for d in dtypes):
        return False
    try:
        c_kernel_source(op)
    except Exception:  # MethodNotDefined / NotImplementedError from a scalar op without C code
        return False
    return True


def c_kernel_source(op):
    """Source of the extension module for ``op``: depends on the composite and the
    row layout, never on the number of rows."""
    cached = getattr(op, "_c_source", None)
    if cached is not None:
        return cached
    composite = op.scalar_op
    width, n_inv, nout = op.row_width, op.n_invariants, op.nout_row
    in_dtypes = [i.type.dtype for i in composite.inputs]
    out_dtypes = [o.type.dtype for o in composite.outputs]
    ctype = lambda d: _C_TYPES[d][0]  # noqa: E731
    typenum = lambda d: _C_TYPES[d][1]  # noqa: E731
    scalar_node = _scalar_node(op)
    inames = ["i%d" % k for k in range(width)] + ["c%d" % k for k in range(n_inv)]
    onames = ["o%d" % j for j in range(nout)]
    body = composite.c_code(scalar_node, "mtk", inames, onames, {"fail": "{ *failed = 1; }", "id": "0"})
    support = composite.c_support_code() + "\n" + composite.c_support_code_apply(scalar_node, "mtk")

    params = ["npy_intp n", "int* failed"]
    params += ["const %s* x%d" % (ctype(in_dtypes[k]), k) for k in range(width)]
    params += ["%s* y%d" % (ctype(out_dtypes[j]), j) for j in range(nout)]
    params += ["%s c%d" % (ctype(in_dtypes[width + k]), k) for k in range(n_inv)]
    hoisted = "".join(
        "    const %s i%d = x%d[0];\n" % (ctype(in_dtypes[k]), k, k) for k in range(width) if op.scalars[k]
    )
    loads = "".join(
        "        %s i%d = x%d[e];\n" % (ctype(in_dtypes[k]), k, k) for k in range(width) if not op.scalars[k]
    )
    decls = "".join("        %s o%d;\n" % (ctype(out_dtypes[j]), j) for j in range(nout))
    stores = "".join("        y%d[e] = o%d;\n" % (j, j) for j in range(nout))
    inv_params = "".join(", %s c%d" % (ctype(in_dtypes[width + k]), k) for k in range(n_inv))
    inv_args = "".join(", c%d" % k for k in range(n_inv))
    # Elements [a, b) of one row: a tensor input is offset by a, a 0-d one is not.
    slice_args = ["b - a", "failed"]
    slice_args += [
        "(const %s*)row->x[%d]%s" % (ctype(in_dtypes[k]), k, "" if op.scalars[k] else " + a") for k in range(width)
    ]
    slice_args += ["(%s*)row->y[%d] + a" % (ctype(out_dtypes[j]), j) for j in range(nout)]
    kernel = """
/* Element e reads the inputs at e, then writes the outputs at e; an output
   may share memory with the input it replaces, never with another element,
   so there is no dependence between iterations. */
static void kernel(%(params)s)
{
%(hoisted)s
    #pragma GCC ivdep
    for (npy_intp e = 0; e < n; ++e) {
%(loads)s%(decls)s        {
%(body)s
        }
%(stores)s    }
}

#define WIDTH %(width)d
#define NOUT %(nout)d
/* One row's data pointers and element count. */
typedef struct { npy_intp n; const char* x[WIDTH]; char* y[NOUT > 0 ? NOUT : 1]; } row_t;

/* Elements [lo, hi) of the node's rows laid end to end. */
static void run_range(const row_t* rows, Py_ssize_t n_rows, npy_intp lo, npy_intp hi, int* failed%(inv_params)s)
{
    npy_intp start = 0;
    for (Py_ssize_t r = 0; r < n_rows && start < hi; ++r) {
        const row_t* row = rows + r;
        npy_intp a = lo > start ? lo - start : 0;
        npy_intp b = hi - start < row->n ? hi - start : row->n;
        if (a < b)
            kernel(%(slice_args)s%(inv_args)s);
        start += row->n;
    }
}

/* All rows.  Large nodes are split into one contiguous share of elements per
   thread, in a single parallel region for the whole node: starting a region
   costs microseconds, and splitting each tensor separately would start one
   per tensor. */
static void run_rows(const row_t* rows, Py_ssize_t n_rows, npy_intp total, int* failed%(inv_params)s)
{
#ifdef _OPENMP
    if (total >= %(minsize)d) {
        int any_failed = 0;
        #pragma omp parallel reduction(|:any_failed)
        {
            npy_intp nth = omp_get_num_threads(), t = omp_get_thread_num();
            /* Shares start on multiples of 64 elements: threads do not write the
               same cache line of a tensor. */
            npy_intp lo = (total / nth * t + total %% nth * t / nth) & ~(npy_intp)63;
            npy_intp hi = t + 1 == nth ? total
                        : (total / nth * (t + 1) + total %% nth * (t + 1) / nth) & ~(npy_intp)63;
            int f = 0;
            run_range(rows, n_rows, lo, hi, &f%(inv_args)s);
            any_failed |= f;
        }
        if (any_failed) *failed = 1;
        return;
    }
#endif
    run_range(rows, n_rows, 0, total, failed%(inv_args)s);
}
""" % dict(params=", ".join(params), hoisted=hoisted, minsize=PARALLEL_MIN_SIZE, loads=loads, decls=decls,
           body=body, stores=stores, width=width, nout=nout, inv_params=inv_params, inv_args=inv_args,
           slice_args=", ".join(slice_args))

    in_types = ", ".join(typenum(d) for d in in_dtypes[:width]) or "0"
    out_types = ", ".join(typenum(d) for d in out_dtypes) or "0"
    inv_types = ", ".join(typenum(d) for d in in_dtypes[width:]) or "0"
    scalar_flags = ", ".join("1" if s else "0" for s in op.scalars) or "0"
    inv_values = "".join(
        ", *(%s*)PyArray_DATA(invs[%d])" % (ctype(in_dtypes[width + k]), k) for k in range(n_inv)
    )

    driver = r"""
#define NINV %(n_inv)d
#define REF %(ref)d  /* the row position whose shape the outputs take */
static const int in_types[] = {%(in_types)s};
static const int out_types[] = {%(out_types)s};
static const int inv_types[] = {%(inv_types)s};
static const int is_scalar[] = {%(scalar_flags)s};

/* Fetch the array in storage cell ``cell`` (a one-element list); borrowed. */
static PyArrayObject* cell_array(PyObject* cell, int typenum, const char* what)
{
    PyObject* value = PyList_GET_ITEM(cell, 0);
    if (!PyArray_Check(value) || PyArray_TYPE((PyArrayObject*)value) != typenum) {
        PyErr_Format(PyExc_TypeError, "MultiElemwise: %%s is not an array of the expected dtype", what);
        return NULL;
    }
    return (PyArrayObject*)value;
}

/* Whether ``a`` is one of the node's input arrays. */
static int is_input(PyArrayObject* a, PyArrayObject** inputs, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; ++k)
        if (inputs[k] == a) return 1;
    return 0;
}

/* The output buffers of every row, then one kernel call over all rows (so a
   buffer reused from the last call is checked against every input first). */
static int prepare_and_run(PyObject* row_cells, PyObject* out_cells, const npy_int64* destroy,
                           Py_ssize_t n_rows, PyArrayObject** invs, row_t* rows,
                           PyArrayObject** in_arr, PyArrayObject** tmp)
{
    npy_intp total = 0;
    for (Py_ssize_t r = 0; r < n_rows; ++r) {
        for (int k = 0; k < WIDTH; ++k) {
            Py_ssize_t i = r * WIDTH + k;
            in_arr[i] = cell_array(PyList_GET_ITEM(row_cells, i), in_types[k], "a row input");
            if (!in_arr[i]) return 0;
            if (!is_scalar[k]) {
                if (k > REF && !PyArray_SAMESHAPE(in_arr[r * WIDTH + REF], in_arr[i])) {
                    PyErr_Format(PyExc_ValueError,
                        "MultiElemwise: row %%zd mixes tensors of different shapes; every tensor of a "
                        "parameter's row must have the parameter's shape", r);
                    return 0;
                }
                if (!PyArray_IS_C_CONTIGUOUS(in_arr[i])) {
                    tmp[i] = (PyArrayObject*)PyArray_NewCopy(in_arr[i], NPY_CORDER);
                    if (!tmp[i]) return 0;
                }
            }
            rows[r].x[k] = PyArray_BYTES(tmp[i] ? tmp[i] : in_arr[i]);
        }
        rows[r].n = PyArray_SIZE(in_arr[r * WIDTH + REF]);
        total += rows[r].n;
    }
    for (Py_ssize_t r = 0; r < n_rows; ++r) {
        PyArrayObject* ref = in_arr[r * WIDTH + REF];
        for (int j = 0; j < NOUT; ++j) {
            PyObject* cell = PyList_GET_ITEM(out_cells, r * NOUT + j);
            npy_int64 d = destroy[r * NOUT + j];
            PyArrayObject* out = NULL;
            if (d >= 0 && tmp[r * WIDTH + d] == NULL && PyArray_ISWRITEABLE(in_arr[r * WIDTH + d])) {
                out = in_arr[r * WIDTH + d];     /* overwrite the replaced tensor */
                Py_INCREF(out);
            } else {
                PyObject* old = PyList_GET_ITEM(cell, 0);
                if (PyArray_Check(old) && PyArray_TYPE((PyArrayObject*)old) == out_types[j]
                    && PyArray_SAMESHAPE((PyArrayObject*)old, ref)
                    && PyArray_IS_C_CONTIGUOUS((PyArrayObject*)old)
                    && PyArray_ISWRITEABLE((PyArrayObject*)old)
                    && !is_input((PyArrayObject*)old, in_arr, n_rows * WIDTH)) {
                    out = (PyArrayObject*)old;   /* reuse last call's buffer */
                    Py_INCREF(out);
                }
                if (!out)
                    out = (PyArrayObject*)PyArray_EMPTY(PyArray_NDIM(ref), PyArray_DIMS(ref), out_types[j], 0);
                if (!out) return 0;
            }
            rows[r].y[j] = PyArray_BYTES(out);
            PyObject* previous = PyList_GET_ITEM(cell, 0);
            PyList_SET_ITEM(cell, 0, (PyObject*)out);   /* steals the new reference */
            Py_XDECREF(previous);
        }
    }
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    run_rows(rows, n_rows, total, &failed%(inv_values)s);
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_SetString(PyExc_RuntimeError, "MultiElemwise: the scalar kernel failed");
        return 0;
    }
    return 1;
}

/* run(row_cells, invariant_cells, output_cells, destroy, n_rows) */
static PyObject* run(PyObject* self, PyObject* args)
{
    PyObject *row_cells, *inv_cells, *out_cells;
    const char* destroy_bytes;
    Py_ssize_t destroy_len, n_rows;
    if (!PyArg_ParseTuple(args, "O!O!O!y#n", &PyList_Type, &row_cells, &PyList_Type, &inv_cells,
                          &PyList_Type, &out_cells, &destroy_bytes, &destroy_len, &n_rows))
        return NULL;
    PyArrayObject* invs[NINV > 0 ? NINV : 1];
    for (int k = 0; k < NINV; ++k) {
        invs[k] = cell_array(PyList_GET_ITEM(inv_cells, k), inv_types[k], "an invariant");
        if (!invs[k]) return NULL;
    }
    row_t* rows = (row_t*)PyMem_Calloc(n_rows > 0 ? n_rows : 1, sizeof(row_t));
    PyArrayObject** in_arr = (PyArrayObject**)PyMem_Calloc(n_rows * WIDTH + 1, sizeof(PyArrayObject*));
    PyArrayObject** tmp = (PyArrayObject**)PyMem_Calloc(n_rows * WIDTH + 1, sizeof(PyArrayObject*));  /* owned copies */
    int ok = rows && in_arr && tmp;
    if (!ok)
        PyErr_NoMemory();
    else
        ok = prepare_and_run(row_cells, out_cells, (const npy_int64*)destroy_bytes, n_rows, invs, rows,
                             in_arr, tmp);
    if (tmp)
        for (Py_ssize_t i = 0; i < n_rows * WIDTH; ++i) Py_XDECREF(tmp[i]);
    PyMem_Free(tmp);
    PyMem_Free(in_arr);
    PyMem_Free(rows);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}
""" % dict(n_inv=n_inv, in_types=in_types, out_types=out_types, inv_types=inv_types,
           scalar_flags=scalar_flags, inv_values=inv_values, ref=reference_position(op.scalars))

    source = "\n".join(
        ["#define PY_SSIZE_T_CLEAN", "#include <Python.h>", "#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION", "#include <numpy/arrayobject.h>",
         "#ifdef _OPENMP", "#include <omp.h>", "#endif"]
        + ["#include %s" % (h if h[0] in "<\"" else "<%s>" % h) for h in composite.c_headers()]
        + [support, kernel, driver]
    )
    op._c_source = source
    return source


def _module_code(source, name):
    return source + r"""
static PyMethodDef methods[] = {{"run", run, METH_VARARGS, "Run the kernel on every row."}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "%(name)s", NULL, -1, methods};
PyMODINIT_FUNC PyInit_%(name)s(void) { import_array(); return PyModule_Create(&moduledef); }
""" % dict(name=name)


def use_openmp():
    """Whether the C kernel splits large tensors over the cores.

    PyTensor's ``config.openmp`` is off by default (it was written for the
    convolution op); an optimizer step is memory-bound and gains from every
    core, so the kernel uses OpenMP unless ``OMP_NUM_THREADS=1``.  The
    number of threads follows ``OMP_NUM_THREADS`` (default: all cores).
    """
    return os.environ.get("OMP_NUM_THREADS", "").strip() != "1"


def c_kernel_module(op, node):
    """The compiled kernel module of ``op``: memory, then disk cache, then gcc."""
    from pytensor.link.c.cmodule import GCC_compiler, dlimport

    source = c_kernel_source(op)
    composite = op.scalar_op
    # The flags PyTensor's CLinker adds to every module (compile_args() has no -O).
    flags = ["-O3", "-fno-math-errno", "-Wno-unused-label", "-Wno-unused-variable", "-Wno-write-strings"]
    flags += list(GCC_compiler.compile_args()) + list(composite.c_compile_args())
    if use_openmp():
        flags.append("-fopenmp")
    libs = list(composite.c_libraries())
    key_text = "\n".join([source, " ".join(flags), " ".join(libs), pytensor.__version__, sys.version])
    key = hashlib.sha256(key_text.encode()).hexdigest()[:24]
    with _c_lock:
        module = _c_modules.get(key)
        if module is not None:
            return module
        name = "symupdates_mt_" + key
        location = os.path.join(config.compiledir, "symupdates", key)
        suffix = ".pyd" if sys.platform == "win32" else ".so"
        path = os.path.join(location, name + suffix)
        try:
            module = dlimport(path) if os.path.exists(path) else None
        except ImportError:
            module = None
        if module is None:
            from pytensor.compile.compilelock import lock_ctx

            os.makedirs(location, exist_ok=True)
            # Our own lock: PyTensor's global one is held through whole compilations.
            with lock_ctx(lock_dir=os.path.dirname(location)):
                if os.path.exists(path):
                    module = dlimport(path)
                else:
                    libs_with_omp = libs + (["gomp"] if use_openmp() else [])
                    module = GCC_compiler.compile_str(
                        name,
                        _module_code(source, name),
                        location=location,
                        include_dirs=list(composite.c_header_dirs()),
                        lib_dirs=list(composite.c_lib_dirs()),
                        libs=libs_with_omp,
                        preargs=flags,
                    )
        _c_modules[key] = module
        return module


# ---------------------------------------------------------------------------
# backends: Numba, JAX, PyTorch (each registered only if it can be imported)


def _row_slices(op, node):
    n_rows, width, nout = op.n_rows(node), op.row_width, op.nout_row
    return n_rows, width, nout, n_rows * width


def _register_numba():
    try:
        from pytensor.link.numba.dispatch.basic import numba_funcify, numba_njit, register_funcify_and_cache_key
    except ImportError:
        return

    kernels = {}

    def row_function(op, node, destroyed, may_be_large):
        """A jitted function computing one row; ``destroyed`` maps output -> row position."""
        scalar_fn = numba_funcify(op.scalar_op, node=_scalar_node(op))
        width, nout, n_inv = op.row_width, op.nout_row, op.n_invariants
        ref = reference_position(op.scalars)
        out_dtypes = [o.type.dtype for o in op.scalar_op.outputs]
        xs = ["x%d" % k for k in range(width)]
        cs = ["c%d" % k for k in range(n_inv)]
        elems = ["s%d" % k if op.scalars[k] else "a%d[e]" % k for k in range(width)]
        result = "r" if nout > 1 else "r0"
        stores = "".join(
            "        y%d[e] = %s\n" % (j, "r[%d]" % j if nout > 1 else "r0") for j in range(nout)
        )
        kernel_src = (
            "def kernel(n, {args}):\n"
            "    for e in {loop}(n):\n"
            "        {result} = scalar_fn({elems})\n"
            "{stores}"
        )
        args = ", ".join(
            ["s%d" % k if op.scalars[k] else "a%d" % k for k in range(width)] + ["y%d" % j for j in range(nout)] + cs
        )
        env = {"scalar_fn": scalar_fn, "np": np}
        variants = [("serial", "range", False)]
        if may_be_large:  # Numba's parallel compilation costs seconds: only when it can pay off
            variants.append(("parallel", "numba.prange", True))
        for name, loop, parallel in variants:
            import numba

            ns = dict(env, numba=numba)
            exec(kernel_src.format(args=args, loop=loop, result=result, elems=", ".join(elems + cs), stores=stores), ns)
            env[name] = numba_njit(ns["kernel"], parallel=parallel)
        lines = ["def row(%s):" % ", ".join(xs + ["v%d" % k for k in range(n_inv)]), "    n = x%d.size" % ref]
        lines += ["    c%d = v%d.item()" % (k, k) for k in range(n_inv)]
        for k in range(width):
            if op.scalars[k]:
                lines.append("    s%d = x%d.item()" % (k, k))
            else:
                if k != ref:
                    lines.append("    if x%d.shape != x%d.shape:" % (k, ref))
                    lines.append("        raise ValueError('MultiElemwise: a row mixes tensors of different shapes')")
                lines.append("    a%d = np.ascontiguousarray(x%d).reshape(n)" % (k, k))
        all_scalar = all(op.scalars)  # a 0-d parameter: np.ascontiguousarray would make it 1-d
        for j in range(nout):
            if j in destroyed:
                contiguous = "x%d" if all_scalar else "np.ascontiguousarray(x%d)"
                lines.append("    o%d = %s" % (j, contiguous % destroyed[j]))
            else:
                env["dtype%d" % j] = np.dtype(out_dtypes[j])
                lines.append("    o%d = np.empty(x%d.shape, dtype=dtype%d)" % (j, ref, j))
            lines.append("    y%d = o%d.reshape(n)" % (j, j))
        call = "(n, %s)" % args
        if may_be_large:
            lines.append("    if n >= %d:" % PARALLEL_MIN_SIZE)
            lines.append("        parallel%s" % call)
            lines.append("    else:")
            lines.append("        serial%s" % call)
        else:
            lines.append("    serial%s" % call)
        lines.append("    return %s" % ", ".join("o%d" % j for j in range(nout)) + ("," if nout == 1 else ""))
        ns = dict(env)
        exec("\n".join(lines), ns)
        return numba_njit(ns["row"])

    @register_funcify_and_cache_key(MultiElemwise)
    def numba_funcify_MultiElemwise(op, node, **kwargs):
        n_rows, width, nout, start = _row_slices(op, node)
        destroy = dict(op.inplace)
        may_be_large = any(
            None in o.type.shape or np.prod(o.type.shape, dtype=np.int64) >= PARALLEL_MIN_SIZE for o in node.outputs
        )
        env = {}
        names = ["i%d" % k for k in range(len(node.inputs))]
        invs = names[start:]
        lines = ["def multi_elemwise(%s):" % ", ".join(names)]
        outs = []
        for r in range(n_rows):
            destroyed = tuple(
                sorted((j, destroy[r * nout + j] - r * width) for j in range(nout) if r * nout + j in destroy)
            )
            key = (op.scalar_op, op.scalars, destroyed, may_be_large)
            if key not in kernels:
                kernels[key] = row_function(op, node, dict(destroyed), may_be_large)
            fname = "row_%d" % (list(kernels).index(key))
            env[fname] = kernels[key]
            row_outs = ["o%d_%d" % (r, j) for j in range(nout)]
            outs.extend(row_outs)
            lines.append("    %s, = %s(%s)" % (", ".join(row_outs), fname, ", ".join(names[r * width:(r + 1) * width] + invs)))
        lines.append("    return %s" % (outs[0] if len(outs) == 1 else "(%s)" % ", ".join(outs)))
        ns = dict(env, np=np)
        exec("\n".join(lines), ns)
        # Not cached on disk: PyTensor's cache wrapper passes ``*args``, which
        # Numba compiles very slowly for hundreds of arguments.
        return numba_njit(ns["multi_elemwise"]), None


def _register_jax():
    try:
        import jax
        import jax.numpy as jnp
        from pytensor.link.jax.dispatch import jax_funcify
    except ImportError:
        return

    from pytensor.tensor.elemwise import CAReduce

    pytensor_careduce = jax_funcify.dispatch(CAReduce)
    if not getattr(pytensor_careduce, "casts_to_output_dtype", False):
        # PyTensor's JAX reduction returns its accumulator dtype (float64 for
        # a float32 sum) instead of the node's output dtype, so a float32
        # parameter updated through a sum would come back float64.
        @jax_funcify.register(CAReduce)
        def jax_funcify_CAReduce(op, node=None, **kwargs):
            reduce = pytensor_careduce(op, node=node, **kwargs)
            if node is None:
                return reduce
            dtype = node.outputs[0].type.dtype

            def careduce(*args):
                return jnp.asarray(reduce(*args)).astype(dtype)

            return careduce

        jax_funcify_CAReduce.casts_to_output_dtype = True

    @jax_funcify.register(MultiElemwise)
    def jax_funcify_MultiElemwise(op, node, **kwargs):
        n_rows, width, nout, start = _row_slices(op, node)
        scalar_fn = jax_funcify(op.scalar_op.fgraph)
        ref = reference_position(op.scalars)
        out_dtypes = [o.type.dtype for o in op.scalar_op.outputs]

        # Jitted once per row shape: tracing the formula's jnp calls for
        # every row is most of the compile time of a many-tensor graph, and
        # rows of equal shapes reuse one trace.
        @jax.jit
        def row_fn(*row_and_invariants):
            shape = jnp.shape(row_and_invariants[ref])
            values = scalar_fn(*row_and_invariants)
            return tuple(jnp.broadcast_to(jnp.asarray(v, dtype=d), shape) for v, d in zip(values, out_dtypes))

        def multi_elemwise(*inputs):
            invariants = inputs[start:]
            outs = []
            for r in range(n_rows):
                outs.extend(row_fn(*inputs[r * width:(r + 1) * width], *invariants))
            return outs[0] if len(outs) == 1 else tuple(outs)

        return multi_elemwise


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


def _register_pytorch():
    try:
        import torch
        from pytensor.link.pytorch.dispatch import pytorch_funcify
    except ImportError:
        return

    # PyTensor's generic scalar dispatch maps a scalar op to the torch
    # function of its NumPy name, which for these does not exist (torch.power,
    # torch.mod) or means something else (torch.equal compares whole tensors
    # and returns one bool).  Without these, rules using ``x**y``, ``%`` or
    # ``eq`` do not run on the PyTorch backend at all.
    replacements = {ps.Pow: torch.pow, ps.Mod: torch.remainder, ps.EQ: torch.eq, ps.NEQ: torch.ne}
    for scalar_op, torch_fn in replacements.items():
        if pytorch_funcify.dispatch(scalar_op) is pytorch_funcify.dispatch(ps.ScalarOp):
            pytorch_funcify.register(scalar_op)(lambda op, node=None, _fn=torch_fn, **kwargs: _fn)

    if pytorch_funcify.dispatch(ps.Composite) is pytorch_funcify.dispatch(ps.ScalarOp):
        # An Elemwise of a Composite (the engine's fallback for a row whose
        # entries broadcast) has no PyTorch dispatch in PyTensor.
        @pytorch_funcify.register(ps.Composite)
        def pytorch_funcify_Composite(op, node=None, **kwargs):
            kwargs.pop("storage_map", None)
            function = _torch_scalar_function(op.fgraph, pytorch_funcify, kwargs)
            if op.nout == 1:
                return lambda *args: function(*args)[0]
            return lambda *args: tuple(function(*args))

    @pytorch_funcify.register(MultiElemwise)
    def pytorch_funcify_MultiElemwise(op, node, **kwargs):
        n_rows, width, nout, start = _row_slices(op, node)
        kwargs.pop("storage_map", None)
        kwargs.pop("node", None)
        scalar_fn = _torch_scalar_function(op.scalar_op.fgraph, pytorch_funcify, kwargs)
        ref = reference_position(op.scalars)
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


class _AfterImport:
    """Run a callback once a module has been imported (a post-import hook).

    The backends' dispatch modules import Numba, JAX or torch, which take
    seconds; registering there only when PyTensor itself loads the backend
    keeps ``import symupdates`` fast.
    """

    def __init__(self, callbacks):
        self.callbacks = dict(callbacks)

    def find_spec(self, name, path=None, target=None):
        if name not in self.callbacks:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        callback = self.callbacks.pop(name)
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            callback()

        loader.exec_module = exec_then_register
        return spec


def _register_backends():
    pending = {}
    for module, register in (
        ("pytensor.link.numba.dispatch", _register_numba),
        ("pytensor.link.jax.dispatch", _register_jax),
        ("pytensor.link.pytorch.dispatch", _register_pytorch),
    ):
        if module in sys.modules:
            register()
        else:
            pending[module] = register
    if pending:
        sys.meta_path.insert(0, _AfterImport(pending))


_register_backends()
