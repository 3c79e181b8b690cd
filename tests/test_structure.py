"""Structure of compiled update graphs: size, dtypes, in-place updates.

Speed is measured by benchmarks/, never asserted here; these tests pin the
structural properties the speed rests on:

* the compiled update graph of a rule does not grow per tensor beyond a
  small constant (a purely element-wise rule does not grow at all: one
  :class:`~symupdates.engine.MultiElemwise` node serves every tensor);
* no float64 appears in the graph of a float32 model, even under
  ``floatX=float64``;
* the updates overwrite the parameter and state buffers in place on the
  backends that allow it (C, Numba), and give the same numbers as the
  out-of-place graph.
"""

import numpy as np
import pytensor
import pytensor.scalar as ps
import pytensor.tensor as pt
import pytest
try:
    from pytensor.compile.debug.debugmode import DebugMode  # PyTensor >= 3
except ImportError:  # PyTensor 2.38
    from pytensor.compile.debugmode import DebugMode
from pytensor.compile.mode import Mode
from pytensor.tensor.elemwise import Elemwise

import symupdates
from symupdates.engine import MultiElemwise
from symupdates.engine.finite import AllFinite
from optimizers import OPTIMIZERS, arguments

SHAPES = [(3, 4), (5,), ()]
REWRITE_ONLY = Mode(linker="py", optimizer="fast_run")  # the graph PyTensor compiles, without a compiler


def build(name, copies, dtype="float32", mode=REWRITE_ONLY, static_shapes=True, shapes=SHAPES):
    """Compile rule ``name`` for ``copies`` copies of ``shapes``; returns (function, params, updates)."""
    rule = symupdates.RULES[name]
    shapes = list(shapes) * copies
    rng = np.random.default_rng(0)
    params = [
        pytensor.shared(rng.normal(size=s).astype(dtype), name="p%d" % i, shape=s if static_shapes else None)
        for i, s in enumerate(shapes)
    ]
    grads = [pt.tensor(dtype=dtype, shape=s, name="g%d" % i) for i, s in enumerate(shapes)]
    updates = rule(grads, params, **arguments(name))
    return pytensor.function(grads, [], updates=updates, mode=mode), params, updates


def is_invariant(node):
    """A node computing hyperparameter math: only 0-d outputs."""
    return all(getattr(o.type, "ndim", 0) == 0 for o in node.outputs)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_graph_does_not_grow_per_tensor(name):
    small, _, _ = build(name, copies=1)
    large, _, _ = build(name, copies=4)
    n_small = len(small.maker.fgraph.apply_nodes)
    n_large = len(large.maker.fgraph.apply_nodes)
    extra_tensors = 3 * len(SHAPES)
    # Rules with per-tensor norms or matrix products (LAMB, muon, ...) need a
    # few nodes per tensor for them; never one per arithmetic operation.
    assert n_large - n_small <= 10 * extra_tensors, (n_small, n_large)
    nodes = small.maker.fgraph.apply_nodes
    if all(isinstance(n.op, MultiElemwise) or is_invariant(n) for n in nodes):
        # purely element-wise: the same graph for 3 tensors and for 12
        assert n_large == n_small, (n_small, n_large)
        multi = [n for n in large.maker.fgraph.apply_nodes if isinstance(n.op, MultiElemwise)]
        # one node per row layout (0-d parameters form their own group)
        assert 1 <= len(multi) <= 2


def test_elementwise_rules_use_one_node_for_all_tensors():
    """Adam over 12 tensors: the update part is MultiElemwise nodes, not 12 Elemwises."""
    f, params, _ = build("adam", copies=4)
    nodes = f.maker.fgraph.apply_nodes
    multi = [n for n in nodes if isinstance(n.op, MultiElemwise)]
    assert sum(n.op.n_rows(n) for n in multi) == len(params)
    assert not [n for n in nodes if isinstance(n.op, Elemwise) and not is_invariant(n)]


def float64_variables(fgraph):
    """The float64 work of a compiled graph that scales with the tensors.

    Every tensor-sized float64 variable, and every float64 inside the scalar
    kernel of an element-wise node over tensors.  0-d float64 values outside
    the kernels (hyperparameter arithmetic, or a scalar schedule state such
    as Nadam's momentum product, kept in double precision like torch keeps
    it in a Python float) cost nothing per element and are allowed, as the
    int64 step counter is.
    """
    found = []

    def scan_scalar_graph(op):
        inner = getattr(op, "fgraph", None)
        if inner is None:
            return
        for node in inner.apply_nodes:
            for v in node.inputs + node.outputs:
                if getattr(v.type, "dtype", None) == "float64":
                    found.append((op, v))
            scan_scalar_graph(node.op)

    for node in fgraph.apply_nodes:
        for v in node.inputs + node.outputs:
            if getattr(v.type, "dtype", None) == "float64" and getattr(v.type, "ndim", 0) > 0:
                found.append((node.op, v))
        scalar_op = getattr(node.op, "scalar_op", None)
        if isinstance(scalar_op, ps.Composite) and not is_invariant(node):
            scan_scalar_graph(scalar_op)
    return found


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_no_float64_in_a_float32_graph(name):
    with pytensor.config.change_flags(floatX="float64"):
        f, _, _ = build(name, copies=1, dtype="float32")
    assert float64_variables(f.maker.fgraph) == []


def test_float64_detector_finds_float64():
    """The check above can fail: a float64 constant in a float32 graph is found."""
    p = pytensor.shared(np.ones(3, dtype="float32"))
    half = pytensor.shared(np.float64(0.5))
    f = pytensor.function([], [], updates={p: pt.cast(p * half + pt.sqrt(p), "float32")}, mode=REWRITE_ONLY)
    assert float64_variables(f.maker.fgraph)


COMPILED_IN_PLACE = {
    "c": lambda: Mode(linker="cvm", optimizer="fast_run"),
    "numba": lambda: "NUMBA",
}


@pytest.mark.parametrize("backend", list(COMPILED_IN_PLACE))
@pytest.mark.parametrize("name", ["adam", "momentum", "sgd"])
def test_updates_are_in_place(name, backend):
    # Shared variables as users create them: no static shape.
    f, params, updates = build(name, copies=1, mode=COMPILED_IN_PLACE[backend](), static_shapes=False)
    multi = [n for n in f.maker.fgraph.apply_nodes if isinstance(n.op, MultiElemwise)]
    assert multi
    for node in multi:
        destroyed = {node.inputs[i[0]] for i in node.op.destroy_map.values()}
        assert destroyed, "%s is not in place" % node.op
    buffers = [var.get_value(borrow=True) for var in updates]
    before = [b.copy() for b in buffers]
    rng = np.random.default_rng(1)
    for _ in range(2):
        f(*[rng.normal(size=np.shape(p.get_value())).astype("float32") for p in params])
    for var, buffer, old in zip(updates, buffers, before):
        if var.ndim == 0 and var.dtype.startswith("int"):
            continue  # the step counter is computed outside the kernel
        assert var.get_value(borrow=True) is buffer, "%s was not updated in place" % var.name
        assert not np.array_equal(buffer, old), "%s did not change" % var.name


@pytest.mark.parametrize("name", ["adam", "nesterov_momentum"])
def test_in_place_gives_the_numbers_of_out_of_place(name):
    mode = Mode(linker="cvm", optimizer="fast_run")
    results = []
    for m in (mode, mode.excluding("inplace")):
        f, params, _ = build(name, copies=1, dtype="float64", mode=m, static_shapes=False)
        destroys = [n for n in f.maker.fgraph.apply_nodes if isinstance(n.op, MultiElemwise) and n.op.destroy_map]
        results.append((destroys, f, params))
    (in_place, f1, p1), (out_of_place, f2, p2) = results
    assert in_place and not out_of_place
    rng = np.random.default_rng(2)
    for _ in range(3):
        grads = [rng.normal(size=np.shape(p.get_value())) for p in p1]
        f1(*grads)
        f2(*grads)
    for a, b in zip(p1, p2):
        np.testing.assert_array_equal(a.get_value(), b.get_value())


def test_debug_mode_accepts_the_op():
    """DebugMode runs the Python and C implementations, checks they agree and
    that the op overwrites only what its destroy_map declares."""
    # No 0-d variable (parameter or step counter): DebugMode's in-place check
    # calls ndarray.itemset on 0-d values, which NumPy 2 removed.
    f, params, _ = build("rmsprop", copies=1, dtype="float64", mode=DebugMode(check_py_code=True, check_c_code=True),
                         static_shapes=False, shapes=[(3, 4), (5,)])
    assert any(isinstance(n.op, MultiElemwise) and n.op.destroy_map for n in f.maker.fgraph.apply_nodes)
    rng = np.random.default_rng(3)
    start = [p.get_value() for p in params]
    for _ in range(2):
        f(*[rng.normal(size=np.shape(p.get_value())) for p in params])
    assert all(not np.array_equal(p.get_value(), s) for p, s in zip(params, start))


def test_refused_in_place_falls_back_per_row():
    """When another update reads a parameter after the step (here a guard that
    keeps the old value), that row cannot be in place; the others still are."""
    f_params = [pytensor.shared(np.ones(s), name="q%d" % i) for i, s in enumerate([(3,), (4,), (2, 2)])]
    grads = [pt.tensor(dtype="float64", shape=(None,) * len(p.get_value().shape)) for p in f_params]
    updates = symupdates.sgd(grads, f_params, learning_rate=0.5)
    guarded = f_params[1]
    updates[guarded] = pt.switch(pt.all(pt.lt(abs(updates[guarded]), np.inf)), updates[guarded], guarded + 0 * guarded.sum())
    f = pytensor.function(grads, [], updates=updates, mode=Mode(linker="cvm", optimizer="fast_run"))
    (node,) = [n for n in f.maker.fgraph.apply_nodes if isinstance(n.op, MultiElemwise)]
    destroyed = {node.inputs[i[0]] for i in node.op.destroy_map.values()}
    assert f_params[0] in destroyed and f_params[2] in destroyed
    f(*[np.full(p.get_value().shape, 2.0) for p in f_params])
    for p in f_params:
        np.testing.assert_allclose(p.get_value(), 0.0)


# ---------------------------------------------------------------------------
# every rule and every composition: O(1) update nodes per group, in place

#: The rewrites of the backends that update in place, with the Python linker:
#: the graph each backend compiles, without paying for its compiler.
REWRITES = {
    "c": Mode(linker="py", optimizer="fast_run"),
    "numba": Mode(linker="py", optimizer=pytensor.compile.mode.get_mode("NUMBA").optimizer),
}


def update_nodes(fgraph):
    """The nodes computing the updates of tensors (not 0-d counters)."""
    nodes = set()
    for o, i in fgraph.update_mapping.items():
        out = fgraph.outputs[o]
        if fgraph.inputs[i].type.ndim > 0 and out.owner is not None:
            nodes.add(out.owner)
    return nodes


def updated_out_of_place(fgraph):
    """Names of the tensors whose update does not overwrite them.

    A reduction's result (Adafactor's row and column factors, SM3's
    accumulators) is a new, smaller array by nature and is not counted.
    """
    from pytensor.tensor.elemwise import CAReduce

    names = []
    for o, i in fgraph.update_mapping.items():
        out, var = fgraph.outputs[o], fgraph.inputs[i]
        node = out.owner
        if var.type.ndim == 0 or node is None or isinstance(node.op, CAReduce):
            continue
        destroyed = node.op.destroy_map.get(node.outputs.index(out), ())
        if not any(node.inputs[k] is var for k in destroyed):
            names.append(var.name)
    return names


def compile_rule(rule, copies, mode, dtype="float32"):
    """``rule`` over ``copies`` copies of SHAPES, shared variables without static shape."""
    shapes = list(SHAPES) * copies
    rng = np.random.default_rng(0)
    params = [pytensor.shared(rng.normal(size=s).astype(dtype), name="p%d" % i) for i, s in enumerate(shapes)]
    grads = [pt.tensor(dtype=dtype, shape=(None,) * len(s), name="g%d" % i) for i, s in enumerate(shapes)]
    return pytensor.function(grads, [], updates=rule(grads, params), mode=mode), params


def named_rule(name):
    rule = symupdates.RULES[name]
    return rule(**arguments(name)) if arguments(name) else rule()


@pytest.mark.parametrize("backend", list(REWRITES))
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_rule_updates_every_tensor_in_place(name, backend):
    f, _ = compile_rule(named_rule(name), 1, REWRITES[backend])
    assert updated_out_of_place(f.maker.fgraph) == []


COMPOSITIONS = {
    "skip_nonfinite": lambda rule: symupdates.skip_nonfinite(rule),
    "skip_nonfinite_gradients": lambda rule: symupdates.skip_nonfinite(rule, check_updates=False),
    "accumulate_gradients": lambda rule: symupdates.accumulate_gradients(rule, 3),
    "lookahead": lambda rule: symupdates.chain(rule, symupdates.lookahead(sync_period=2)),
    "exponential_moving_average": lambda rule: symupdates.chain(rule, symupdates.exponential_moving_average()),
    "polyak_average": lambda rule: symupdates.chain(rule, symupdates.polyak_average()),
    "clip_by_global_norm": lambda rule: symupdates.chain(symupdates.clip_by_global_norm(max_norm=1.0), rule),
    "add_weight_decay": lambda rule: symupdates.chain(symupdates.add_weight_decay(weight_decay=0.1), rule),
    "apply_decoupled_weight_decay": lambda rule: symupdates.chain(
        rule, symupdates.apply_decoupled_weight_decay(weight_decay=0.1)),
}
WRAPPED_RULES = ["adam", "momentum", "lamb", "adafactor"]


@pytest.fixture(scope="module")
def compiled_compositions():
    """Compiled functions, built once per (composition, rule, backend, copies) the tests ask for."""
    cache = {}

    def get(composition, name, backend, copies):
        key = (composition, name, backend, copies)
        if key not in cache:
            rule = named_rule(name)
            cache[key] = compile_rule(COMPOSITIONS[composition](rule) if composition else rule, copies,
                                      REWRITES[backend])[0]
        return cache[key]

    return get


@pytest.mark.parametrize("name", WRAPPED_RULES)
@pytest.mark.parametrize("composition", list(COMPOSITIONS))
def test_a_composition_adds_no_update_node_per_tensor(composition, name, compiled_compositions):
    """Twice the tensors, no more update nodes than the bare rule adds (none
    for an element-wise rule: one kernel per group of tensors of a layout;
    Adafactor's factors, updated from reductions, have a node each), and
    the composition's own arithmetic inside kernels, never beside them."""
    small, large, bare_small, bare = (
        update_nodes(compiled_compositions(c, name, "c", copies).maker.fgraph)
        for c, copies in [(composition, 1), (composition, 2), (None, 1), (None, 2)]
    )
    assert len(large) - len(small) <= len(bare) - len(bare_small), (len(small), len(large))
    others, bare_others = ([n for n in nodes if not isinstance(n.op, MultiElemwise)] for nodes in (large, bare))
    assert len(others) <= len(bare_others), [n.op for n in others]
    assert len(large) <= 2 * len(bare) + 1


@pytest.mark.parametrize("backend", list(REWRITES))
@pytest.mark.parametrize("name", ["adam", "lamb"])
def test_skip_nonfinite_tests_a_step_in_one_node(name, backend, compiled_compositions):
    """Every gradient and every new floating-point value of a step is tested for finiteness
    by one AllFinite node, whatever the number of tensors: no reduction per tensor."""
    fgraph = compiled_compositions("skip_nonfinite", name, backend, 2).maker.fgraph
    checks = [n for n in fgraph.apply_nodes if isinstance(n.op, AllFinite)]
    assert len(checks) == 1
    assert not [n for n in fgraph.apply_nodes if type(n.op).__name__ == "All"]
    # each of the 2 * len(SHAPES) parameters: its gradient, its new value and at least one new state
    assert len(checks[0].inputs) >= 3 * 2 * len(SHAPES)


@pytest.mark.parametrize("backend", list(REWRITES))
@pytest.mark.parametrize("name", WRAPPED_RULES)
@pytest.mark.parametrize("composition", list(COMPOSITIONS))
def test_a_composition_updates_every_tensor_in_place(composition, name, backend, compiled_compositions):
    f = compiled_compositions(composition, name, backend, 2)
    assert updated_out_of_place(f.maker.fgraph) == []


@pytest.mark.parametrize("composition, name", [(c, "lamb") for c in COMPOSITIONS] + [
    (c, "adafactor") for c in ("skip_nonfinite", "accumulate_gradients", "lookahead", "clip_by_global_norm")])
def test_fused_compositions_give_the_numbers_of_the_graphs_as_written(composition, name, monkeypatch):
    """Fusion rewrites the graph, not the arithmetic: the same values as the
    per-parameter graphs the wrappers write (whose formulas test_wrappers
    and test_transforms check against torch and NumPy)."""
    import symupdates.transforms
    import symupdates.wrappers

    rng = np.random.default_rng(4)
    grads = [[rng.normal(size=s) for s in SHAPES * 2] for _ in range(4)]
    grads[2][1][0] = np.inf  # a step skip_nonfinite skips
    results = []
    for fuse in (True, False):
        if not fuse:
            for module in (symupdates.wrappers, symupdates.transforms):
                monkeypatch.setattr(module, "fuse_updates", lambda updates: updates)
        f, params = compile_rule(COMPOSITIONS[composition](named_rule(name)), 2, REWRITES["c"], dtype="float64")
        for g in grads:
            f(*g)
        results.append([p.get_value() for p in params])
    for fused, written in zip(*results):
        np.testing.assert_array_equal(fused, written)


@pytest.mark.parametrize("composition", ["lookahead"])  # Numba compiles cost seconds each
def test_compositions_update_in_place_when_compiled_with_numba(composition):
    """The linker itself (not only its rewrites): the buffers are overwritten."""
    f, params = compile_rule(COMPOSITIONS[composition](symupdates.adam(learning_rate=0.1)), 1, "NUMBA")
    assert updated_out_of_place(f.maker.fgraph) == []
    buffers = [p.get_value(borrow=True) for p in params]
    f(*[np.ones(np.shape(b), dtype="float32") for b in buffers])
    for p, b in zip(params, buffers):
        assert p.get_value(borrow=True) is b
