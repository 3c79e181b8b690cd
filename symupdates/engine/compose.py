"""Compositions kept inside the engine: update graphs refused into kernels.

A wrapper or a transform around a rule adds element-wise arithmetic per
parameter: the skip gate ``switch(finite, new, old)``, lookahead's pull
towards the slow weights, an average, decoupled weight decay, a gradient
scaled by the global-norm factor or given an L2 term.  Built as written,
that is a handful of ``Elemwise`` nodes per parameter around the rule's
:class:`~symupdates.engine.op.MultiElemwise` node: PyTensor's rewriter then
works per parameter again (compile time quadratic in the number of
tensors), and an output that must also keep the old value for a gate can
no longer overwrite it.

:func:`fuse_updates` takes such an update dict and rebuilds it the way a
bare rule is built.  For each parameter it collects the element-wise
*region* behind its updates (the parameter's row of the rule's kernel plus
every element-wise node between the gradients and state going in and the
updates coming out) and the region's *leaves* (parameter, gradient, state,
and the loop-invariant scalars: the finiteness flag, the clip factor, the
sync flag, the hyperparameters).  The region is one scalar formula; every
parameter whose region has the same formula gets a row of one new
``MultiElemwise`` node, whose outputs may overwrite the variables they
update.  A region never swallows a value that something else also reads
(a norm of the new step, a finiteness check of the new values): that value
stays an output of its own kernel, so the result is O(1) nodes per group of
tensors either way.  The arithmetic is the graph's own scalar operations in
the graph's own order: the numbers do not change.
"""

from collections import OrderedDict

import pytensor.scalar as ps
from pytensor.graph.basic import Constant
from pytensor.graph.traversal import apply_ancestors, toposort
from pytensor.tensor.elemwise import DimShuffle, Elemwise

from ..core import as_type_of
from .apply import apply_composite
from .op import MultiElemwise

__all__ = ["fuse_updates"]


def broadcast_scalar(var):
    """The 0-d variable ``var`` broadcasts, if it is one dimshuffled up, else None."""
    node = var.owner
    if node is not None and isinstance(node.op, DimShuffle) and node.inputs[0].type.ndim == 0:
        if all(d == "x" for d in node.op.new_order):
            return node.inputs[0]
    return None


def inline(composite, args):
    """The outputs of ``composite`` applied to the scalars ``args``, as a scalar graph."""
    value = dict(zip(composite.fgraph.inputs, args))
    for node in composite.fgraph.toposort():
        outputs = node.op.make_node(*[value.get(x, x) for x in node.inputs]).outputs
        value.update(zip(node.outputs, outputs))
    return [value[o] for o in composite.fgraph.outputs]


class _Graph:
    """The update graph seen as units: an element-wise node, or one row of a
    MultiElemwise node."""

    def __init__(self, exprs):
        self.nodes = list(apply_ancestors(exprs))
        self.clients = {}
        for node in self.nodes:
            for pos, x in enumerate(node.inputs):
                self.clients.setdefault(x, []).append(self.client_key(node, pos))
        # 0-d values computed from a kernel's outputs: the region of a 0-d
        # parameter goes through them; hyperparameter arithmetic is a leaf.
        self.downstream = set()
        for node in toposort(exprs):
            if isinstance(node.op, MultiElemwise) or (
                    isinstance(node.op, Elemwise) and any(x in self.downstream for x in node.inputs)):
                self.downstream.update(node.outputs)

    @staticmethod
    def client_key(node, pos):
        if isinstance(node.op, MultiElemwise):
            width, n_rows = node.op.row_width, node.op.n_rows(node)
            return (node, pos // width) if pos < n_rows * width else (node, "invariants")
        return node

    def unit_of(self, var):
        """The unit producing ``var`` if it may join a region, else None."""
        node = var.owner
        if node is None:
            return None
        if isinstance(node.op, MultiElemwise):
            return (node, node.outputs.index(var) // node.op.nout_row)
        if not isinstance(node.op, Elemwise):
            return None
        if var.type.ndim == 0:
            return node if var in self.downstream else None
        pattern = var.type.broadcastable
        if all(x.type.broadcastable == pattern or broadcast_scalar(x) is not None for x in node.inputs):
            return node
        return None

    @staticmethod
    def unit_inputs(unit):
        if isinstance(unit, tuple):
            node, r = unit
            width = node.op.row_width
            return node.inputs[r * width:(r + 1) * width] + node.inputs[node.op.n_rows(node) * width:]
        return unit.inputs

    @staticmethod
    def unit_outputs(unit):
        if isinstance(unit, tuple):
            node, r = unit
            nout = node.op.nout_row
            return node.outputs[r * nout:(r + 1) * nout]
        return unit.outputs

    def region(self, var, allowed=None):
        """The units reachable from ``var`` through units (of ``allowed`` only, if given)."""
        found, todo = set(), [var]
        while todo:
            v = todo.pop()
            unit = self.unit_of(v)
            if unit is None or unit in found or (allowed is not None and unit not in allowed):
                continue
            found.add(unit)
            ndim = v.type.ndim
            todo.extend(x for x in self.unit_inputs(unit) if x.type.ndim == ndim)
        return found

    def prune(self, region, keep=()):
        """``region`` without the units whose values something outside it reads.

        Such a unit would be computed twice (by its own node for the outside
        reader, and in the new kernel), and its node would read the variables
        the kernel overwrites.  One element-wise operation on leaves
        (``grad_sum + grad``) is cheaper recomputed than kept apart.
        """
        region = set(region)
        changed = True
        while changed:
            changed = False
            for unit in list(region):
                if unit in keep:
                    continue
                if not any(c not in region for out in self.unit_outputs(unit) for c in self.clients.get(out, ())):
                    continue
                if not isinstance(unit, tuple) and not any(
                        self.unit_of(x) in region for x in unit.inputs if x.type.ndim == unit.outputs[0].type.ndim):
                    continue
                region.discard(unit)
                changed = True
        return region


class _Cluster:
    """The updates one region computes: its formula, as a hashable key, and its leaves."""

    def __init__(self, graph, targets, exprs, region):
        self.targets, self.exprs, self.region = targets, exprs, region
        table, self.leaves, self.operations = {}, [], []
        leaf_index = {}

        def ref(var):
            if var in table:
                return table[var]
            unit = graph.unit_of(var)
            if unit is None or unit not in region:
                leaf = broadcast_scalar(var)
                leaf = var if leaf is None else leaf
                if isinstance(leaf, Constant) and leaf.type.ndim == 0:
                    table[var] = ("constant", leaf.dtype, leaf.data.item())
                    return table[var]
                if leaf not in leaf_index:
                    leaf_index[leaf] = len(self.leaves)
                    self.leaves.append(leaf)
                table[var] = ("leaf", leaf_index[leaf])
                return table[var]
            inputs = tuple(ref(x) for x in graph.unit_inputs(unit))
            if isinstance(unit, tuple):
                op = ("kernel", id(unit[0].op.scalar_op))
                self.operations.append((op, unit[0].op.scalar_op, inputs))
            else:
                scalar_op = unit.op.scalar_op
                op = ("elementwise", id(scalar_op)) if isinstance(scalar_op, ps.Composite) else scalar_op
                self.operations.append((op, scalar_op, inputs))
            for j, out in enumerate(graph.unit_outputs(unit)):
                table[out] = ("operation", len(self.operations) - 1, j)
            return table[var]

        self.outputs = [ref(e) for e in exprs]
        self.key = (
            tuple((o[0], o[2]) for o in self.operations),
            tuple((x.type.dtype, x.type.ndim == 0) for x in self.leaves),
            tuple(self.outputs),
            tuple(e.type.dtype for e in exprs),
        )

    def composite(self, invariant):
        """The formula as a ``Composite``: row leaves, then the leaves flagged ``invariant``."""
        scalars = [ps.get_scalar_type(x.type.dtype)() for x in self.leaves]
        values = []

        def value(r):
            if r[0] == "leaf":
                return scalars[r[1]]
            if r[0] == "constant":
                return ps.constant(r[2], dtype=r[1])
            return values[r[1]][r[2]]

        for op, scalar_op, inputs in self.operations:
            args = [value(r) for r in inputs]
            if isinstance(op, tuple) and op[0] == "kernel":
                values.append(inline(scalar_op, args))
            else:
                values.append(scalar_op.make_node(*args).outputs)
        outputs = []
        for r, expr in zip(self.outputs, self.exprs):
            out = value(r)
            if out.type.dtype != expr.type.dtype:
                out = ps.cast(out, expr.type.dtype)
            if out.owner is None:
                out = ps.identity(out)
            outputs.append(out)
        order = [k for k in range(len(scalars)) if not invariant[k]] + [k for k in range(len(scalars)) if invariant[k]]
        return ps.Composite([scalars[k] for k in order], outputs)


def fuse_updates(updates):
    """``updates`` with each parameter's element-wise updates computed by one
    row of a :class:`~symupdates.engine.op.MultiElemwise` node.

    Element-wise arithmetic added around a rule's kernel (gates, averages,
    gradient scaling, weight decay) joins the kernel's formula; parameters
    whose formulas agree share a node, and each output may overwrite the
    variable it updates.  Updates that are not element-wise (counters,
    reductions) are kept as they are.  Returns a new ``OrderedDict``.
    """
    updates = OrderedDict(updates)
    variables, exprs = list(updates), list(updates.values())
    graph = _Graph(exprs)

    # updates whose regions share a unit are computed together
    owner = {}
    parent = list(range(len(exprs)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    regions = [graph.region(e) for e in exprs]
    for i, region in enumerate(regions):
        for unit in region:
            j = owner.setdefault(unit, i)
            if find(j) != find(i):
                parent[find(j)] = find(i)
    members = OrderedDict()
    for i, region in enumerate(regions):
        if region:
            members.setdefault(find(i), []).append(i)

    groups, bare = OrderedDict(), []
    for indices in members.values():
        region = graph.prune(set().union(*(regions[i] for i in indices)))
        kept = []
        for i in indices:
            reached = graph.region(exprs[i], allowed=region)
            if reached:
                kept.append((i, reached))
        if not kept:
            continue
        region = set().union(*(r for _, r in kept))
        if all(isinstance(u, tuple) for u in region) and all(graph.unit_of(exprs[i]) is not None for i, _ in kept) \
                and len({u[0] for u in region}) == 1:
            bare.append((kept, region))  # a bare rule's kernel: nothing to fuse...
            continue
        cluster = _Cluster(graph, [variables[i] for i, _ in kept], [exprs[i] for i, _ in kept], region)
        groups.setdefault(cluster.key, []).append(cluster)
    # ... unless other rows of its node were fused (decay masked to some
    # parameters): the old node, kept for these rows, would compute them all
    fused = {u[0] for clusters in groups.values() for c in clusters for u in c.region if isinstance(u, tuple)}
    for kept, region in bare:
        if next(iter(region))[0] in fused:
            cluster = _Cluster(graph, [variables[i] for i, _ in kept], [exprs[i] for i, _ in kept], region)
            groups.setdefault(cluster.key, []).append(cluster)

    for clusters in groups.values():
        outputs = _apply(clusters, [tuple(c.targets) for c in clusters])
        for c, outs in zip(clusters, outputs):
            for var, out in zip(c.targets, outs):
                updates[var] = as_type_of(out, var)
    return _absorb_inputs(updates)


def _apply(clusters, targets):
    """The clusters (of one formula) as rows of kernels; their outputs, row by row."""
    first = clusters[0]
    updated = [set(c.targets) for c in clusters]
    # a 0-d leaf all rows share is a loop invariant, passed once per node
    invariant = [
        leaf.type.ndim == 0 and all(c.leaves[k] is leaf and leaf not in u for c, u in zip(clusters, updated))
        for k, leaf in enumerate(first.leaves)
    ]
    if all(invariant):
        invariant[0] = False
    composite = first.composite(invariant)
    rows = [tuple(x for x, inv in zip(c.leaves, invariant) if not inv) for c in clusters]
    invariants = [x for x, inv in zip(first.leaves, invariant) if inv]
    return apply_composite(composite, rows, invariants, targets=targets)


def _absorb_inputs(updates):
    """Kernels whose values something else also reads (lamb's direction feeds
    its trust ratio; a rule's new values feed skip_nonfinite's check) stay
    kernels of their own; the element-wise arithmetic on their inputs
    (a clipped or decayed gradient) moves into them."""
    from pytensor.graph.replace import graph_replace

    variables, exprs = list(updates), list(updates.values())
    graph = _Graph(exprs)
    replace = {}
    for node in graph.nodes:
        if not isinstance(node.op, MultiElemwise):
            continue
        clusters = []
        for r in range(node.op.n_rows(node)):
            unit = (node, r)
            below = set()
            for x in graph.unit_inputs(unit)[:node.op.row_width]:
                if x.type.ndim == graph.unit_outputs(unit)[0].type.ndim:
                    below |= graph.region(x)
            region = graph.prune(below | {unit}, keep={unit})
            clusters.append(_Cluster(graph, [None] * node.op.nout_row, list(graph.unit_outputs(unit)), region))
        if all(len(c.operations) == 1 for c in clusters):
            continue
        groups = OrderedDict()
        for c in clusters:
            groups.setdefault(c.key, []).append(c)
        for group in groups.values():
            for c, outs in zip(group, _apply(group, None)):
                replace.update(zip(c.exprs, outs))
    if not replace:
        return updates
    return OrderedDict(zip(variables, graph_replace(exprs, replace, strict=False)))
