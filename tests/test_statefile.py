"""Optimizer state files: round trip, continuation bit for bit, atomic writes, refusal of mismatches."""

import os
import signal
import socket
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


# ---------------------------------------------------------------------------
# refusals and file hygiene (issue 12)


def small_updates():
    w = pytensor.shared(np.zeros(4), name="w")
    return symupdates.adam([pt.zeros(4)], [w])


def not_state_files(tmp_path):
    """Files of every kind that is not a state file, by name."""
    good = tmp_path / "good.npz"
    symupdates.save_state(small_updates(), good)
    data = good.read_bytes()
    files = {
        "text": b"W.adam.m = 0\n",
        "empty": b"",
        "truncated": data[: len(data) // 2],
        "truncated at the end": data[:-20],
        "pickle": __import__("pickle").dumps({"W.adam.m": 0}),
        "random bytes": np.random.default_rng(0).bytes(300),
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    np.save(tmp_path / "array.npy", np.zeros(4))
    files["array.npy"] = None
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0xFF  # inside an entry: its CRC fails
    (tmp_path / "damaged").write_bytes(bytes(flipped))
    files["damaged"] = None
    return [tmp_path / name for name in files]


def test_any_file_that_is_not_a_state_file_is_a_value_error(tmp_path):
    updates = small_updates()
    before = [v.get_value() for v in symupdates.state_variables(updates)]
    for path in not_state_files(tmp_path):
        with pytest.raises(ValueError, match="is not a symupdates state file"):
            symupdates.load_state(updates, path)
    for a, b in zip(before, [v.get_value() for v in symupdates.state_variables(updates)]):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(FileNotFoundError):  # no file at all is not a bad file
        symupdates.load_state(updates, tmp_path / "missing.npz")


@pytest.mark.parametrize("version", [0, 2, 1.5, "1"])
def test_unknown_format_version_refused(tmp_path, version):
    updates = small_updates()
    path = tmp_path / "future.npz"
    symupdates.save_state(updates, path)
    with np.load(path) as archive:
        arrays = dict(archive)
    arrays[symupdates.statefile.FORMAT_KEY] = np.asarray(version)
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="format version %s; this symupdates reads version 1" % version):
        symupdates.load_state(updates, path)


@pytest.mark.parametrize("mode", [0o644, 0o600, 0o640, 0o664])
def test_save_keeps_the_mode_of_an_existing_file(tmp_path, mode):
    path = tmp_path / "opt.npz"
    symupdates.save_state(small_updates(), path)
    os.chmod(path, mode)
    symupdates.save_state(small_updates(), path)
    assert os.stat(path).st_mode & 0o777 == mode


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_the_umask_mode(tmp_path, umask):
    previous = os.umask(umask)
    try:
        symupdates.save_state(small_updates(), tmp_path / "new.npz")
    finally:
        os.umask(previous)
    assert os.stat(tmp_path / "new.npz").st_mode & 0o777 == 0o666 & ~umask


def temporary_name(target, pid):
    return ".%s.%s.%d.%s.tmp" % (target, socket.gethostname(), pid, "0badc0de")


def test_stale_temporary_files_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = tmp_path / temporary_name("opt.npz", dead.pid)
        live = tmp_path / temporary_name("opt.npz", alive.pid)
        other_target = tmp_path / temporary_name("other.npz", dead.pid)
        other_host = tmp_path / (".opt.npz.elsewhere.%d.0badc0de.tmp" % dead.pid)
        for path in (stale, live, other_target, other_host):
            path.write_bytes(b"x" * 1000)
        symupdates.save_state(small_updates(), tmp_path / "opt.npz")
        assert not stale.exists()
        assert live.exists()  # another writer, still writing
        assert other_target.exists() and other_host.exists()  # not this target's, or not this host's
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            ["opt.npz", live.name, other_target.name, other_host.name])
    finally:
        alive.kill()
        alive.wait()


def test_a_killed_writer_leaves_a_temporary_file_that_the_next_save_removes(tmp_path):
    path = tmp_path / "opt.npz"
    script = textwrap.dedent("""
        import os, sys, numpy as np, pytensor, pytensor.tensor as pt, symupdates
        w = pytensor.shared(np.zeros(10), name="w")
        updates = symupdates.adam([pt.zeros(10)], [w])
        def crash(f, **arrays):
            f.write(b"PK half an archive")
            f.flush()
            os._exit(9)  # killed mid-write: no cleanup runs
        symupdates.statefile.np.savez = crash
        symupdates.save_state(updates, sys.argv[1])
    """)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    assert subprocess.run([sys.executable, "-c", script, str(path)], env=env).returncode == 9
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".opt.npz.") and left[0].endswith(".tmp")
    symupdates.save_state(small_updates(), path)
    assert [p.name for p in tmp_path.iterdir()] == ["opt.npz"]
