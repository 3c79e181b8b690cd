"""The in-place rewrite of :class:`~symupdates.engine.op.MultiElemwise`.

The op is created out of place; :class:`MultiElemwiseInplace` (tags
``fast_run``, ``inplace``) then lets each output overwrite the input it
replaces (``param``, ``m``, ``v`` ...) where PyTensor's destroy handler
accepts it, exactly like PyTensor's own in-place Elemwise rewrite.
"""

from collections import Counter

from pytensor.graph.basic import Constant
from pytensor.graph.features import ReplaceValidate
from pytensor.graph.rewriting.basic import GraphRewriter
from pytensor.graph.utils import InconsistencyError

from .op import MultiElemwise, can_overwrite
from .workarounds import Supervisor

__all__ = ["MultiElemwiseInplace"]


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
        updated = self._updated_inputs(fgraph)
        todo = []
        for node in fgraph.toposort():
            if isinstance(node.op, MultiElemwise) and not node.op.inplace:
                pairs = self._candidate_pairs(node, protected, fgraph.clients, updated)
                if pairs:
                    todo.append((node, pairs))
        if not todo:
            return
        # Usually every candidate is accepted: one validation for all nodes.
        # A node fed by an earlier one (lamb's step reads its direction) is
        # rebuilt on the earlier node's replacement, or the old one would return.
        replaced, replacements = {}, []
        for node, pairs in todo:
            new = self._inplace_node(node, pairs, [replaced.get(x, x) for x in node.inputs])
            replaced.update(zip(node.outputs, new.outputs))
            replacements += list(zip(node.outputs, new.outputs))
        try:
            fgraph.replace_all_validate(replacements, reason="symupdates_multitensor_inplace")
            return
        except (InconsistencyError, ValueError):
            pass
        for node, pairs in todo:
            self._try(fgraph, node, [], pairs)

    @staticmethod
    def _updated_inputs(fgraph):
        """``{output variable: the input variable it updates}`` of a compiled
        function's graph, or None for a graph without updates information."""
        mapping = getattr(fgraph, "update_mapping", None)
        if mapping is None:
            return None
        return {fgraph.outputs[o]: fgraph.inputs[i] for o, i in mapping.items()}

    @staticmethod
    def _candidate_pairs(node, protected, clients, updated=None):
        """The (output, input) pairs that may share a buffer.

        In a compiled function's graph (``updated`` known), an output may
        overwrite the input of its own row that it is the update of,
        whichever stage built the node (one whose row holds an earlier
        stage's value included).  Otherwise (the steps of an unrolled loop) an output
        overwrites its op's candidate where that is an intermediate result,
        or an updated input of the function that this node alone reads; it
        never overwrites an input read elsewhere or not updated, so the
        destroy handler is not asked for pairs it must refuse.
        Elsewhere the op's ``candidates`` decide.
        """
        op = node.op
        width, nout = op.row_width, op.nout_row
        uses = Counter(node.inputs)
        updated_inputs = set(updated.values()) if updated is not None else set()
        pairs = []
        for r in range(op.n_rows(node)):
            row = node.inputs[r * width:(r + 1) * width]
            for j, k in enumerate(op.candidates):
                o = r * nout + j
                if updated is not None:
                    target = updated.get(node.outputs[o])
                    own = next((pos for pos, x in enumerate(row) if x is target), -1) if target is not None else -1
                    if own >= 0:
                        k = own
                    elif k >= 0:
                        intermediate = row[k].owner is not None
                        read_here_only = row[k] in updated_inputs and len(clients[row[k]]) == 1
                        if not (intermediate or read_here_only):
                            k = -1
                if k < 0:
                    continue
                i = r * width + k
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
    def _inplace_node(node, pairs, inputs=None):
        op = node.op
        return MultiElemwise(op.scalar_op, op.zero_dim, op.candidates, inplace=pairs).make_node(
            *(node.inputs if inputs is None else inputs))

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


def register():
    """Register the rewrite with PyTensor's optimizer database (once per process)."""
    from pytensor.compile import optdb

    if "symupdates_multitensor_inplace" in optdb:
        return

    optdb.register(
        "symupdates_multitensor_inplace",
        MultiElemwiseInplace(),
        "fast_run",
        "inplace",
        # Before PyTensor's inplace_elemwise (50.5): a kernel output overwriting
        # the variable it updates goes first; an Elemwise that merely reads
        # that variable (accumulate_gradients' sum + grad, feeding a norm)
        # must not take its buffer.
        position=50.45,
    )

