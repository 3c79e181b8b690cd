"""symupdates.unroll and hypergradients through every rule (issue 13).

References: k calls of the one-step function (bit for bit), central finite
differences of the unrolled loss, torch.optim's ``differentiable=True``, and
NumPy transcriptions of Baydin et al. (2018)'s SGD-HD and Adam-HD.  The
gradient tests compile without graph rewrites (``Mode(linker="py",
optimizer=None)``): exact arithmetic of the graph as built, cheap to compile.
"""

import inspect
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.mode import Mode
from pytensor.graph.replace import clone_replace

import symupdates
from symupdates import unroll

import transcriptions
from harness import make_problem, numpy_trajectory, run_rule

PLAIN = Mode(linker="py", optimizer=None)
SHAPES = [(), (5,), (3, 4)]
STEPS = 5
NOISE = np.random.default_rng(2).normal(size=(STEPS, len(SHAPES)))


def problem(shapes=SHAPES):
    """Parameters, a per-step input ``noise`` (one number per parameter) and a non-quadratic loss."""
    rng = np.random.default_rng(0)
    params = [pytensor.shared(rng.normal(size=s), name="p%d" % i, shape=s) for i, s in enumerate(shapes)]
    a = [rng.uniform(0.5, 2, size=s) for s in shapes]
    c = [rng.normal(size=s) for s in shapes]
    noise = pt.vector("noise")
    loss = sum((0.5 * ai * (p - ci) ** 2 + 0.1 * p**4).sum() for p, ai, ci in zip(params, a, c))
    loss = loss + sum(noise[i] * p.sum() for i, p in enumerate(params))
    return params, noise, loss


def validation_loss(params):
    return sum(((p - 1.0) ** 2).sum() for p in params)


# ---------------------------------------------------------------------------
# one call of k steps == k calls of one step


@pytest.mark.parametrize("method", ["unrolled", "scan"])
@pytest.mark.parametrize("make_rule", [
    lambda: symupdates.adam(learning_rate=0.01),
    lambda: symupdates.chain(
        symupdates.clip_by_global_norm(max_norm=1.0),
        symupdates.momentum(learning_rate=symupdates.schedules.exponential_decay(0.1, 2, 0.5)),
    ),
], ids=["adam", "chain_with_schedule"])
def test_unroll_is_k_separate_steps(method, make_rule):
    params, noise, loss = problem()
    updates = make_rule()(loss, params)
    one_step = pytensor.function([noise], [], updates=updates, mode="FAST_COMPILE")
    for k in range(STEPS):
        one_step(NOISE[k])
    expected = OrderedDict((var.name, var.get_value()) for var in updates)

    params, noise, loss = problem()
    sequence = pt.matrix("noise_per_step")
    new = unroll(make_rule(), loss, params, STEPS, sequences={noise: sequence}, method=method)
    assert [var.name for var in new] == list(expected)  # params, state, counters, schedule counters
    pytensor.function([sequence], [], updates=new, mode="FAST_COMPILE")(NOISE)
    for var in new:
        if method == "unrolled":
            np.testing.assert_array_equal(var.get_value(), expected[var.name], err_msg=var.name)
        else:  # scan compiles its inner graph on its own: equal to the last bit or two
            np.testing.assert_allclose(var.get_value(), expected[var.name], rtol=1e-14, atol=1e-16, err_msg=var.name)


def test_unroll_without_sequences_holds_inputs_fixed():
    params, noise, loss = problem()
    updates = symupdates.rmsprop(loss, params, learning_rate=0.01)
    one_step = pytensor.function([noise], [], updates=updates, mode="FAST_COMPILE")
    for _ in range(3):
        one_step(NOISE[0])
    expected = [p.get_value() for p in params]
    params, noise, loss = problem()
    new = unroll(symupdates.rmsprop(learning_rate=0.01), loss, params, 3)
    pytensor.function([noise], [], updates=new, mode="FAST_COMPILE")(NOISE[0])
    for p, e in zip(params, expected):
        np.testing.assert_array_equal(p.get_value(), e)


# ---------------------------------------------------------------------------
# hypergradients against central finite differences, every rule


def rule_arguments(name):
    """``(learning rate, other arguments, shapes)`` for the finite-difference test of ``name``."""
    default = inspect.signature(symupdates.RULES[name]).parameters["learning_rate"].default
    lr = default if isinstance(default, float) else 0.01
    if name == "muon":  # matrices only, unless given a fallback rule
        return lr, {}, [(3, 4), (4, 2)]
    return lr, {}, SHAPES


def hypergradient_function(name, method="unrolled", shapes=SHAPES):
    lr0, kwargs, shapes = rule_arguments(name)
    params, noise, loss = problem(shapes)
    lr, sequence = pt.dscalar("lr"), pt.matrix("noise_per_step")
    new = unroll(symupdates.RULES[name](learning_rate=lr, **kwargs), loss, params, STEPS,
                 sequences={noise: sequence}, method=method)
    val = clone_replace(validation_loss(params), {p: new[p] for p in params})
    return lr0, pytensor.function([lr, sequence], [val, pytensor.grad(val, lr)], mode=PLAIN)


def central_difference(f, x, h):
    return (f(x + h, NOISE)[0] - f(x - h, NOISE)[0]) / (2 * h)


@pytest.mark.parametrize("name", list(symupdates.RULES))
def test_learning_rate_hypergradient_matches_finite_differences(name):
    lr0, f = hypergradient_function(name)
    _, grad = f(lr0, NOISE)
    expected = central_difference(f, lr0, 1e-6 * lr0)
    assert np.isfinite(grad)
    assert abs(grad - expected) <= 1e-5 * abs(expected), (grad, expected)


def test_hypergradient_through_scan_matches_unrolled():
    lr0, unrolled = hypergradient_function("adam", "unrolled")
    _, looped = hypergradient_function("adam", "scan")
    np.testing.assert_allclose(looped(lr0, NOISE), unrolled(lr0, NOISE), rtol=1e-12)


@pytest.mark.parametrize("hyper", ["beta1", "beta2"])
def test_hypergradient_of_other_hyperparameters(hyper):
    params, noise, loss = problem()
    value, sequence = pt.dscalar(hyper), pt.matrix("noise_per_step")
    new = unroll(symupdates.adam(learning_rate=0.01, **{hyper: value}), loss, params, STEPS,
                 sequences={noise: sequence})
    val = clone_replace(validation_loss(params), {p: new[p] for p in params})
    f = pytensor.function([value, sequence], [val, pytensor.grad(val, value)], mode=PLAIN)
    x0 = 0.9 if hyper == "beta1" else 0.99
    grad, expected = f(x0, NOISE)[1], central_difference(f, x0, 1e-7)
    assert abs(grad - expected) <= 1e-5 * abs(expected), (grad, expected)


def test_gradient_with_respect_to_initial_parameters():
    params, noise, loss = problem()
    new = unroll(symupdates.adam(learning_rate=0.05), loss, params, STEPS, sequences={noise: pt.constant(NOISE)})
    starts = [pt.tensor(shape=p.type.shape, dtype="float64", name="start%d" % i) for i, p in enumerate(params)]
    val = clone_replace(validation_loss([new[p] for p in params]), dict(zip(params, starts)))
    f = pytensor.function(starts, [val] + pytensor.grad(val, starts), mode=PLAIN)
    x0 = [p.get_value() for p in params]
    grads = f(*x0)[1:]
    h = 1e-6
    for i in (1, 2):  # one element of the vector and of the matrix
        index = (0,) * x0[i].ndim
        up = [x.copy() for x in x0]
        down = [x.copy() for x in x0]
        up[i][index] += h
        down[i][index] -= h
        expected = (f(*up)[0] - f(*down)[0]) / (2 * h)
        assert abs(grads[i][index] - expected) <= 1e-5 * abs(expected)


@pytest.mark.parametrize("name", ["sign_sgd", "signum", "lion", "rprop"])
def test_sign_rules_pass_no_gradient_through_the_sign(name):
    # d sign(g)/dg = 0: after k steps of sign_sgd, d p_k / d p_0 is the
    # identity exactly; for the others it is a finite value of the
    # formula's non-sign paths, never NaN.
    params, noise, loss = problem()
    lr = 0.01 if name != "lion" else 1e-4
    new = unroll(symupdates.RULES[name](learning_rate=lr), loss, params, STEPS,
                 sequences={noise: pt.constant(NOISE)})
    start = pt.matrix("start")
    final = clone_replace(new[params[2]], {params[2]: start})
    weights = np.arange(12.0).reshape(3, 4)
    f = pytensor.function([start], pytensor.grad((final * weights).sum(), start), mode=PLAIN)
    grad = f(params[2].get_value())
    assert np.all(np.isfinite(grad))
    if name == "sign_sgd":
        np.testing.assert_array_equal(grad, weights)


# ---------------------------------------------------------------------------
# torch.optim's differentiable=True


def torch_hypergradient(optimizer, lr_value):
    """The learning rate's gradient of the validation loss after STEPS torch steps.

    Each step runs on a fresh clone of the parameter and state (torch's steps
    are in place, which autograd refuses across steps).
    """
    import torch

    lr = torch.tensor(lr_value, dtype=torch.float64, requires_grad=True)
    rng = np.random.default_rng(0)
    init = [rng.normal(size=s) for s in SHAPES]
    a = [rng.uniform(0.5, 2, size=s) for s in SHAPES]
    c = [rng.normal(size=s) for s in SHAPES]
    params = [torch.tensor(v, requires_grad=True) * 1.0 for v in init]  # non-leaf: torch steps it in place
    states = [None] * len(params)
    for k in range(STEPS):
        loss = sum(
            (0.5 * torch.tensor(ai) * (p - torch.tensor(ci)) ** 2 + 0.1 * p**4).sum() + NOISE[k, i] * p.sum()
            for i, (p, ai, ci) in enumerate(zip(params, a, c))
        )
        grads = torch.autograd.grad(loss, params, create_graph=True)
        params = [p.clone() for p in params]
        opt = optimizer(params, lr)
        for p, g, state in zip(params, grads, states):
            if state is not None:
                opt.state[p] = {key: (v.clone() if torch.is_tensor(v) else v) for key, v in state.items()}
            p.grad = g
        opt.step()
        states = [opt.state[p] for p in params]
    val = sum(((p - 1.0) ** 2).sum() for p in params)
    return torch.autograd.grad(val, lr)[0].item()


#: The torch.optim optimizers whose differentiable step takes a tensor
#: learning rate (torch 2.13's Adagrad and RMSprop pass it to addcdiv_ as a
#: Number and refuse it).
TORCH = {
    "sgd": ("SGD", {}),
    "momentum": ("SGD", {"momentum": 0.9}),
    "adam": ("Adam", {}),
    "adamw": ("AdamW", {}),
}


@pytest.mark.parametrize("name", list(TORCH))
def test_learning_rate_hypergradient_matches_torch_differentiable(name):
    torch = pytest.importorskip("torch")
    cls, extra = TORCH[name]
    anchor = dict(symupdates.RULES[name].anchors["torch.optim.%s" % cls])
    lr0 = 0.01
    anchor.pop("learning_rate", None)

    def optimizer(params, lr):
        return getattr(torch.optim, cls)(params, lr=lr, differentiable=True, **extra)

    expected = torch_hypergradient(optimizer, lr0)
    params, noise, loss = problem()
    lr, sequence = pt.dscalar("lr"), pt.matrix("noise_per_step")
    kwargs = dict(anchor, **({"momentum": 0.9} if name == "momentum" else {}))
    new = unroll(symupdates.RULES[name](learning_rate=lr, **kwargs), loss, params, STEPS,
                 sequences={noise: sequence})
    val = clone_replace(validation_loss(params), {p: new[p] for p in params})
    grad = pytensor.function([lr, sequence], pytensor.grad(val, lr), mode=PLAIN)(lr0, NOISE)
    # The tolerance: torch's Adam autograd differs from finite
    # differences of torch's own Adam by 7e-6 (relative) in this problem,
    # ours by 1e-9; SGD agrees to 1e-12.
    assert abs(grad - expected) <= 1e-5 * abs(expected), (grad, expected)


# ---------------------------------------------------------------------------
# bad input: clear errors when the graph is built, no state created


def counting_rule():
    calls = []

    def rule(loss, params):
        calls.append(1)
        return symupdates.sgd(loss, params, learning_rate=0.1)

    return rule, calls


@pytest.mark.parametrize("steps,error", [(0, ValueError), (-3, ValueError), (2.0, TypeError), (True, TypeError)])
def test_bad_steps(steps, error):
    params, noise, loss = problem()
    rule, calls = counting_rule()
    with pytest.raises(error, match="steps"):
        unroll(rule, loss, params, steps)
    assert not calls


def test_sequence_of_the_wrong_static_length():
    params, noise, loss = problem()
    rule, calls = counting_rule()
    with pytest.raises(ValueError, match="leading axis of length 4, but steps=5"):
        unroll(rule, loss, params, 5, sequences={noise: pt.constant(np.zeros((4, 3)))})
    assert not calls


def test_sequence_of_the_wrong_run_time_length_fails_its_assert():
    params, noise, loss = problem()
    sequence = pt.matrix("noise_per_step")  # length unknown until run time
    new = unroll(symupdates.sgd(learning_rate=0.1), loss, params, 5, sequences={noise: sequence})
    f = pytensor.function([sequence], [], updates=new, mode="FAST_COMPILE")
    with pytest.raises(AssertionError, match="must have length steps=5"):
        f(np.zeros((4, 3)))


def test_loss_that_does_not_depend_on_the_params():
    params, noise, loss = problem()
    rule, calls = counting_rule()
    other = pytensor.shared(np.ones(3), name="other")
    with pytest.raises(ValueError, match="does not depend on the parameter"):
        unroll(rule, (other**2).sum() + noise.sum(), params, 3)
    with pytest.raises(ValueError, match="p2"):
        unroll(rule, (params[0] ** 2).sum() + (params[1] ** 2).sum(), params, 3)
    assert not calls


def test_sequence_key_must_be_an_input_of_the_loss():
    params, noise, loss = problem()
    rule, calls = counting_rule()
    with pytest.raises(ValueError, match="does not depend on"):
        unroll(rule, loss, params, 2, sequences={pt.vector("unused"): pt.constant(np.zeros((2, 3)))})
    with pytest.raises(ValueError, match="dimensions"):
        unroll(rule, loss, params, 2, sequences={noise: pt.constant(np.zeros(2))})
    with pytest.raises(ValueError, match="method"):
        unroll(rule, loss, params, 2, method="loop")
    assert not calls


# ---------------------------------------------------------------------------
# hypergradient descent: Baydin et al. (2018), transcribed


@pytest.mark.parametrize("name,transcription,hyper", [
    ("sgd_hd", transcriptions.baydin_sgd_hd, {"learning_rate": 0.05, "hypergradient_lr": 0.01}),
    ("adam_hd", transcriptions.baydin_adam_hd, {"learning_rate": 0.01, "hypergradient_lr": 1e-3}),
])
def test_hypergradient_descent_matches_the_paper(name, transcription, hyper):
    prob = make_problem(steps=20)
    trajectory, updates, _ = run_rule(getattr(symupdates, name), prob, return_updates=True, **hyper)
    step, init_state = transcription(hyper["learning_rate"], hyper["hypergradient_lr"])
    expected, (alpha, *_) = numpy_trajectory(step, prob, init_state, return_state=True)
    for got, ref in zip(trajectory, expected):
        for g, r in zip(got, ref):
            np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12)
    change = next(var for var in updates if var.name == "%s.learning_rate_change" % name)
    np.testing.assert_allclose(hyper["learning_rate"] + change.get_value(), alpha, rtol=1e-10)
    assert abs(alpha - hyper["learning_rate"]) > 1e-6  # the learning rate did adapt


@pytest.mark.parametrize("mode", ["cvm", "NUMBA"])
@pytest.mark.parametrize("method", ["unrolled", "scan"])
def test_unrolled_steps_update_their_state_in_place(mode, method):
    """Every step of an unrolled loop overwrites the state the step before it made, not new buffers.

    The first step overwrites the function's m and v (updated, and read by
    it alone), the later ones the intermediate m, v and parameter; the
    numbers stay those of k separate calls.
    """
    from symupdates.engine import MultiElemwise

    compiled_mode = Mode(linker="cvm", optimizer="fast_run") if mode == "cvm" else mode
    p = pytensor.shared(np.linspace(-1, 1, 6), name="p")
    x = pt.vector("x")
    loss = ((p - x) ** 2).sum()
    rule = symupdates.adam(learning_rate=0.1)
    k = 4
    f = pytensor.function([x], [], updates=unroll(rule, loss, [p], k, method=method), mode=compiled_mode)
    if method == "unrolled":
        nodes = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, MultiElemwise)]
        assert len(nodes) == k
        # m and v of every step in place; the parameter from the second step on
        assert all({0, 1} <= set(n.op.destroy_map) for n in nodes)
        assert all(2 in n.op.destroy_map for n in nodes[1:])
    f(np.full(6, 0.3))
    q = pytensor.shared(np.linspace(-1, 1, 6), name="q")
    one = pytensor.function([x], [], updates=symupdates.adam(((q - x) ** 2).sum(), [q], learning_rate=0.1),
                            mode=compiled_mode)
    for _ in range(k):
        one(np.full(6, 0.3))
    np.testing.assert_allclose(p.get_value(), q.get_value(), rtol=1e-12, atol=1e-14)


def test_unrolled_steps_share_what_no_step_changes():
    """The unrolled graph grows by the step's state-dependent nodes only.

    The gradient of a linear loss is a constant: built once, not once per
    step.  The gradient of a sum reads the loss for its shape alone; with
    static shapes the loss drops out of the graph.  The numbers are those
    of k separate calls (``test_unroll_is_k_separate_steps``).
    """
    from collections import Counter

    from pytensor.graph.traversal import apply_ancestors

    from pytensor.tensor.elemwise import Elemwise

    rng = np.random.default_rng(0)
    params = [pytensor.shared(rng.normal(size=s), name="p%d" % i, shape=s) for i, s in enumerate([(3,), (2, 2)])]
    loss = sum((pt.constant(rng.normal(size=p.type.shape)) * p).sum() for p in params)
    counts = {}
    for steps in (1, 6):
        new = unroll(symupdates.adam(learning_rate=0.1), loss, params, steps, method="unrolled")
        nodes = list(apply_ancestors(list(new.values())))
        counts[steps] = Counter(type(n.op.scalar_op if isinstance(n.op, Elemwise) else n.op).__name__ for n in nodes)
    assert counts[6]["MultiElemwise"] == 6 * counts[1]["MultiElemwise"] > 0
    assert "Sum" not in counts[1] and "Sum" not in counts[6], counts  # the loss is not computed
    assert counts[6]["Mul"] < 6 * counts[1]["Mul"], counts  # the constant gradients are shared
