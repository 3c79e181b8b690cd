"""The benchmark harness runs end to end in a tiny configuration (structure only, never seconds)."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "benchmarks")
sys.path.insert(0, BENCH)

import report  # noqa: E402
import run  # noqa: E402


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One tiny run: a symupdates step on Numba, the bandwidth limit, and optax hidden."""
    pytest.importorskip("numba")
    tmp = tmp_path_factory.mktemp("bench")
    hidden = tmp / "hidden"
    hidden.mkdir()
    (hidden / "optax.py").write_text("raise ImportError('optax hidden by the smoke test')\n")
    # a compile directory of its own: the harness is checked from a cold start, whatever this session compiled
    flags = ",".join(filter(None, [os.environ.get("PYTENSOR_FLAGS"), "base_compiledir=%s" % (tmp / "compiledir")]))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(hidden), os.environ.get("PYTHONPATH")])),
               PYTENSOR_FLAGS=flags)
    out_json, out_rst = tmp / "results.json", tmp / "bench.rst"
    completed = subprocess.run(
        [sys.executable, os.path.join(BENCH, "run.py"), "--tiny", "--sections", "step", "--backends", "numba",
         "--peers", "optax,bandwidth", "--json", str(out_json), "--rst", str(out_rst)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    print(completed.stderr[-3000:])  # the run's log, shown when a test below fails
    with open(out_json) as f:
        data = json.load(f)
    return completed.stdout, data, out_rst.read_text(), out_json


def test_json_has_machine_config_and_one_result_per_measurement(tiny_run):
    _, data, _, _ = tiny_run
    machine = data["machine"]
    assert machine["cpus"] >= 1 and machine["cpu_model"]
    assert {"pytensor", "numba", "torch", "jax", "optax"} <= set(machine["versions"])
    ids = [r["id"] for r in data["results"]]
    assert len(ids) == len(set(ids))
    by_impl = {r["impl"]: r for r in data["results"]}
    assert set(by_impl) == {"symupdates", "optax", "bandwidth"}
    assert by_impl["symupdates"]["status"] == "ok" and by_impl["symupdates"]["ms"] > 0, by_impl["symupdates"]
    assert by_impl["bandwidth"]["status"] == "ok" and by_impl["bandwidth"]["gb_per_s"] > 0
    # the tiny configuration measures steps in two rounds; one result each, their median
    rounds = by_impl["symupdates"]["rounds_ms"]
    assert len(rounds) == data["config"]["step_rounds"] == 2
    assert by_impl["symupdates"]["ms"] == pytest.approx(sum(rounds) / 2)
    assert machine["pytensor_location"] and machine["pytensor_location"] != "n/a"


def test_missing_peer_is_na_not_a_crash(tiny_run):
    stdout, data, _, _ = tiny_run
    optax = [r for r in data["results"] if r["impl"] == "optax"]
    assert optax and all(r["status"] == "n/a" for r in optax)
    assert "optax hidden by the smoke test" in optax[0]["reason"]
    optax_row = next(line for line in stdout.splitlines() if line.startswith("optax"))
    assert optax_row.split()[-1] == "n/a"


def test_tables_printed_written_and_redrawn(tiny_run, tmp_path):
    stdout, data, rst, out_json = tiny_run
    step = next(t for t in data["tables"] if t["title"].startswith("Adam step"))
    assert step["headers"] == ["implementation", "2 x 1k params"]
    labels = [row[0] for row in step["rows"]]
    assert "ratio symupdates Numba / best peer" in labels
    assert "ratio symupdates Numba / bandwidth limit" in labels
    assert step["title"] in stdout and step["title"] in rst
    assert rst.startswith("Benchmarks\n==========")
    redrawn = run.main(["--from-json", str(out_json), "--rst", str(tmp_path / "again.rst")])
    assert redrawn["tables"] == data["tables"]
    assert (tmp_path / "again.rst").read_text() == rst


def test_over_time_limit_is_reported_as_timeout():
    spec = {"id": "slow", "kind": "step", "impl": "bandwidth", "rule": "adam", "n_tensors": 1, "size": 10,
            "threads": 1, "samples": 1, "min_sample_s": 0.0}
    (result,) = run.run_worker([spec], timeout_s=0.01, mem_limit_mb=10**6)
    assert result["status"] == "timeout" and result["id"] == "slow"


def test_compile_and_training_tables_from_results():
    config = dict(run.CONFIGS["full"], sections=["compile", "train"], compile_backends=["c"],
                  train_backends=["c"], step_backends=["c"], peers=[], train_sizes=[20])
    results = [
        {"kind": "compile", "impl": "symupdates", "backend": "c", "n_tensors": 100, "run": "first", "status": "ok", "s": 1.0, "peak_mb": 10.0, "nodes": 3},
        {"kind": "compile", "impl": "symupdates", "backend": "c", "n_tensors": 500, "run": "first", "status": "ok", "s": 2.0, "peak_mb": 20.0, "nodes": 3},
        {"kind": "compile", "impl": "symupdates", "backend": "c", "n_tensors": 1000, "run": "first", "status": "timeout"},
        {"kind": "compile", "impl": "symupdates", "backend": "c", "n_tensors": 500, "run": "warm", "status": "ok", "s": 0.5, "peak_mb": 5.0, "nodes": 3},
        {"kind": "compile", "impl": "symupdates", "backend": "c", "n_tensors": 1000, "run": "warm", "status": "ok", "s": 1.5, "peak_mb": 6.0, "nodes": 3},
        {"kind": "train", "backend": "c", "n_tensors": 20, "updates": "none", "run": "first", "status": "ok", "s": 2.0},
        {"kind": "train", "backend": "c", "n_tensors": 20, "updates": "port", "run": "first", "status": "ok", "s": 4.0},
        {"kind": "train", "backend": "c", "n_tensors": 20, "updates": "adam", "run": "first", "status": "ok", "s": 3.0},
        {"kind": "train", "backend": "c", "n_tensors": 20, "updates": "none", "run": "warm", "status": "ok", "s": 1.0},
        {"kind": "train", "backend": "c", "n_tensors": 20, "updates": "adam", "run": "warm", "status": "timeout"},
    ]
    machine = {"cpus": 2}
    compile_table, train_table, targets = report.build_tables({"results": results, "config": config, "machine": machine})
    first, warm, optax = compile_table["rows"]
    assert first == ["C (cvm)", "first run", "1.00", "2.00", "timeout", "-", "timeout", "timeout"]
    assert warm == ["C (cvm)", "warm", "-", "0.50", "1.50", "3.00x", "6", "3"]
    assert optax[0].startswith("optax") and optax[2:5] == ["-", "-", "-"]
    none, port, adam = train_table["rows"][:3]
    assert train_table["headers"][3:] == ["cold (s)", "cold / none", "cold / port", "warm (s)", "warm / none",
                                          "warm / port"]
    assert adam[:3] == ["C (cvm)", "20", "adam"]
    assert adam[3:] == ["3.00", "1.50x", "0.75x", "timeout", "-", "-"]
    assert port[3:6] == ["4.00", "2.00x", "1.00x"] and none[4] == "1.00x"
    assert ["training compile adam / none (20 tensors, cold), C (cvm)", "<= 1.2x", "1.50x"] in targets["rows"]
    assert ["compile, 500 tensors, C (cvm)", "<= 3 s", "0.50 s"] in targets["rows"]
    assert ["compile growth 1000/500, C (cvm)", "<= 2x", "3.00x"] in targets["rows"]
