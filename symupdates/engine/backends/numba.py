"""The Numba implementation of :class:`~symupdates.engine.op.MultiElemwise`.

Registered with PyTensor's ``numba_funcify`` when PyTensor loads its Numba
backend (see :mod:`symupdates.engine.backends`).
"""

import numpy as np

from ..op import PARALLEL_MIN_SIZE, MultiElemwise, reference_position, row_slices, scalar_node


def register():
    try:
        from pytensor.link.numba.dispatch.basic import numba_funcify, numba_njit, register_funcify_and_cache_key
    except ImportError:
        return

    kernels = {}

    def row_function(op, node, destroyed, may_be_large):
        """A jitted function computing one row; ``destroyed`` maps output -> row position."""
        scalar_fn = numba_funcify(op.scalar_op, node=scalar_node(op))
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
        n_rows, width, nout, start = row_slices(op, node)
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
