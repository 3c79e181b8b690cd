"""The Numba implementation of :class:`~symupdates.engine.op.MultiElemwise`.

Registered with PyTensor's ``numba_funcify`` when PyTensor loads its Numba
backend (see :mod:`symupdates.engine.backends`).

PyTensor's Numba linker compiles the whole graph as one jitted function of
all its inputs, and Numba's compile time grows faster than linearly in the
number of array arguments of a function.  A node of 32 rows of 4 tensors is
such a function (~130 arguments).  In Numba mode, :class:`SplitRows`
therefore gives every row its own node after the in-place rewrite: the
nodes of one layout (composite, row layout, in-place pattern, dtypes and
ranks) all run the same small jitted function, compiled once and cached on
disk under a key that is the same in every process (:func:`cache_key`).
"""

from hashlib import sha256

import numpy as np
from pytensor.graph.features import ReplaceValidate
from pytensor.graph.rewriting.basic import GraphRewriter

from ..finite import AllFinite
from ..op import PARALLEL_MIN_SIZE, MultiElemwise, reference_position, row_slices, scalar_node


def register():
    try:
        from pytensor.link.numba.dispatch.basic import (
            numba_njit,
            register_funcify_and_cache_key,
        )
    except ImportError:
        return

    kernels = {}

    def row_function(op, node, destroyed, may_be_large):
        """A jitted function computing one row; ``destroyed`` maps output -> row position."""
        scalar_fn, _ = scalar_function(op)
        width, nout, n_inv = op.row_width, op.nout_row, op.n_invariants
        ref = reference_position(op.zero_dim)
        out_dtypes = [o.type.dtype for o in op.scalar_op.outputs]
        xs = ["x%d" % k for k in range(width)]
        cs = ["c%d" % k for k in range(n_inv)]
        elems = ["s%d" % k if op.zero_dim[k] else "a%d[e]" % k for k in range(width)]
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
            ["s%d" % k if op.zero_dim[k] else "a%d" % k for k in range(width)] + ["y%d" % j for j in range(nout)] + cs
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
            if op.zero_dim[k]:
                lines.append("    s%d = x%d.item()" % (k, k))
            else:
                if k != ref:
                    lines.append("    if x%d.shape != x%d.shape:" % (k, ref))
                    lines.append("        raise ValueError('MultiElemwise: a row mixes tensors of different shapes')")
                lines.append("    a%d = np.ascontiguousarray(x%d).reshape(n)" % (k, k))
        all_scalar = all(op.zero_dim)  # a 0-d parameter: np.ascontiguousarray would make it 1-d
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
        # PyTensor's convention for a node: one output bare, several as a tuple
        lines.append("    return %s" % ", ".join("o%d" % j for j in range(nout)))
        ns = dict(env)
        exec("\n".join(lines), ns)
        return numba_njit(ns["row"])

    def row_kernel(op, node, destroyed, may_be_large):
        """The row function for the in-place pattern ``destroyed`` ((output, row position) pairs), made once."""
        key = (op.scalar_op, op.zero_dim, destroyed, may_be_large)
        if key not in kernels:
            kernels[key] = row_function(op, node, dict(destroyed), may_be_large)
        return kernels[key]

    node_functions = {}

    @register_funcify_and_cache_key(MultiElemwise)
    def numba_funcify_MultiElemwise(op, node, **kwargs):
        may_be_large = any(
            None in o.type.shape or np.prod(o.type.shape, dtype=np.int64) >= PARALLEL_MIN_SIZE for o in node.outputs
        )
        key = cache_key(op, node, may_be_large)
        # Nodes of one layout (every row's node in Numba mode) share one function.
        found = node_functions.get(key) if key is not None else None
        if found is None:
            found = node_function(op, node, may_be_large)
            if key is not None:
                node_functions[key] = found
        return found, key

    def node_function(op, node, may_be_large):
        n_rows, width, nout, start = row_slices(op, node)
        destroy = dict(op.inplace)
        if n_rows == 1:  # (every node, once SplitRows has run) the row's function is the node's
            return row_kernel(op, node, tuple(sorted(destroy.items())), may_be_large)
        env = {}
        names = ["i%d" % k for k in range(len(node.inputs))]
        invs = names[start:]
        lines = ["def multi_elemwise(%s):" % ", ".join(names)]
        outs = []
        for r in range(n_rows):
            destroyed = tuple(
                sorted((j, destroy[r * nout + j] - r * width) for j in range(nout) if r * nout + j in destroy)
            )
            fname = "row_%d" % r
            env[fname] = row_kernel(op, node, destroyed, may_be_large)
            row_outs = ["o%d_%d" % (r, j) for j in range(nout)]
            outs.extend(row_outs)
            lines.append("    %s = %s(%s)" % (", ".join(row_outs), fname, ", ".join(names[r * width:(r + 1) * width] + invs)))
        lines.append("    return %s" % (outs[0] if len(outs) == 1 else "(%s)" % ", ".join(outs)))
        ns = dict(env, np=np)
        exec("\n".join(lines), ns)
        return numba_njit(ns["multi_elemwise"])

    @register_funcify_and_cache_key(AllFinite)
    def numba_funcify_AllFinite(op, node, **kwargs):
        names = ["x%d" % k for k in range(len(node.inputs))]
        lines = ["def all_finite(%s):" % ", ".join(names)]
        for name in names:
            lines += ["    for v in %s.ravel():" % name, "        if not np.isfinite(v):", "            return np.asarray(False)"]
        lines.append("    return np.asarray(True)")
        ns = {"np": np}
        exec("\n".join(lines), ns)
        key = sha256(str(("symupdates.AllFinite", CACHE_VERSION, len(names))).encode()).hexdigest()
        return numba_njit(ns["all_finite"]), key


class SplitRows(GraphRewriter):
    """Numba mode only: one MultiElemwise node per row, keeping its in-place pairs.

    Every node then has a handful of arguments, and nodes of the same layout
    share one compiled function (see the module's docstring).  It runs after
    the in-place rewrite, whose groups keep graph validation cheap.
    """

    def add_requirements(self, fgraph):
        fgraph.attach_feature(ReplaceValidate())

    def apply(self, fgraph):
        # The row nodes of a node read the row nodes of the nodes before it, not
        # the node they replace: that one would come back with its destroyers.
        replaced = {}
        for node in fgraph.toposort():
            op = node.op
            if not isinstance(op, MultiElemwise) or op.n_rows(node) == 1:
                continue
            n_rows, width, nout, start = row_slices(op, node)
            inputs = [replaced.get(i, i) for i in node.inputs]
            invariants = inputs[start:]
            pairs = dict(op.inplace)
            for r in range(n_rows):
                row_inplace = [(o - r * nout, pairs[o] - r * width) for o in range(r * nout, (r + 1) * nout) if o in pairs]
                row_op = MultiElemwise(op.scalar_op, op.zero_dim, op.candidates, inplace=row_inplace)
                new = row_op.make_node(*inputs[r * width:(r + 1) * width], *invariants)
                replaced.update(zip(node.outputs[r * nout:(r + 1) * nout], new.outputs))
        if replaced:
            fgraph.replace_all_validate(list(replaced.items()), reason="symupdates_numba_split_rows")


def register_split_rows():
    """Register :class:`SplitRows` with the rewrites of Numba mode (tag "numba"), once per process."""
    from pytensor.compile import optdb

    if "symupdates_numba_split_rows" not in optdb:
        optdb.register("symupdates_numba_split_rows", SplitRows(), "numba", position=50.7)


def scalar_function(op):
    """The composite's Numba function and PyTensor's cache key for it (made once per op)."""
    found = getattr(op, "_numba_scalar", None)
    if found is None:
        from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key

        found = op._numba_scalar = numba_funcify_and_cache_key(op.scalar_op, node=scalar_node(op))
    return found


#: Changes whenever the generated code changes, so that old cache entries are not used.
CACHE_VERSION = 2


def cache_key(op, node, may_be_large):
    """A key for PyTensor's Numba disk cache, the same in every process.

    It names what the generated code depends on: the composite (PyTensor's
    own key for it), the row layout, the number of rows, the in-place
    pattern and whether a parallel loop is compiled in.  Numba adds the
    argument types (dtype, rank, layout) itself.  None when PyTensor cannot
    key the composite.
    """
    _, composite_key = scalar_function(op)
    if composite_key is None:
        return None
    text = str(("symupdates.MultiElemwise", CACHE_VERSION, composite_key, op.zero_dim, op.candidates, op.inplace,
                op.n_rows(node), may_be_large))
    return sha256(text.encode()).hexdigest()
