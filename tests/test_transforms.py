"""Gradient transforms and decoupled weight decay against torch.optim / torch.nn.utils and NumPy."""

import re

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import symupdates
from symupdates import schedules as S
from harness import assert_trajectories_close, make_problem, numpy_grads, run_rule, torch_trajectory

torch = pytest.importorskip("torch")

DTYPES = ["float32", "float64"]


def tolerance(dtype):
    return dict(rtol=2e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-11, atol=1e-13)


def transformed(transform, grads, names=None, dtype="float64", **hyper):
    """Apply ``transform`` to the NumPy ``grads`` through a compiled function."""
    params = [pytensor.shared(np.zeros_like(g, dtype=dtype), name=(names or [None] * len(grads))[i])
              for i, g in enumerate(grads)]
    inputs = [pt.tensor(dtype=dtype, shape=g.shape) for g in grads]
    out = transform(inputs, params, **hyper)
    extra = []
    if isinstance(out, tuple):
        out, extra = out[0], [out[1]]
    assert all(o.type == p.type or o.dtype == p.dtype for o, p in zip(out, params))
    return pytensor.function(inputs, list(out) + extra)(*[g.astype(dtype) for g in grads])


def some_grads(seed=0, scale=3.0):
    rng = np.random.default_rng(seed)
    return [scale * rng.normal(size=s) for s in [(), (5,), (3, 4), (2, 3, 2)]]


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_by_value_matches_torch(dtype):
    grads = some_grads()
    ours = transformed(symupdates.clip_by_value, grads, dtype=dtype, min_value=-1.5, max_value=1.5)
    tensors = [torch.tensor(g.astype(dtype)) for g in grads]
    params = [torch.zeros_like(t, requires_grad=True) for t in tensors]
    for p, t in zip(params, tensors):
        p.grad = t
    torch.nn.utils.clip_grad_value_(params, 1.5)
    for o, p in zip(ours, params):
        assert o.dtype == dtype
        np.testing.assert_array_equal(o, p.grad.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_by_global_norm_matches_torch_and_returns_the_norm(dtype, max_norm):
    grads = some_grads(1)
    *ours, norm = transformed(symupdates.clip_by_global_norm, grads, dtype=dtype, max_norm=max_norm, epsilon=1e-6,
                              return_norm=True)
    params = [torch.zeros(g.shape, dtype=getattr(torch, dtype), requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g.astype(dtype))
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    np.testing.assert_allclose(norm, total.item(), **tolerance(dtype))
    for o, p in zip(ours, params):
        np.testing.assert_allclose(o, p.grad.numpy(), **tolerance(dtype))


def test_clip_by_global_norm_optax_form_and_mask():
    grads = some_grads(2)
    names = ["b", "W1", "W2", "W3"]
    ours = transformed(symupdates.clip_by_global_norm, grads, names=names, max_norm=2.0, mask="W*")
    chosen = grads[1:]
    norm = np.sqrt(sum((g**2).sum() for g in chosen))
    assert norm > 2.0
    np.testing.assert_array_equal(ours[0], grads[0])  # not selected: untouched
    for o, g in zip(ours[1:], chosen):  # optax: g / norm * max_norm
        np.testing.assert_allclose(o, g / norm * 2.0, rtol=1e-14)


def test_clip_by_norm_is_per_tensor():
    grads = some_grads(3)
    ours = transformed(symupdates.clip_by_norm, grads, max_norm=1.0)
    for o, g in zip(ours, grads):
        n = np.sqrt((g**2).sum())
        np.testing.assert_allclose(o, g * min(1.0, 1.0 / n), rtol=1e-14)
        assert np.sqrt((o**2).sum()) <= 1.0 + 1e-12


def test_parameter_mask_forms():
    params = [pytensor.shared(np.zeros(2), name=n) for n in ["dense.W", "dense.b", "out.W", "out.b"]]
    mask = symupdates.parameter_mask
    assert mask(params) == [True] * 4
    assert mask(params, "*.b") == [False, True, False, True]
    assert mask(params, re.compile(r"^out")) == [False, False, True, True]
    assert mask(params, lambda p: p.name.endswith("W")) == [True, False, True, False]
    assert mask(params, [params[0], "out.b"]) == [True, False, False, True]
    assert mask(params, params[2]) == [False, False, True, False]
    assert mask(params, [True, False, False, True]) == [True, False, False, True]  # optax's form
    with pytest.raises(TypeError, match="mask"):
        mask(params, [3])
    with pytest.raises(TypeError, match="mask"):
        mask(params, [True, 1, False, True])
    with pytest.raises(ValueError, match="3 booleans for 4 parameters"):
        mask(params, [True, False, True])


def test_one_mask_for_transforms_and_layerwise_rules():
    """lamb's weight_decay_mask takes every form parameter_mask takes: a name pattern = its bools."""
    def trajectory(mask):
        W = pytensor.shared(np.full((2, 2), 1.5), name="dense.W")
        b = pytensor.shared(np.array([-0.5, 2.0]), name="dense.b")
        loss = ((W - 1) ** 2).sum() + ((b - 1) ** 2).sum()
        f = pytensor.function([], [], updates=symupdates.lamb(loss, [W, b], learning_rate=0.1, weight_decay=0.5,
                                                            weight_decay_mask=mask))
        f()
        f()
        return [W.get_value(), b.get_value()]

    by_name, by_bools, everything = trajectory("*.W"), trajectory([True, False]), trajectory(None)
    np.testing.assert_array_equal(by_name[0], by_bools[0])
    np.testing.assert_array_equal(by_name[1], by_bools[1])
    assert not np.allclose(by_name[1], everything[1])  # the bias was spared


# ---------------------------------------------------------------------------
# weight decay, in trajectories


@pytest.mark.parametrize("dtype", DTYPES)
def test_coupled_weight_decay_with_sgd_and_adam_matches_torch(dtype):
    problem = make_problem(steps=15, dtype=dtype)
    ours = run_rule(symupdates.chain(symupdates.add_weight_decay(weight_decay=0.05), symupdates.sgd(learning_rate=0.1)),
                    problem)
    reference = torch_trajectory(lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.05), problem)
    assert_trajectories_close(ours, reference, **tolerance(dtype))
    # Lasagne's Adam equals torch's when epsilon is 0 (epsilon is the only difference)
    ours = run_rule(symupdates.chain(symupdates.add_weight_decay(weight_decay=0.1),
                                     symupdates.adam(learning_rate=0.01, epsilon=0.0)), problem)
    reference = torch_trajectory(lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1, eps=0.0), problem)
    assert_trajectories_close(ours, reference, **tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_decoupled_weight_decay_on_adam_is_torch_adamw(dtype):
    problem = make_problem(steps=20, dtype=dtype)
    rule = symupdates.chain(symupdates.adam(learning_rate=0.02, epsilon=0.0),
                            symupdates.apply_decoupled_weight_decay(weight_decay=0.3, learning_rate=0.02))
    ours = run_rule(rule, problem)
    reference = torch_trajectory(lambda p: torch.optim.AdamW(p, lr=0.02, weight_decay=0.3, eps=0.0), problem)
    assert_trajectories_close(ours, reference, **tolerance(dtype))


def test_decoupled_weight_decay_with_scheduled_lr_on_rmsprop_with_mask_matches_numpy():
    problem = make_problem(steps=20)
    lr = S.exponential_decay(0.05, 1, 0.9)
    names = ["p0", "p1", "p2", "p3"]
    decayed = [False, True, True, False]
    ours = run_rule(symupdates.chain(symupdates.rmsprop(learning_rate=lr, rho=0.8),
                                     symupdates.apply_decoupled_weight_decay(weight_decay=0.5, learning_rate=lr,
                                                                             mask=["p1", "p2"])), problem)
    lrs = 0.05 * 0.9 ** np.arange(20)

    def step(params, grads, accus, t):
        new_params, new_accus = [], []
        for p, g, a, d in zip(params, grads, accus, decayed):
            a = 0.8 * a + 0.2 * g**2
            new = p - lrs[t - 1] * g / np.sqrt(a + 1e-6)
            new_params.append(new - lrs[t - 1] * 0.5 * p if d else new)
            new_accus.append(a)
        return new_params, new_accus

    from harness import numpy_trajectory
    assert_trajectories_close(ours, numpy_trajectory(step, problem, lambda ps: [0 * p for p in ps]))
    assert names  # parameters are named p0..p3 by the harness


# ---------------------------------------------------------------------------
# gradient noise


def test_gradient_noise_has_the_annealed_variance_and_is_seeded():
    size = 200_000
    param = pytensor.shared(np.zeros(size), name="w")
    mask_param = pytensor.shared(np.zeros(3), name="b")
    g = pt.vector("g")
    noisy = symupdates.add_gradient_noise([g, pt.zeros(3)], [param, mask_param], eta=0.3, gamma=0.55, seed=42, mask="w")
    # the generator and the step counter advance through with_schedules
    updates = S.with_schedules({param: param + 0 * noisy[0]})
    assert sorted(v.name for v in updates) == ["gradient_noise.rng", "gradient_noise.t", "w"]
    fn = pytensor.function([g], noisy, updates=updates)
    draws = []
    for t in range(4):
        out, untouched = fn(np.ones(size))
        np.testing.assert_array_equal(untouched, 0.0)
        noise = out - 1.0
        expected = 0.3 / (1 + t) ** 0.55
        assert abs(noise.mean()) < 5 * np.sqrt(expected / size)
        assert noise.var() == pytest.approx(expected, rel=0.02)
        draws.append(noise)
    assert not np.allclose(draws[0] / np.sqrt(0.3), draws[1] / np.sqrt(0.3 / 2**0.55))  # fresh noise each step

    def first_draw(seed):
        out = symupdates.add_gradient_noise([pt.zeros(5)], [pytensor.shared(np.zeros(5))], seed=seed)
        return pytensor.function([], out)()[0]

    np.testing.assert_array_equal(first_draw(7), first_draw(7))
    assert not np.array_equal(first_draw(7), first_draw(8))


def test_transforms_partial_application_and_errors():
    clip = symupdates.clip_by_value(min_value=-1, max_value=1)
    assert callable(clip) and clip.kind == "transform"
    p = pytensor.shared(np.zeros(2))
    with pytest.raises(ValueError, match="both"):
        symupdates.clip_by_value([pt.zeros(2)], min_value=-1, max_value=1)
    with pytest.raises(TypeError):
        symupdates.clip_by_value(mininum=1)
    with pytest.raises(ValueError, match="selects no parameter"):
        symupdates.clip_by_global_norm([pt.zeros(2)], [p], 1.0, mask="nothing*")
    with pytest.raises(ValueError, match="no update"):
        symupdates.apply_decoupled_weight_decay({}, [p], weight_decay=0.1)
