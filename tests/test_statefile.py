"""Optimizer state files: round trip, continuation bit for bit, atomic writes, refusal of mismatches."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import symupdates
from symupdates import schedules as S

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build(dtype="float64", rule="adam"):
    """A small problem and its updates: rule + EMA, a scheduled learning rate, skip_nonfinite."""
    rng = np.random.default_rng(0)
    W = pytensor.shared(rng.normal(size=(3, 4)).astype(dtype), name="W")
    b = pytensor.shared(np.zeros(4, dtype=dtype), name="b")
    x = pt.matrix("x", dtype=dtype)
    loss = pt.sum((pt.dot(x, W) + b) ** 2)
    lr = S.cosine_decay(0.1, 50, dtype=dtype)
    inner = {"adam": symupdates.adam(learning_rate=lr), "rmsprop": symupdates.rmsprop(learning_rate=lr),
             "momentum": symupdates.momentum(learning_rate=lr)}[rule]
    updates = symupdates.skip_nonfinite(symupdates.chain(inner, symupdates.exponential_moving_average(decay=0.9)))(
        loss, [W, b])
    step = pytensor.function([x], loss, updates=updates)
    return step, updates, [W, b]


def batches(dtype, n=10):
    rng = np.random.default_rng(1)
    return [rng.normal(size=(5, 3)).astype(dtype) for _ in range(n)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rule", ["adam", "rmsprop", "momentum"])
def test_save_and_load_continue_a_run_bit_for_bit(tmp_path, rule, dtype):
    data = batches(dtype)
    step, updates, params = build(dtype, rule)
    for x in data[:5]:
        step(x)
    path = tmp_path / "opt.npz"
    symupdates.save_state(updates, path)
    saved_params = [p.get_value() for p in params]
    for x in data[5:]:
        step(x)
    uninterrupted = [p.get_value() for p in params]

    step2, updates2, params2 = build(dtype, rule)  # a new process would build the same updates
    for p, v in zip(params2, saved_params):
        p.set_value(v)
    symupdates.load_state(updates2, path)
    names = list(symupdates.statefile.state_names(updates2))
    assert "cosine_decay.t" in names and "skip_nonfinite.skipped" in names and "W.ema.average" in names
    assert symupdates.statefile.state_names(updates2)["cosine_decay.t"].get_value() == 5
    for x in data[5:]:
        step2(x)
    for p, v in zip(params2, uninterrupted):
        np.testing.assert_array_equal(p.get_value(), v)


def test_mismatched_files_raise_and_change_nothing(tmp_path):
    _, adam_updates, _ = build(rule="adam")
    _, rms_updates, _ = build(rule="rmsprop")
    _, adam32, _ = build("float32", rule="adam")
    path = tmp_path / "adam.npz"
    symupdates.save_state(adam_updates, path)

    def snapshot(updates):
        return [v.get_value() for v in symupdates.statefile.state_names(updates).values()]

    for updates, message in [(rms_updates, "missing W.rmsprop.accu"), (adam32, "dtype")]:
        before = snapshot(updates)
        with pytest.raises(ValueError, match=message):
            symupdates.load_state(updates, path)
        for x, y in zip(before, snapshot(updates)):
            np.testing.assert_array_equal(x, y)

    # an extra entry, and a mis-shaped one, in otherwise good files
    with np.load(path) as f:
        good = dict(f)
    np.savez(tmp_path / "extra.npz", **good, **{"V.adam.m": np.zeros(2)})
    np.savez(tmp_path / "shape.npz", **{**good, "W.adam.m": np.zeros((4, 3))})
    _, updates, _ = build()
    before = snapshot(updates)
    with pytest.raises(ValueError, match="unexpected V.adam.m"):
        symupdates.load_state(updates, tmp_path / "extra.npz")
    with pytest.raises(ValueError, match=r"W.adam.m has shape \(4, 3\)"):
        symupdates.load_state(updates, tmp_path / "shape.npz")
    np.savez(tmp_path / "foreign.npz", a=np.zeros(1))
    with pytest.raises(ValueError, match="not a symupdates state file"):
        symupdates.load_state(updates, tmp_path / "foreign.npz")
    for x, y in zip(before, snapshot(updates)):
        np.testing.assert_array_equal(x, y)


def test_duplicate_names_are_numbered_in_order():
    a = pytensor.shared(np.zeros(2))  # unnamed parameters: both "param"
    b = pytensor.shared(np.zeros(3))
    updates = symupdates.per_parameter(symupdates.adam(), [([b], symupdates.adam())])([pt.zeros(2), pt.zeros(3)], [a, b])
    names = list(symupdates.statefile.state_names(updates))
    assert names == ["param.adam.m", "param.adam.v", "adam.t", "param.adam.m#2", "param.adam.v#2", "adam.t#2"]


def test_a_failure_during_the_write_leaves_the_old_file(tmp_path, monkeypatch):
    _, updates, _ = build()
    path = tmp_path / "opt.npz"
    symupdates.save_state(updates, path)
    old = path.read_bytes()
    for var in symupdates.state_variables(updates):
        var.set_value(var.get_value() + 1)

    def failing_savez(f, **arrays):
        f.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(symupdates.statefile.np, "savez", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        symupdates.save_state(updates, path)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["opt.npz"]  # no temporary file left behind


def test_a_killed_save_leaves_a_loadable_file(tmp_path):
    """A child saves big state over and over, alternating two values; it is killed mid-write."""
    path = tmp_path / "opt.npz"
    started = tmp_path / "started"
    script = textwrap.dedent("""
        import sys, numpy as np, pytensor, pytensor.tensor as pt, symupdates
        w = pytensor.shared(np.zeros(3_000_000), name="w")
        updates = symupdates.adam([pt.zeros(3_000_000)], [w])
        state = symupdates.state_variables(updates)
        i = 0
        while True:
            for var in state:
                var.set_value(np.full_like(var.get_value(), i % 2))
            symupdates.save_state(updates, sys.argv[1])
            if i == 1:
                open(sys.argv[2], "w").close()
            i += 1
    """)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen([sys.executable, "-c", script, str(path), str(started)], env=env)
    try:
        for _ in range(600):
            if started.exists() or child.poll() is not None:
                break
            time.sleep(0.1)
        assert started.exists(), "the child did not start saving"
        time.sleep(0.37)  # most of a save is writing 72 MB: the kill lands mid-write
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    w = pytensor.shared(np.zeros(3_000_000), name="w")
    updates = symupdates.adam([pt.zeros(3_000_000)], [w])
    symupdates.load_state(updates, path)
    values = [v.get_value() for v in symupdates.state_variables(updates)]
    fill = values[0].flat[0]
    assert fill in (0.0, 1.0) and all(np.all(v == fill) for v in values)
