"""The rule-building API: ``elementwise_rule`` with stages, as a user writing a rule sees it.

Each rule here is written the way docs/extending.rst says, and compared
with a NumPy transcription of its formula written in the test; the errors
are those of a mistyped stage, raised when the updates are built and before
any state exists.
"""

import inspect

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.mode import Mode

import symupdates
from symupdates import across_tensors, elementwise, elementwise_rule, per_tensor

PY = Mode(linker="py", optimizer="fast_run")
SHAPES = [(3, 4), (5,), ()]


def make_params(dtype="float64"):
    rng = np.random.default_rng(3)
    return [pytensor.shared(rng.normal(size=s).astype(dtype), name="p%d" % i) for i, s in enumerate(SHAPES)]


def run(rule, params, steps=3, **hyper):
    """Values of the parameters and of every state variable after each step, on a fixed quadratic."""
    targets = [np.full(p.get_value().shape, 0.5, dtype=p.dtype) for p in params]
    loss = sum(((p - t) ** 2).sum() * (i + 1) for i, (p, t) in enumerate(zip(params, targets)))
    updates = rule(loss, params, **hyper)
    step = pytensor.function([], [], updates=updates, mode=PY)
    history = []
    for _ in range(steps):
        step()
        history.append({v.name: v.get_value().copy() for v in updates})
    return history, updates


def numpy_grads(values):
    return [2 * (i + 1) * (v - 0.5) for i, v in enumerate(values)]


# ---------------------------------------------------------------------------
# rules built from stages, against NumPy


def normalized_sgd(loss_or_grads, params, learning_rate=0.1):
    """param := param - lr * grad / max(||grad||, 1e-12): one norm per tensor."""

    def norm(grad):
        return pt.maximum(pt.sqrt(pt.sum(pt.sqr(grad))), np.asarray(1e-12, dtype=grad.dtype))

    def formula(param, grad, norm, lr):
        return param - lr * grad / norm

    return elementwise_rule([per_tensor(norm, returns="norm"), elementwise(formula, returns="param")],
                            loss_or_grads, params, "normalized_sgd", lr=learning_rate)


def test_a_per_tensor_stage_gives_each_tensor_its_own_norm():
    params = make_params()
    values = [p.get_value() for p in params]
    history, _ = run(normalized_sgd, params, learning_rate=0.3)
    for after in history:
        grads = numpy_grads(values)
        values = [v - 0.3 * g / max(np.sqrt(np.sum(g**2)), 1e-12) for v, g in zip(values, grads)]
        for i, v in enumerate(values):
            np.testing.assert_allclose(after["p%d" % i], v, rtol=1e-13, atol=1e-15)


def clipped_momentum(loss_or_grads, params, learning_rate=0.1, momentum=0.9, max_norm=1.0):
    """Momentum on gradients clipped to a global norm, counting the clipped steps in a scalar slot.

    ::

        scale    := min(1, max_norm / sqrt(sum over tensors of ||grad||**2))
        clipped  := clipped + (scale < 1)
        velocity := momentum * velocity + scale * grad
        param    := param - lr * velocity
    """

    def squared_norm(grad):
        return pt.sum(pt.sqr(grad))

    def scale(squared_norm, clipped, max_norm):
        factor = pt.minimum(1, max_norm / pt.sqrt(pt.add(*squared_norm)))
        return factor, clipped + pt.lt(factor, 1)

    def formula(param, grad, velocity, scale, lr, momentum):
        velocity = momentum * velocity + scale * grad
        return velocity, param - lr * velocity

    return elementwise_rule(
        [per_tensor(squared_norm, returns="squared_norm"), across_tensors(scale, returns=("scale", "clipped")),
         elementwise(formula, returns=("velocity", "param"))],
        loss_or_grads, params, "clipped_momentum", slots=["velocity"], scalar_slots=[("clipped", 0.0)],
        lr=learning_rate, momentum=momentum, max_norm=max_norm,
    )


def test_an_across_tensors_stage_reads_every_tensor_and_updates_a_scalar_slot():
    params = make_params()
    values = [p.get_value() for p in params]
    velocities = [np.zeros_like(v) for v in values]
    clipped = 0
    history, updates = run(clipped_momentum, params, steps=4, learning_rate=0.05, momentum=0.8, max_norm=2.0)
    assert [v.name for v in updates] == ["p0.clipped_momentum.velocity", "p0", "p1.clipped_momentum.velocity", "p1",
                                         "p2.clipped_momentum.velocity", "p2", "clipped_momentum.clipped"]
    for after in history:
        grads = numpy_grads(values)
        scale = min(1.0, 2.0 / np.sqrt(sum(np.sum(g**2) for g in grads)))
        clipped += scale < 1
        velocities = [0.8 * u + scale * g for u, g in zip(velocities, grads)]
        values = [v - 0.05 * u for v, u in zip(values, velocities)]
        for i, (v, u) in enumerate(zip(values, velocities)):
            np.testing.assert_allclose(after["p%d" % i], v, rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(after["p%d.clipped_momentum.velocity" % i], u, rtol=1e-13, atol=1e-15)
        assert after["clipped_momentum.clipped"] == clipped
    assert clipped > 0  # the test exercises the clipping


def axis_adagrad(loss_or_grads, params, learning_rate=0.1):
    """AdaGrad with one accumulator per axis (a slot with a list of shapes): acc_k += sum of grad**2 over the other axes."""

    def shapes(dims):
        return [(n,) for n in dims]

    def accumulate(grad, acc):
        axes = range(grad.ndim)
        return tuple(a + pt.sum(pt.sqr(grad), axis=tuple(i for i in axes if i != k)) for k, a in enumerate(acc))

    def total(param, acc):
        if param.ndim == 0:
            return np.asarray(1, dtype=param.dtype)
        return sum(a.dimshuffle(["x"] * k + [0] + ["x"] * (param.ndim - k - 1)) for k, a in enumerate(acc))

    def formula(param, grad, total, lr):
        return param - lr * grad / pt.sqrt(total)

    return elementwise_rule(
        [per_tensor(accumulate, returns="acc"), per_tensor(total, returns="total"),
         elementwise(formula, returns="param")],
        loss_or_grads, params, "axis_adagrad", slots=[("acc", 0.0, shapes)], lr=learning_rate,
    )


def test_a_slot_with_a_list_of_shapes_is_one_state_variable_per_axis():
    params = make_params()[:2]
    values = [p.get_value() for p in params]
    history, updates = run(axis_adagrad, params, learning_rate=0.2)
    names = [v.name for v in updates]
    assert names == ["p0.axis_adagrad.acc0", "p0.axis_adagrad.acc1", "p0", "p1.axis_adagrad.acc0", "p1"]
    assert [v.get_value().shape for v in updates][:2] == [(3,), (4,)]
    accs = [[np.zeros(n) for n in v.shape] for v in values]
    for after in history:
        grads = numpy_grads(values)
        for acc, g in zip(accs, grads):
            for k in range(g.ndim):
                acc[k] += np.sum(g**2, axis=tuple(i for i in range(g.ndim) if i != k))
        totals = [acc[0][:, None] + acc[1][None, :] if len(acc) == 2 else acc[0] for acc in accs]
        values = [v - 0.2 * g / np.sqrt(t) for v, g, t in zip(values, grads, totals)]
        for i, v in enumerate(values):
            np.testing.assert_allclose(after["p%d" % i], v, rtol=1e-13)
        np.testing.assert_allclose(after["p0.axis_adagrad.acc1"], accs[0][1], rtol=1e-13)


def test_element_wise_stages_of_a_group_are_one_fused_node_each_and_update_in_place():
    from symupdates.engine import MultiElemwise

    params = [pytensor.shared(np.ones((4, 3)) * (i + 1), name="W%d" % i, shape=(4, 3)) for i in range(6)]
    loss = sum((p**2).sum() for p in params)
    f = pytensor.function([], [], updates=clipped_momentum(loss, params), mode=Mode(linker="cvm", optimizer="fast_run"))
    fg = f.maker.fgraph
    kernels = [n for n in fg.apply_nodes if isinstance(n.op, MultiElemwise)]
    # one node for the six tensors' velocity and parameter, not one per tensor
    assert len(kernels) == 1 and kernels[0].op.n_rows(kernels[0]) == 6
    destroyed = {kernels[0].inputs[i] for pairs in kernels[0].op.destroy_map.values() for i in pairs}
    assert set(params) <= destroyed


# ---------------------------------------------------------------------------
# mistakes, refused when the updates are built


def test_an_argument_no_value_provides_is_refused_before_any_state(no_new_shared):
    params = make_params()
    no_new_shared.clear()

    def formula(param, grad, velocity, lr, mommentum):
        return velocity, param

    with pytest.raises(TypeError, match=r"argument 'mommentum' of formula names no value.*momentum"):
        elementwise_rule(formula, [p * 0 for p in params], params, "typo", slots=["velocity"], counter=True,
                         scalar_slots=[("total", 0.0)], lr=0.1, momentum=0.9)


def test_a_value_an_earlier_stage_does_not_return_is_refused(no_new_shared):
    params = make_params()
    no_new_shared.clear()

    def formula(param, grad, ratio, lr):
        return param - lr * ratio * grad

    with pytest.raises(TypeError, match="'ratio'"):
        elementwise_rule([per_tensor(lambda grad: pt.sum(grad), returns="norm"), elementwise(formula, returns="param")],
                         [p * 0 for p in params], params, "typo", lr=0.1)


def test_stage_functions_name_their_arguments():
    with pytest.raises(TypeError, match=r"no \*args or \*\*kwargs"):
        elementwise(lambda param, *state: param, returns="param")


def test_a_stage_returning_the_wrong_number_of_values_is_refused():
    params = make_params()

    def formula(param, grad, lr):
        return param, param

    with pytest.raises(ValueError, match="2 values for 1"):
        elementwise_rule([elementwise(formula, returns="param")], [p * 0 for p in params], params, "miscount", lr=0.1)


def test_lazy_rows_take_one_formula():
    params = make_params()
    with pytest.raises(TypeError, match="lazy updates take one element-wise formula"):
        elementwise_rule([elementwise(lambda param, grad: param, returns="param")], [p * 0 for p in params], params,
                         "lazy_stages", lazy=True)


def test_every_registered_rule_is_built_by_elementwise_rule(monkeypatch):
    """One way to build a rule: each rule of RULES goes through the entry point (or a rule that does)."""
    import symupdates.engine.apply as apply

    calls = []
    original = apply.elementwise_rule

    def counting(*args, **kwargs):
        calls.append(args[3] if len(args) > 3 else kwargs.get("rule"))
        return original(*args, **kwargs)

    monkeypatch.setattr(apply, "elementwise_rule", counting)
    for module in ("descent", "adaptive", "adam_family", "sign", "layerwise", "matrix", "hypergradient"):
        monkeypatch.setattr("symupdates.rules.%s.elementwise_rule" % module, counting)
    not_built = []
    for name, rule in symupdates.RULES.items():
        params = [pytensor.shared(np.ones((3, 2)), name="W")] + [pytensor.shared(np.ones(2), name="b")] * (name != "muon")
        loss = sum((p**2).sum() for p in params)
        required = inspect.signature(rule).parameters["learning_rate"].default is inspect.Parameter.empty
        del calls[:]
        rule(loss, params, **({"learning_rate": 0.1} if required else {}))
        if name not in calls:
            not_built.append(name)
    assert not_built == []
