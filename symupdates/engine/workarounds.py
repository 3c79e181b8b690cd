"""Workarounds for defects and gaps of PyTensor, in one place.

Each one names the PyTensor versions it was written for (2.38.x, the line
PyMC pins, and 3.0.x, the lines the test suite runs on) and switches itself
off when the installed PyTensor behaves: before patching, it asks PyTensor
(``upstream_*``) whether the defect is there.  :data:`ACTIVE` records, per
workaround, whether it was switched on in this process.
``tests/test_workarounds.py`` asserts that each defect is still present
upstream: when a PyTensor release fixes one, that test fails, naming the
workaround to delete.
"""

import pytensor.scalar as ps

# The aliasing Supervisor moved in PyTensor 3; 2.38 is the line PyMC pins.
try:
    from pytensor.compile.aliasing import Supervisor  # PyTensor >= 3
except ImportError:  # PyTensor 2.38
    from pytensor.compile.function.types import Supervisor

#: ``{workaround name: whether it is switched on in this process}``, filled
#: in when PyTensor loads the backend a workaround is for.
ACTIVE = {}

#: The scalar ops PyTensor's PyTorch backend maps to a torch function that
#: does not exist (``torch.power``, ``torch.mod``) or means something else
#: (``torch.equal`` compares whole tensors and returns one bool).
PYTORCH_SCALAR_OPS = {ps.Pow: "pow", ps.Mod: "remainder", ps.EQ: "eq", ps.NEQ: "ne"}


# ---------------------------------------------------------------------------
# JAX (PyTensor 2.38.x, 3.0.x)


def upstream_jax_sum_keeps_dtype():
    """Whether PyTensor's own JAX reduction returns the node's dtype (float32 for a float32 sum)."""
    import jax.numpy as jnp
    import pytensor.tensor as pt
    from pytensor.link.jax.dispatch import jax_funcify
    from pytensor.tensor.elemwise import CAReduce

    node = pt.sum(pt.vector(dtype="float32")).owner
    upstream = jax_funcify.dispatch(CAReduce)
    upstream = getattr(upstream, "upstream", upstream)  # ours wraps PyTensor's
    return jnp.asarray(upstream(node.op, node=node)(jnp.ones(3, dtype="float32"))).dtype == "float32"


def jax_reductions_keep_output_dtype():
    """PyTensor's JAX reduction returns its accumulator's dtype, not the node's.

    A float32 sum comes back float64, so a float32 parameter updated through
    a norm would turn float64.  Switched on when
    :func:`upstream_jax_sum_keeps_dtype` is false.
    """
    from pytensor.link.jax.dispatch import jax_funcify
    from pytensor.tensor.elemwise import CAReduce

    if "jax_reductions_keep_output_dtype" in ACTIVE:
        return
    ACTIVE["jax_reductions_keep_output_dtype"] = needed = not upstream_jax_sum_keeps_dtype()
    if not needed:
        return
    import jax.numpy as jnp

    upstream = jax_funcify.dispatch(CAReduce)

    @jax_funcify.register(CAReduce)
    def jax_funcify_CAReduce(op, node=None, **kwargs):
        reduce = upstream(op, node=node, **kwargs)
        if node is None:
            return reduce
        dtype = node.outputs[0].type.dtype

        def careduce(*args):
            return jnp.asarray(reduce(*args)).astype(dtype)

        return careduce

    jax_funcify_CAReduce.upstream = upstream


# ---------------------------------------------------------------------------
# PyTorch (PyTensor 2.38.x, 3.0.x)


def upstream_pytorch_dispatch(scalar_op):
    """Whether PyTensor's PyTorch backend has a dispatch of its own for ``scalar_op``
    (not the generic one that looks a torch function up by the op's NumPy name)."""
    from pytensor.link.pytorch.dispatch import pytorch_funcify

    found = pytorch_funcify.dispatch(scalar_op)
    return found is not pytorch_funcify.dispatch(ps.ScalarOp) and not getattr(found, "symupdates", False)


def pytorch_scalar_ops():
    """PyTensor's PyTorch backend maps some scalar ops to torch functions that do not exist.

    Without these, rules using ``x**y``, ``%`` or ``==`` do not run on the
    PyTorch backend at all.  Switched on per op of
    :data:`PYTORCH_SCALAR_OPS` that :func:`upstream_pytorch_dispatch` says
    has no dispatch of its own.
    """
    import torch
    from pytensor.link.pytorch.dispatch import pytorch_funcify

    for scalar_op, name in PYTORCH_SCALAR_OPS.items():
        key = "pytorch_scalar_ops.%s" % scalar_op.__name__
        if key in ACTIVE:
            continue
        ACTIVE[key] = needed = not upstream_pytorch_dispatch(scalar_op)
        if needed:
            def funcify(op, node=None, _fn=getattr(torch, name), **kwargs):
                return _fn

            funcify.symupdates = True
            pytorch_funcify.register(scalar_op)(funcify)


def pytorch_composite(scalar_function):
    """PyTensor's PyTorch backend has no dispatch for a scalar ``Composite``.

    An ``Elemwise`` of a Composite (the engine's fallback for a row whose
    entries broadcast) would not run.  Switched on when
    :func:`upstream_pytorch_dispatch` finds none for ``Composite``.
    """
    from pytensor.link.pytorch.dispatch import pytorch_funcify

    if "pytorch_composite" in ACTIVE:
        return
    ACTIVE["pytorch_composite"] = needed = not upstream_pytorch_dispatch(ps.Composite)
    if not needed:
        return

    @pytorch_funcify.register(ps.Composite)
    def pytorch_funcify_Composite(op, node=None, **kwargs):
        kwargs.pop("storage_map", None)
        function = scalar_function(op.fgraph, pytorch_funcify, kwargs)
        if op.nout == 1:
            return lambda *args: function(*args)[0]
        return lambda *args: tuple(function(*args))

    pytorch_funcify_Composite.symupdates = True


# ---------------------------------------------------------------------------
# The C VM (PyTensor 2.38.x, 3.0.x)

#: PyTensor's C VM (``link/c/c_code/lazylinker_c.c``) frees the intermediate
#: values after each node and at the end of a call, and for every variable
#: it scans the list of the function's outputs to spare them: time
#: quadratic in the number of updates, 1.6 ms of the 1.9 ms Adam step on 500
#: tensors of 100 elements, 40 ms per call of ten unrolled steps.  The fix
#: (proposed upstream in ``benchmarks/upstream``): a flag per variable, set
#: once.  Each pair is (PyTensor's text, its replacement).
CVM_OUTPUT_FLAGS = [
    ("  Py_ssize_t *output_vars; // variables that *must* be evaluated by call\n",
     "  Py_ssize_t *output_vars; // variables that *must* be evaluated by call\n"
     "  char *is_output;         // 1 or 0 for every variable: is it in output_vars\n"),
    ("  free(self->output_vars);\n",
     "  free(self->output_vars);\n  free(self->is_output);\n"),
    ("    self->output_vars = NULL;\n",
     "    self->output_vars = NULL;\n    self->is_output = NULL;\n"),
    ("  for (int i = 0; i < self->n_output_vars; ++i) {\n"
     "    assert(self->output_vars[i] < self->n_vars);\n  }\n",
     "  for (int i = 0; i < self->n_output_vars; ++i) {\n"
     "    assert(self->output_vars[i] < self->n_vars);\n  }\n"
     "  free(self->is_output);\n"
     "  self->is_output = (char *)calloc(self->n_vars ? self->n_vars : 1, sizeof(char));\n"
     "  if (!self->is_output) {\n    PyErr_NoMemory();\n    return -1;\n  }\n"
     "  for (int i = 0; i < self->n_output_vars; ++i) {\n"
     "    if (self->output_vars[i] >= 0 && self->output_vars[i] < self->n_vars)\n"
     "      self->is_output[self->output_vars[i]] = 1;\n  }\n"),
    ("      for (int j = 0; j < self->n_output_vars; ++j) {\n"
     "        if (i_idx == self->output_vars[j]) {\n"
     "          cleanup = 0;\n          break;\n        }\n      }\n"
     "      if (!cleanup)\n",
     "      if (self->is_output[i_idx])\n"),
    ("      int do_cleanup = 1;\n"
     "      if (!self->var_has_owner[i] || !self->var_computed[i])\n        continue;\n"
     "      for (int j = 0; j < self->n_output_vars; ++j) {\n"
     "        if (i == self->output_vars[j]) {\n"
     "          do_cleanup = 0;\n          break;\n        }\n      }\n"
     "      if (!do_cleanup)\n",
     "      if (!self->var_has_owner[i] || !self->var_computed[i])\n        continue;\n"
     "      if (self->is_output[i])\n"),
]


def _lazylinker_source():
    """The C VM's source as PyTensor ships it, or None."""
    import os

    import pytensor

    path = os.path.join(pytensor.__path__[0], "link", "c", "c_code", "lazylinker_c.c")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return f.read()


def upstream_cvm_scans_outputs():
    """Whether PyTensor's C VM still scans the output list for every variable it frees
    (every text :data:`CVM_OUTPUT_FLAGS` replaces is there, once)."""
    source = _lazylinker_source()
    return source is not None and all(source.count(old) == 1 for old, _ in CVM_OUTPUT_FLAGS)


def cvm_frees_in_linear_time():
    """PyTensor's C VM with :data:`CVM_OUTPUT_FLAGS` applied, standing in for its own.

    Switched on when :func:`upstream_cvm_scans_outputs` and a C compiler is
    configured.  The patched VM is compiled (once per compile directory)
    when the first C VM function is made; if that fails, PyTensor's own VM
    is used and ``ACTIVE`` says so.
    """
    from pytensor import config

    if "cvm_frees_in_linear_time" in ACTIVE:
        return
    try:
        import pytensor.link.c.cvm as cvm

        upstream = cvm.CVM
    except (ImportError, AttributeError):  # no C compiler: PyTensor does not use its C VM
        ACTIVE["cvm_frees_in_linear_time"] = False
        return
    ACTIVE["cvm_frees_in_linear_time"] = needed = bool(config.cxx) and upstream_cvm_scans_outputs()
    if not needed:
        return
    built = []

    def linear_cvm():
        if not built:
            try:
                built.append(_build_linear_cvm())
            except Exception as error:  # compiler trouble: PyTensor's VM is still correct
                import warnings

                warnings.warn("symupdates: PyTensor's C VM kept (%s: %s)" % (type(error).__name__, error))
                ACTIVE["cvm_frees_in_linear_time"] = False
                built.append(upstream)
        return built[0]

    class CVM:
        """Makes the linear-time C VM in place of PyTensor's (``VMLinker.make_vm`` looks ``CVM`` up here)."""

        upstream_class = upstream

        def __new__(cls, *args, **kwargs):
            return linear_cvm()(*args, **kwargs)

    cvm.CVM = CVM


def _build_linear_cvm():
    from pytensor.link.vm import VM

    from .backends.c import compiled_module

    source = _lazylinker_source()
    for old, new in CVM_OUTPUT_FLAGS:
        source = source.replace(old, new)
    module = compiled_module("symupdates_cvm_", lambda name: source.replace("lazylinker_ext", name), [])

    class LinearCVM(module.CLazyLinker, VM):
        def __init__(self, fgraph, *args, dependencies, var_owner, **kwargs):
            self.fgraph = fgraph
            # as PyTensor's CVM: VM.__init__ skipped
            module.CLazyLinker.__init__(self, *args, dependencies=one_output_per_node(dependencies, var_owner),
                                        var_owner=var_owner, **kwargs)

    return LinearCVM


def one_output_per_node(dependencies, var_owner):
    """The C VM's gc dependencies with one output kept per node that computes them.

    A value may be freed once every variable of its ``dependencies`` is
    computed, and a node's outputs are all marked computed at once: one
    output per node says the same.  A gradient read by every unrolled step
    otherwise lists every output of every step (940 for 500 tensors and 10
    steps), scanned again after each node.
    """
    kept = []
    for deps in dependencies:
        nodes, row = set(), []
        for var in deps:
            node = var_owner[var]
            if node is not None:
                if node in nodes:
                    continue
                nodes.add(node)
            row.append(var)
        kept.append(row)
    return kept
