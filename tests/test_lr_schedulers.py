"""PyMC's schedulers and ``discard_loss`` (symupdates.lr_schedulers).

Reference: a NumPy transcription of PyMC's ``exponential_decay_scheduler``
and ``reduce_lr_on_plateau_scheduler`` (pymc/variational/updates.py, main
line), written from its formulas.  No torch here: this file also runs in
the PyMC stage of .ci/run (PyTensor 2.38).  torch's ReduceLROnPlateau is
checked in test_schedules.py.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import symupdates

STEPS = 12


# ---------------------------------------------------------------------------
# NumPy transcriptions of PyMC's schedulers


def pymc_exponential_decay(initial_lr, decay_rate, decay_steps, min_lr, staircase, steps):
    """The learning rate each step uses, and the one it leaves, under PyMC's exponential decay."""
    used, left = [], []
    lr = initial_lr
    for t in range(steps):  # t: steps done before this one
        used.append(lr)
        exponent = t // decay_steps if staircase else t / decay_steps
        lr = max(initial_lr * decay_rate**exponent, min_lr)
        left.append(lr)
    return np.array(used), np.array(left)


def pymc_plateau(losses, lr, factor, patience, min_lr, cooldown):
    """PyMC's plateau state after each loss: (best_loss, cooldown_counter, wait, learning_rate)."""
    best, counter, wait = np.inf, 0, 0
    history = []
    for loss in losses:
        if not np.isinf(loss):
            in_cooldown, improving, exhausted = counter > 0, loss < best, wait >= patience
            new_best = loss if improving else best
            if in_cooldown:
                counter, wait = counter - 1, 0
            elif improving:
                wait = 0
            elif exhausted:
                lr, counter, wait = max(min_lr, lr * factor), cooldown, 0
            else:
                wait += 1
            best = new_best
        history.append((best, counter, wait, lr))
    return np.array(history)


def quadratic(dtype="float64"):
    w = pytensor.shared(np.array([1.0, -2.0, 3.0], dtype=dtype), name="w")
    return w, pt.sum(w**2) / 2  # gradient: w


# ---------------------------------------------------------------------------
# exponential_decay_scheduler


@pytest.mark.parametrize("staircase", [False, True])
@pytest.mark.parametrize("decay_steps, decay_rate, min_lr", [(1, 0.5, 1e-8), (3, 0.7, 1e-8), (2, 0.5, 0.05)])
def test_exponential_decay_matches_pymc(decay_steps, decay_rate, min_lr, staircase):
    w, loss = quadratic()
    initial = 0.3
    scheduled = symupdates.exponential_decay_scheduler(
        symupdates.sgd(learning_rate=initial), decay_steps, decay_rate, min_lr, staircase
    )
    updates = scheduled(loss, [w])
    names = [v.name for v in updates]
    assert "learning_rate" in names and "t" in names
    lr = next(v for v in updates if v.name == "learning_rate")
    assert updates[lr].name == "learning_rate__updated"
    step = pytensor.function([], updates[lr], updates=updates)
    left = np.array([step() for _ in range(STEPS)])
    used, expected_left = pymc_exponential_decay(initial, decay_rate, decay_steps, min_lr, staircase, STEPS)
    np.testing.assert_allclose(left, expected_left, rtol=1e-12)
    # SGD on w'w/2 multiplies w by (1 - lr) each step, with the lr the step used.
    np.testing.assert_allclose(w.get_value(), np.array([1.0, -2.0, 3.0]) * np.prod(1 - used), rtol=1e-12)


def test_exponential_decay_reuses_a_counter_named_t_and_leaves_the_optimizer_alone():
    optimizer = symupdates.adam(learning_rate=0.1)
    scheduled = symupdates.exponential_decay_scheduler(optimizer, 1, 0.5)
    assert optimizer.keywords == {"learning_rate": 0.1}
    w, loss = quadratic()
    updates = scheduled(loss, [w])
    assert [v.name for v in updates].count("t") == 1
    assert list(updates)[-1].name == "t"
    assert optimizer.keywords == {"learning_rate": 0.1}


@pytest.mark.parametrize("bad", [{"decay_rate": 0.0}, {"decay_rate": 1.5}, {"decay_steps": 0}])
def test_exponential_decay_refuses_bad_arguments(bad):
    args = dict(dict(decay_steps=1, decay_rate=0.5), **bad)
    with pytest.raises(ValueError):
        symupdates.exponential_decay_scheduler(symupdates.sgd(learning_rate=0.1), **args)


def test_schedulers_need_a_partial_application():
    with pytest.raises(TypeError):
        symupdates.exponential_decay_scheduler(symupdates.sgd, 1, 0.5)


def test_exponential_decay_uses_the_rules_default_learning_rate():
    w, loss = quadratic()
    updates = symupdates.exponential_decay_scheduler(symupdates.sgd(), 1, 0.5)(loss, [w])
    lr = next(v for v in updates if v.name == "learning_rate")
    assert lr.get_value() == 1e-3


# ---------------------------------------------------------------------------
# reduce_lr_on_plateau_scheduler

LOSSES = [5.0, 4.0, 4.0, 4.5, np.inf, 4.2, 4.1, 4.0, 3.0, 3.5, 3.5, 3.5, 3.5, 2.0, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5]


@pytest.fixture(scope="module")
def plateau_step():
    loss = pt.dscalar("loss")
    w = pytensor.shared(np.zeros(2), name="w")
    scheduled = symupdates.reduce_lr_on_plateau_scheduler(
        symupdates.adam(learning_rate=1.0), factor=0.1, patience=2, min_lr=1e-3, cooldown=2
    )
    updates = scheduled((loss, [pt.zeros_like(w)]), [w])
    state = {v.name: v for v in updates}
    names = ["best_loss", "cooldown_counter", "wait", "learning_rate"]
    assert all("%s__updated" % n == updates[state[n]].name for n in names)
    return pytensor.function([loss], [updates[state[n]] for n in names], updates=updates)


def test_reduce_lr_on_plateau_matches_pymc(plateau_step):
    got = np.array([[float(x) for x in plateau_step(loss)] for loss in LOSSES])
    expected = pymc_plateau(LOSSES, 1.0, factor=0.1, patience=2, min_lr=1e-3, cooldown=2)
    np.testing.assert_allclose(got, expected, rtol=1e-7)
    assert got[-1, 3] == pytest.approx(1e-3)  # reduced three times, then floored


def test_reduce_lr_on_plateau_takes_a_scalar_loss_and_refuses_bare_gradients():
    w, loss = quadratic()
    scheduled = symupdates.reduce_lr_on_plateau_scheduler(symupdates.sgd(learning_rate=0.1))
    assert "best_loss" in [v.name for v in scheduled(loss, [w])]
    with pytest.raises(ValueError, match="needs the loss"):
        scheduled(pytensor.grad(loss, [w]), [w])


# ---------------------------------------------------------------------------
# discard_loss and (loss, grads) pairs


def test_discard_loss_passes_the_loss_through():
    w, loss = quadratic()
    grads = pytensor.grad(loss, [w])
    updates, passed = symupdates.adam(loss, [w], learning_rate=0.1, discard_loss=False)
    assert passed is loss and w in updates
    updates, passed = symupdates.adam((loss, grads), [w], learning_rate=0.1, discard_loss=False)
    assert passed is loss and w in updates
    updates, passed = symupdates.adam(grads, [w], learning_rate=0.1, discard_loss=False)
    assert passed is None
    assert isinstance(symupdates.adam((loss, grads), [w], learning_rate=0.1), dict)
    partial = symupdates.sgd(learning_rate=0.1, discard_loss=False)
    assert partial(loss, [w])[1] is loss


def test_a_pair_updates_with_its_gradients():
    w, loss = quadratic()
    fake = [pt.ones_like(w)]  # not the loss's gradient: the pair's gradients must be used
    fn = pytensor.function([], [], updates=symupdates.sgd((loss, fake), [w], learning_rate=0.5))
    fn()
    np.testing.assert_allclose(w.get_value(), [0.5, -2.5, 2.5])
