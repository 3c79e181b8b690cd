"""Data-parallel training on MPI: each test starts ``mpiexec`` on this machine with tests/mpi_worker.py.

The worker checks every rank's numbers against one process on the whole
batch (its own reference run of the plain rule) and prints ``PASSED ...``
on rank 0; these tests check the job's exit code, the passed checks, and
for the faults that every process of the job is gone within 60 s.
MPICH's mpiexec (hydra, from the ``mpich`` wheel) starts more ranks than
cores without complaint.
"""

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time

import numpy as np
import pytensor
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "mpi_worker.py")
FAULT_TIMEOUT = 60


def mpiexec():
    candidates = [os.path.join(os.path.dirname(sys.executable), "mpiexec"),
                  os.path.join(sysconfig.get_path("scripts"), "mpiexec"),
                  os.path.join(sysconfig.get_path("scripts", "%s_user" % os.name), "mpiexec"),
                  shutil.which("mpiexec")]
    for candidate in candidates:
        if candidate and os.path.exists(candidate):
            return candidate
    raise AssertionError("no mpiexec: install the extra, pip install -e '.[distributed]'")


def launch(ranks, *args, timeout=300):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    started = time.monotonic()
    result = subprocess.run([mpiexec(), "-n", str(ranks), sys.executable, WORKER, *args],
                            capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    result.seconds = time.monotonic() - started
    result.passed = re.findall(r"^PASSED (.*)$", result.stdout, re.M)
    return result


def succeeded(result):
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.passed


def cases(dtypes):
    return ["%s %s shard_state=%s mode=py" % (rule, dtype, shard)
            for dtype in dtypes for rule in ("sgd", "adam", "clip+adam") for shard in (False, True)]


@pytest.mark.parametrize("ranks, dtypes", [(2, ("float64", "float32")), (3, ("float64",))])
def test_ranks_on_their_slices_step_like_one_process_on_the_whole_batch(ranks, dtypes):
    passed = succeeded(launch(ranks, "equality", "py", *dtypes))
    assert passed == cases(dtypes) + ["chain(clip, data_parallel(adam)) mode=py"]


def test_collectives_under_the_py_c_and_numba_linkers_and_one_rank_is_the_plain_rule():
    passed = succeeded(launch(2, "collectives", "py"))
    assert passed == ["collectives %s %s" % (linker, dtype) for linker in ("py", "c", "numba")
                      for dtype in ("float64", "float32")] + ["one rank is the plain rule"]


def test_sharded_state_files_resume_bit_for_bit_and_broadcast_gives_rank_0s_values(tmp_path):
    passed = succeeded(launch(2, "resume", "py", str(tmp_path)))
    assert passed == ["resume bit-for-bit", "broadcast_parameters"]
    assert sorted(os.listdir(tmp_path)) == ["state.rank0-of-2.npz", "state.rank1-of-2.npz"]


def test_ranks_with_different_parameters_are_refused_on_every_rank():
    result = launch(2, "disagree", "py", timeout=FAULT_TIMEOUT)
    assert result.returncode != 0
    assert "built the updates" not in result.stdout
    messages = re.findall(r"RankDisagreementError: data_parallel: the ranks' parameters differ in number, "
                          r"shape or dtype; every rank must build the same model \(rank (\d) of 2 here\)",
                          result.stderr)
    assert sorted(messages) == ["0", "1"]
    assert "rank 1: 4 parameters: W1 (6, 5) float64, b1 (5,) float64, W2 (5, 2) float64, extra (3,) float64" \
        in result.stderr


def processes_alive(pids):
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        with open("/proc/%d/stat" % pid) as f:
            if f.read().split()[2] != "Z":
                alive.append(pid)
    return alive


@pytest.mark.parametrize("how", ["raise", "kill"])
def test_a_failing_rank_ends_the_whole_job_within_60_seconds(how, tmp_path):
    started = time.monotonic()
    result = launch(2, "fail", "py", how, str(tmp_path), timeout=FAULT_TIMEOUT)  # a hang raises TimeoutExpired
    assert result.returncode != 0
    assert sorted(os.listdir(tmp_path)) == ["rank0.pid", "rank1.pid"]  # both ranks stepped once
    pids = [int((tmp_path / name).read_text()) for name in ("rank0.pid", "rank1.pid")]
    while processes_alive(pids) and time.monotonic() - started < FAULT_TIMEOUT:  # mpiexec may return first
        time.sleep(0.1)
    assert processes_alive(pids) == []
    if how == "raise":
        assert "RuntimeError: rank 1 fails on purpose" in result.stderr


# ---------------------------------------------------------------------------
# without mpiexec: what needs no second rank


def test_shard_owners_balance_by_size_deterministically():
    from symupdates.distributed import shard_owners

    params = [pytensor.shared(np.zeros(n)) for n in (10, 3, 7, 5, 1)]
    # largest first, each to the least-loaded rank: 10 -> 0, 7 -> 1, 5 -> 1, 3 -> 0, 1 -> 1
    assert shard_owners(params, 2) == [0, 0, 1, 1, 1]
    assert shard_owners(params, 3) == [0, 2, 1, 2, 1]


def test_state_files_of_sharded_state_are_named_by_rank_and_unsharded_state_keeps_its_path():
    from symupdates.distributed import SHARD_TAG, shard_file

    state = pytensor.shared(np.zeros(2))
    assert shard_file([state], "run/state.npz") == "run/state.npz"
    setattr(state.tag, SHARD_TAG, (1, 3))
    assert shard_file([state], "run/state.npz") == "run/state.rank1-of-3.npz"


def test_network3_data_parallel_prints_once_and_matches_the_single_process_accuracy():
    arguments = [os.path.join(ROOT, "examples", "network3.py"), "--epochs", "2", "--limit", "100",
                 "--hidden", "8", "--architecture", "mlp", "--no-progress"]
    env = dict(os.environ, PYTENSOR_FLAGS="mode=FAST_COMPILE")
    single = subprocess.run([sys.executable, *arguments], capture_output=True, text=True, env=env, timeout=300)
    parallel = subprocess.run([mpiexec(), "-n", "2", sys.executable, *arguments, "--data-parallel"],
                              capture_output=True, text=True, env=env, timeout=300)
    assert single.returncode == 0 and parallel.returncode == 0, parallel.stderr[-3000:]

    def accuracies(stdout):
        return [line for line in stdout.splitlines() if "accuracy" in line]

    assert len(accuracies(single.stdout)) >= 4
    # the same accuracies, printed once (by rank 0)
    assert accuracies(parallel.stdout) == accuracies(single.stdout)
    assert parallel.stdout.count("Finished training network.") == 1


def test_a_sharded_state_file_of_another_number_of_ranks_is_refused_by_name(tmp_path):
    from symupdates.distributed import SHARD_TAG, shard_file

    state = pytensor.shared(np.zeros(2))
    setattr(state.tag, SHARD_TAG, (0, 3))
    (tmp_path / "state.rank0-of-2.npz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"no state file .*state.rank0-of-3.npz for rank 0 of 3; found "
                                         r"state.rank0-of-2.npz: sharded state resumes on the number of ranks"):
        shard_file([state], str(tmp_path / "state.npz"), reading=True)


def test_bad_arguments_are_refused_when_the_rule_is_made():
    from symupdates import adam
    from symupdates.distributed import data_parallel

    with pytest.raises(TypeError, match="rule must be a function of"):
        data_parallel("adam")
    with pytest.raises(TypeError, match="shard_state must be True or False"):
        data_parallel(adam(learning_rate=0.1), shard_state="yes")
    with pytest.raises(TypeError, match="comm must be an mpi4py communicator"):
        data_parallel(adam(learning_rate=0.1), comm=2)
