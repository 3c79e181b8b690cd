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
        position=50.6,  # right after PyTensor's inplace_elemwise
    )

