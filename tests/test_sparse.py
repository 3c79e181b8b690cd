"""Row-sparse updates: sparse_adam and ``lazy=True`` against torch's sparse optimizers and
NumPy transcriptions of LazyAdam's formula; dense numbers without ``lazy``; in-place
structure; the toolkit (clipping, skip_nonfinite, state files); bad input.

The model: an embedding ``E`` (N x D) read at a batch of rows (with repeated
and negative indices), a shared offset ``b`` added to every row, and the loss
``sum((E[idx] + b) @ a - y)**2``.
"""

import warnings

import numpy as np
import pytensor
import pytensor.sparse as sparse
import pytensor.tensor as pt
import pytest
from pytensor.compile.mode import Mode
from pytensor.link.vm import VMLinker
from pytensor.tensor.subtensor import AdvancedIncSubtensor, AdvancedIncSubtensor1

import symupdates

torch = pytest.importorskip("torch")

N, D = 10, 3
RNG = np.random.default_rng(42)
E0 = RNG.normal(size=(N, D))
B0 = RNG.normal(size=D) * 0.1
A = RNG.normal(size=D)
#: six batches; repeated rows in each, a negative index in one, row 9 never used
BATCHES = [np.array(b) for b in ([0, 3, 3, 5], [1, 1, 1, 2], [0, 4, -2, 8], [5, 6, 3, 3], [7, 0, 0, 2], [2, 3, 4, 5])]
TARGETS = [RNG.normal(size=4) for _ in BATCHES]
STEPS = len(BATCHES)

#: the rewrites of FAST_RUN (which decide what runs in place), without compiling C,
#: keeping every intermediate value for inspection
REWRITTEN = Mode(linker=VMLinker(allow_gc=False, use_cloop=False, c_thunks=False), optimizer="fast_run")


def loss_of(E, b, idx, y, form):
    rows = sparse.sparse_grad(E[idx]) if form == "sparse" else E[idx]
    return pt.sum((pt.dot(rows + b, A) - y) ** 2)


def numpy_grads(E, b, idx, y):
    residual = 2 * ((E[idx] + b) @ A - y)
    gE = np.zeros_like(E)
    np.add.at(gE, idx, residual[:, None] * A[None, :])
    return gE, residual.sum() * A


def run(rule, form="dense", with_offset=False, grads=None, **kwargs):
    """E's values after each step (and b's, with the offset)."""
    E = pytensor.shared(E0.copy(), name="E")
    b = pytensor.shared(B0.copy(), name="b")
    params = [E, b] if with_offset else [E]
    idx, y = pt.lvector("idx"), pt.vector("y")
    offset = b if with_offset else pt.zeros(D)
    loss = loss_of(E, offset, idx, y, form)
    f = pytensor.function([idx, y], loss, updates=rule(loss if grads is None else grads(loss, params), params, **kwargs))
    trajectory = []
    for batch, target in zip(BATCHES, TARGETS):
        f(batch, target)
        trajectory.append([p.get_value().copy() for p in params])
    return trajectory


def torch_trajectory(make_optimizer):
    E = torch.nn.Parameter(torch.tensor(E0.copy()))
    optimizer = make_optimizer([E])
    trajectory = []
    for batch, target in zip(BATCHES, TARGETS):
        optimizer.zero_grad()
        rows = torch.nn.functional.embedding(torch.tensor(batch % N), E, sparse=True)
        loss = ((rows @ torch.tensor(A) - torch.tensor(target)) ** 2).sum()
        loss.backward()
        optimizer.step()
        trajectory.append([E.detach().numpy().copy()])
    return trajectory


def assert_same_trajectory(got, expected, rtol=1e-10, atol=1e-12):
    assert len(got) == len(expected) == STEPS
    for step, (g, e) in enumerate(zip(got, expected)):
        for gp, ep in zip(g, e):
            np.testing.assert_allclose(gp, ep, rtol=rtol, atol=atol, err_msg="step %d" % (step + 1))


# ---------------------------------------------------------------------------
# torch's sparse optimizers


TORCH_CASES = {
    "sparse_adam": (
        lambda ps: torch.optim.SparseAdam(ps, lr=0.05),
        symupdates.sparse_adam, {"learning_rate": 0.05},
    ),
    "sparse_adam_betas": (
        lambda ps: torch.optim.SparseAdam(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-6),
        symupdates.sparse_adam, {"learning_rate": 0.02, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6},
    ),
    "sgd": (
        lambda ps: torch.optim.SGD(ps, lr=0.05),
        symupdates.sgd, {"learning_rate": 0.05, "lazy": True},
    ),
    "adagrad": (
        lambda ps: torch.optim.Adagrad(ps, lr=0.1, lr_decay=0.05, initial_accumulator_value=0.2),
        symupdates.adagrad, {
            "learning_rate": 0.1, "epsilon": 1e-10, "epsilon_placement": "outside_sqrt",
            "learning_rate_decay": 0.05, "initial_accumulator_value": 0.2, "lazy": True,
        },
    ),
}


@pytest.mark.parametrize("form", ["sparse", "dense"])
@pytest.mark.parametrize("case", sorted(TORCH_CASES))
def test_matches_torch_sparse_optimizer(case, form):
    make_optimizer, rule, kwargs = TORCH_CASES[case]
    assert_same_trajectory(run(rule, form, **kwargs), torch_trajectory(make_optimizer))


def test_sparse_adam_matches_torch_with_a_matrix_of_indices():
    # E[M] for an index matrix (a batch of bags of words): an AdvancedIncSubtensor gradient.
    E = pytensor.shared(E0.copy())
    M = pt.lmatrix("M")
    loss = pt.sum(pt.dot(E[M], A) ** 2)
    f = pytensor.function([M], [], updates=symupdates.sparse_adam(loss, [E], learning_rate=0.05))
    Et = torch.nn.Parameter(torch.tensor(E0.copy()))
    optimizer = torch.optim.SparseAdam([Et], lr=0.05)
    for batch in BATCHES[:3]:
        bags = (batch % N).reshape(2, 2)
        f(bags)
        optimizer.zero_grad()
        (torch.nn.functional.embedding(torch.tensor(bags), Et, sparse=True) @ torch.tensor(A)).pow(2).sum().backward()
        optimizer.step()
        np.testing.assert_allclose(E.get_value(), Et.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_sparse_adam_matches_torch_with_many_distinct_rows():
    # Hundreds of distinct rows per step (row numbering of the coalesced gradient past int8/int16).
    rows, batch = 3000, 1500
    rng = np.random.default_rng(7)
    start = rng.normal(size=(rows, D))
    batches = [rng.integers(-rows, rows, batch) for _ in range(3)]
    E = pytensor.shared(start.copy())
    idx = pt.lvector("idx")
    loss = pt.sum(pt.dot(sparse.sparse_grad(E[idx]), A) ** 2)
    f = pytensor.function([idx], [], updates=symupdates.sparse_adam(loss, [E], learning_rate=0.05))
    Et = torch.nn.Parameter(torch.tensor(start.copy()))
    optimizer = torch.optim.SparseAdam([Et], lr=0.05)
    for b in batches:
        f(b)
        optimizer.zero_grad()
        (torch.nn.functional.embedding(torch.tensor(b % rows), Et, sparse=True) @ torch.tensor(A)).pow(2).sum().backward()
        optimizer.step()
    assert len(np.unique(batches[0] % rows)) > 1000
    np.testing.assert_allclose(E.get_value(), Et.detach().numpy(), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------
# LazyAdam's formula (TensorFlow Addons) and the other lazy rules, transcribed


def lazy_numpy(step, slots, with_offset=False):
    """NumPy: ``step`` on the touched rows of E (distinct, gradient rows summed); on all of b."""
    E, b = E0.copy(), B0.copy()
    state_E = [np.full_like(E, v) for v in slots]
    state_b = [np.full_like(b, v) for v in slots]
    trajectory = []
    for t, (batch, target) in enumerate(zip(BATCHES, TARGETS), start=1):
        gE, gb = numpy_grads(E, b if with_offset else 0 * b, batch, target)
        rows = np.unique(batch % N)
        *new_state, E[rows] = step(E[rows], gE[rows], *[s[rows] for s in state_E], t=t)
        for s, new in zip(state_E, new_state):
            s[rows] = new
        if with_offset:
            *new_state, b = step(b, gb, *state_b, t=t)
            state_b = new_state
        trajectory.append([E.copy(), b.copy()] if with_offset else [E.copy()])
    return trajectory


def lazy_adam_numpy(lr=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
    def step(p, g, m, v, t):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        lr_t = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
        return m, v, p - lr_t * m / (np.sqrt(v) + epsilon)

    return step


def lazy_momentum_numpy(lr, mu):
    def step(p, g, velocity, t):
        velocity = mu * velocity - lr * g
        return velocity, p + velocity

    return step


def lazy_rmsprop_numpy(lr, rho, epsilon):
    def step(p, g, accu, t):
        accu = rho * accu + (1 - rho) * g * g
        return accu, p - lr * g / np.sqrt(accu + epsilon)

    return step


LAZY_CASES = {
    "adam": (symupdates.adam, {"learning_rate": 0.05, "epsilon": 1e-7}, lazy_adam_numpy(0.05, epsilon=1e-7), [0, 0]),
    "momentum": (symupdates.momentum, {"learning_rate": 0.05, "momentum": 0.8}, lazy_momentum_numpy(0.05, 0.8), [0]),
    "rmsprop": (symupdates.rmsprop, {"learning_rate": 0.05, "rho": 0.9}, lazy_rmsprop_numpy(0.05, 0.9, 1e-6), [0]),
}


@pytest.mark.parametrize("form", ["sparse", "dense"])
@pytest.mark.parametrize("case", sorted(LAZY_CASES))
def test_lazy_rule_matches_transcription(case, form):
    rule, kwargs, step, slots = LAZY_CASES[case]
    assert_same_trajectory(run(rule, form, lazy=True, **kwargs), lazy_numpy(step, slots))


def test_lazy_adam_with_a_dense_parameter_shares_the_step_counter():
    # b's gradient is dense: it gets Adam on every element, at the same t as E's rows.
    got = run(symupdates.adam, "sparse", with_offset=True, lazy=True, learning_rate=0.05, epsilon=1e-7)
    assert_same_trajectory(got, lazy_numpy(lazy_adam_numpy(0.05, epsilon=1e-7), [0, 0], with_offset=True))


def test_lazy_updates_have_the_state_and_order_of_dense_updates():
    E = pytensor.shared(E0.copy(), name="E")
    b = pytensor.shared(B0.copy(), name="b")
    idx, y = pt.lvector("idx"), pt.vector("y")
    loss = loss_of(E, b, idx, y, "sparse")
    names = [[v.name for v in symupdates.adam(loss, [E, b], lazy=lazy)] for lazy in (False, True)]
    assert names[0] == names[1] == ["E.adam.m", "E.adam.v", "E", "b.adam.m", "b.adam.v", "b", "adam.t"]


# ---------------------------------------------------------------------------
# without lazy: the dense rule's numbers


def dense_reference(rule, **kwargs):
    """The rule fed NumPy's dense gradient as an input: no row structure in its graph."""
    E = pytensor.shared(E0.copy(), name="E")
    G = pt.matrix("G")
    f = pytensor.function([G], [], updates=rule([G], [E], **kwargs))
    trajectory = []
    for batch, target in zip(BATCHES, TARGETS):
        f(numpy_grads(E.get_value(), np.zeros(D), batch, target)[0])
        trajectory.append([E.get_value().copy()])
    return trajectory


DENSE_CASES = {
    "sgd": (symupdates.sgd, {"learning_rate": 0.05}),
    "momentum": (symupdates.momentum, {"learning_rate": 0.05}),
    "adagrad": (symupdates.adagrad, {"learning_rate": 0.1}),
    "rmsprop": (symupdates.rmsprop, {"learning_rate": 0.05}),
    "adam": (symupdates.adam, {"learning_rate": 0.05}),
}


@pytest.mark.parametrize("form", ["sparse", "dense"])
@pytest.mark.parametrize("case", sorted(DENSE_CASES))
def test_without_lazy_row_sparse_gradients_give_dense_numbers(case, form):
    rule, kwargs = DENSE_CASES[case]
    reference = dense_reference(rule, **kwargs)
    assert_same_trajectory(run(rule, form, **kwargs), reference, rtol=1e-13, atol=1e-15)
    # and lazy=True on a gradient without row structure changes nothing
    assert_same_trajectory(dense_reference(rule, lazy=True, **kwargs), reference, rtol=0, atol=0)


def test_lazy_differs_from_dense_where_it_should():
    # Adam's moments decay on untouched rows only in the dense rule; row 9 is never touched.
    dense = run(symupdates.adam, "sparse", learning_rate=0.05)[-1][0]
    lazy = run(symupdates.adam, "sparse", learning_rate=0.05, lazy=True)[-1][0]
    np.testing.assert_array_equal(lazy[9], E0[9])
    assert not np.allclose(dense[[0, 3, 5]], lazy[[0, 3, 5]])


def test_parameter_also_used_densely_falls_back_with_a_warning():
    E = pytensor.shared(E0.copy(), name="E")
    idx = pt.lvector("idx")
    loss = pt.sum(pt.dot(sparse.sparse_grad(E[idx]), A) ** 2) + 0.1 * pt.sum(E**2)
    with pytest.warns(UserWarning, match="E is also used densely"):
        lazy = symupdates.adam(loss, [E], lazy=True)
    dense = symupdates.adam(loss, [E])
    E_values = []
    for updates in (lazy, dense):
        E.set_value(E0.copy())
        f = pytensor.function([idx], [], updates=updates)
        for batch in BATCHES:
            f(batch)
        E_values.append(E.get_value())
    np.testing.assert_array_equal(E_values[0], E_values[1])


# ---------------------------------------------------------------------------
# structure: only the touched rows, in place


ROWS = 1000


def embedding_step(rule_of, **kwargs):
    E = pytensor.shared(np.ones((ROWS, 4)), name="E")
    idx = pt.lvector("idx")
    loss = pt.sum(pt.dot(E[idx], np.ones(4)) ** 2)
    updates = rule_of(loss, [E], **kwargs)
    state = [v for v in updates if v.ndim == 2]
    return pytensor.function([idx], loss, updates=updates, mode=REWRITTEN), state


def assert_rows_updated_in_place(f, state):
    nodes = f.maker.fgraph.toposort()
    writes = [n for n in nodes if isinstance(n.op, (AdvancedIncSubtensor, AdvancedIncSubtensor1))
              and n.op.set_instead_of_inc and n.inputs[0] in state]
    assert sorted(n.inputs[0].name for n in writes) == sorted(v.name for v in state)
    assert all(n.op.destroy_map == {0: [0]} for n in writes), [n.op for n in writes]
    # nothing else reads a whole matrix: no dense gradient, no switch or copy of the state
    for n in nodes:
        if n not in writes and any(x in state for x in n.inputs):
            assert "Subtensor" in type(n.op).__name__ or "Shape" in type(n.op).__name__, n
    # and no value computed in a step has the matrix's size, except the matrices themselves
    f(np.array([3, 1, 3, 7]))
    storage = [v.get_value(borrow=True) for v in state]
    for var, cell in f.vm.storage_map.items():
        value = cell[0]
        if isinstance(value, np.ndarray) and value.size >= ROWS:
            assert any(np.shares_memory(value, s) for s in storage), (var, value.shape)


@pytest.mark.parametrize("rule", ["sparse_adam", "adam", "sgd", "momentum", "adagrad", "rmsprop"])
def test_lazy_step_writes_touched_rows_in_place(rule):
    kwargs = {} if rule == "sparse_adam" else {"lazy": True}
    if rule in ("sgd", "momentum"):
        kwargs["learning_rate"] = 0.1
    f, state = embedding_step(getattr(symupdates, rule), **kwargs)
    assert len(state) == {"sparse_adam": 3, "adam": 3, "sgd": 1}.get(rule, 2)
    assert_rows_updated_in_place(f, state)


def test_clipping_and_skip_nonfinite_keep_the_step_on_touched_rows():
    rule = symupdates.skip_nonfinite(
        lambda loss, params: symupdates.sparse_adam(symupdates.clip_by_global_norm(loss, params, 1.0), params)
    )
    f, state = embedding_step(rule)
    assert_rows_updated_in_place(f, state)


# ---------------------------------------------------------------------------
# the toolkit


def test_clip_by_global_norm_of_sparse_gradients():
    # The norm of the coalesced gradient (repeated rows summed first), as in the dense case.
    def clipped(loss, params):
        return symupdates.clip_by_global_norm(loss, params, 0.5)

    lr = 0.05
    got = run(symupdates.sparse_adam, "sparse", grads=clipped, learning_rate=lr)

    def step(p, g, m, v, t):
        return lazy_adam_numpy(lr)(p, g * min(1.0, 0.5 / np.sqrt(np.sum(g * g))), m, v, t)

    assert_same_trajectory(got, lazy_numpy(step, [0, 0]))


def test_skip_nonfinite_with_lazy_updates():
    E = pytensor.shared(E0.copy(), name="E")
    idx, y = pt.lvector("idx"), pt.vector("y")
    loss = loss_of(E, pt.zeros(D), idx, y, "sparse")
    updates = symupdates.skip_nonfinite(symupdates.sparse_adam)(loss, [E])
    f = pytensor.function([idx, y], loss, updates=updates)
    reference = run(symupdates.sparse_adam, "sparse")
    f(BATCHES[0], TARGETS[0])
    before = [v.get_value().copy() for v in updates]
    f(BATCHES[1], np.full(4, np.nan))
    for var, value in zip(updates, before):
        if var.name != "skip_nonfinite.skipped":
            np.testing.assert_array_equal(var.get_value(), value)
    assert int(symupdates.skipped_steps(updates).get_value()) == 1
    f(BATCHES[1], TARGETS[1])
    np.testing.assert_allclose(E.get_value(), reference[1][0], rtol=1e-12)


def test_state_file_round_trip_with_lazy_updates(tmp_path):
    def build():
        E = pytensor.shared(E0.copy(), name="E")
        idx, y = pt.lvector("idx"), pt.vector("y")
        loss = loss_of(E, pt.zeros(D), idx, y, "sparse")
        updates = symupdates.adam(loss, [E], learning_rate=0.05, lazy=True)
        return E, updates, pytensor.function([idx, y], loss, updates=updates)

    E, updates, f = build()
    for batch, target in zip(BATCHES[:3], TARGETS[:3]):
        f(batch, target)
    path = str(tmp_path / "state.npz")
    symupdates.save_state(updates, path)
    saved_E = E.get_value()
    E2, updates2, f2 = build()
    E2.set_value(saved_E)
    symupdates.load_state(updates2, path)
    for batch, target in zip(BATCHES[3:], TARGETS[3:]):
        f2(batch, target)
    expected = lazy_numpy(lazy_adam_numpy(0.05), [0, 0])[-1][0]
    np.testing.assert_allclose(E2.get_value(), expected, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------
# bad input


def test_sparse_gradient_for_a_vector_is_refused():
    b = pytensor.shared(np.zeros(3), name="b")
    X = sparse.csc_matrix("X")
    with pytest.raises(ValueError, match="b has 1 dimensions; sparse gradients are for matrices"):
        symupdates.sparse_adam([X], [b])


def test_sparse_gradient_of_another_shape_is_refused_when_built():
    E = pytensor.shared(E0.copy(), name="E")
    other = pytensor.shared(np.zeros((N + 1, D)), name="other")
    idx = pt.lvector("idx")
    grad = pytensor.grad(pt.sum(sparse.sparse_grad(other[idx])), other)
    with pytest.raises(ValueError, match=r"sparse gradient of E has shape \(11, 3\) but E has shape \(10, 3\)"):
        symupdates.sparse_adam([grad], [E])


def test_sparse_gradient_of_unknown_shape_is_checked_when_run():
    E = pytensor.shared(E0.copy(), name="E")
    X = pt.matrix("X")
    f = pytensor.function([X], [], updates=symupdates.sparse_adam([sparse.csc_from_dense(X)], [E]))
    f(np.eye(N, D))  # the right shape: a step
    assert not np.array_equal(E.get_value(), E0)
    before = E.get_value()
    with pytest.raises(AssertionError, match="the sparse gradient of E has another shape than E"):
        f(np.eye(N + 1, D))
    np.testing.assert_array_equal(E.get_value(), before)


def test_generic_sparse_gradient_is_coalesced_by_rows():
    # A sparse matrix not built from E[idx] (entries one by one): the same numbers as its dense form.
    X = pt.matrix("X")
    G = RNG.normal(size=(N, D)) * (RNG.random(size=(N, D)) < 0.3)
    G[9] = 0
    values = []
    for grad in (sparse.csr_from_dense(X), sparse.csc_from_dense(X), X):
        E = pytensor.shared(E0.copy(), name="E")
        f = pytensor.function([X], [], updates=symupdates.sparse_adam([grad], [E]))
        f(G)
        values.append(E.get_value())
    np.testing.assert_array_equal(values[0], values[2])
    np.testing.assert_array_equal(values[1], values[2])


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "NUMBA"])
def test_index_out_of_range_raises_and_changes_nothing(mode):
    E = pytensor.shared(E0.copy(), name="E")
    idx = pt.lvector("idx")
    loss = pt.sum(pt.dot(sparse.sparse_grad(E[idx]), A) ** 2)
    updates = symupdates.sparse_adam(loss, [E])
    f = pytensor.function([idx], loss, updates=updates, mode=mode)
    with pytest.raises((IndexError, AssertionError, ValueError)):
        f(np.array([1, N]))
    with pytest.raises((IndexError, AssertionError, ValueError)):
        f(np.array([-N - 1, 2]))
    # The rows are written only after the index check.  (The step counter is
    # another matter: compiled modes increment it in place, independently of
    # the index, and so they do for the dense rules.)
    for var in updates:
        if var.ndim == 2:
            np.testing.assert_array_equal(var.get_value(), E0 if var is E else 0)


def test_explicit_sparse_gradient_with_an_index_out_of_range_is_refused_when_run():
    # No forward pass indexes E here: the lazy update's own check must catch it.
    E = pytensor.shared(E0.copy(), name="E")
    idx, values = pt.lvector("idx"), pt.matrix("values")
    grad = sparse.construct_sparse_from_list(E, values, idx)
    f = pytensor.function([idx, values], [], updates=symupdates.sparse_adam([grad], [E]))
    with pytest.raises(AssertionError, match="lazy update of E: a row index is out of range"):
        f(np.array([0, N]), np.ones((2, D)))
    np.testing.assert_array_equal(E.get_value(), E0)


# ---------------------------------------------------------------------------
# the example


def test_embeddings_example_trains_both_ways():
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTENSOR_FLAGS="mode=FAST_COMPILE")
    result = subprocess.run(
        [sys.executable, os.path.join(root, "examples", "embeddings.py"), "--steps", "30", "--users", "60",
         "--items", "30", "--dim", "4", "--batch", "32", "--learning-rate", "0.05", "--report-every", "10"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["step", "dense", "loss", "lazy", "loss"]
    curves = np.array([[float(x) for x in line.split()] for line in lines[1:4]])
    np.testing.assert_array_equal(curves[:, 0], [10, 20, 30])
    # both held-out losses fall at every report: the same shape
    assert np.all(np.diff(curves[:, 1]) < 0) and np.all(np.diff(curves[:, 2]) < 0)
    assert lines[4].startswith("ms per step: dense ")


# ---------------------------------------------------------------------------
# unroll: k lazy steps as one graph


@pytest.mark.parametrize("form", ["dense", "sparse"])
@pytest.mark.parametrize("rule", ["sparse_adam", "adam_lazy"])
def test_unrolled_lazy_steps_match_the_transcription(rule, form):
    """All six batches in one call of ``unroll``: LazyAdam's numbers, touched rows only."""
    E = pytensor.shared(E0.copy(), name="E")
    idx, y = pt.lvector("idx"), pt.vector("y")
    loss = loss_of(E, pt.zeros(D), idx, y, form)
    optimizer = symupdates.sparse_adam(learning_rate=0.1) if rule == "sparse_adam" else symupdates.adam(
        learning_rate=0.1, lazy=True)
    all_idx, all_y = pt.lmatrix("all_idx"), pt.matrix("all_y")
    new = symupdates.unroll(optimizer, loss, [E], STEPS, sequences={idx: all_idx, y: all_y})
    f = pytensor.function([all_idx, all_y], [], updates=new)
    f(np.stack(BATCHES), np.stack(TARGETS))
    expected = lazy_numpy(lazy_adam_numpy(lr=0.1), slots=(0.0, 0.0))[-1][0]
    np.testing.assert_allclose(E.get_value(), expected, rtol=1e-10, atol=1e-12)
    assert np.array_equal(E.get_value()[9], E0[9])  # never touched
