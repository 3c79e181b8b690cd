"""Benchmark symupdates against its peers, all measured in one run, and print ratios.

    python benchmarks/run.py            # the issue's workloads (about an hour on 2 cores)
    python benchmarks/run.py --quick    # smaller workloads, ~3 minutes on a quiet machine
    python benchmarks/run.py --json out.json --rst docs/benchmarks.rst
    python benchmarks/run.py --from-json benchmarks/results/latest.json   # redraw tables

Workloads: compile time (pytensor.function + first call) of a rule's update
graph for many tensors on the C, Numba and JAX backends; compile time of an
MLP's training function at 20 to 500 tensors, cold and warm, without
updates, with a plain Lasagne-style port of Adam, with Adam and with Adam
wrapped (skip_nonfinite, chain(clip_by_global_norm, adamw), lookahead); step time of Adam and SGD
with momentum against torch.optim (foreach and fused, 1 thread and all
threads), optax (jax.jit, donated buffers), a hand-written parallel Numba
loop and the memory-bandwidth limit.  Every measurement runs in its own
subprocess (``worker.py``) under a time and memory limit; a peer that is not
installed shows as "n/a", a measurement over its limit as "timeout" or
"killed", and the run goes on.
"""

import argparse
import datetime
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from report import build_tables, format_text, machine_lines, rst_document  # noqa: E402
from worker import MARKER  # noqa: E402

ROOT = os.path.dirname(HERE)
CPUS = len(os.sched_getaffinity(0))
BACKENDS = ("c", "numba", "jax")
PEERS = ("torch", "optax", "numba_loop", "bandwidth")
SECTIONS = ("compile", "train", "step")
LONG_COMPILE_S = 30

CONFIGS = {
    # the workloads
    "full": {
        "compile_rule": "adam",
        "compile_sizes": [100, 500, 1000],
        "train_sizes": [20, 50, 100, 500],
        "train_updates": ["none", "port", "adam", "skip_nonfinite(adam)", "chain(clip_by_global_norm,adamw)",
                          "lookahead(adam)"],
        "step_layouts": [[1, 10_000_000], [50, 200_000], [500, 100]],
        "rules": ["adam", "momentum"],
        "threads": [1, CPUS],
        "samples": 15,
        "min_sample_s": 0.05,
        # memory bandwidth on a shared virtual machine drifts over minutes: every
        # step measurement is repeated in rounds, each round measuring every
        # implementation in turn, and the median of the rounds is reported
        "step_rounds": 3,
        "warm_repeats": 2,
        # warm: a second process compiling the same function (the disk caches filled by the first)
        "train_warm_repeats": 1,
        "fresh_compiledir": True,
        "timeout_s": 300,
    },
    # the same questions, smaller: a few minutes
    "quick": {
        "compile_rule": "adam",
        "compile_sizes": [10, 20],
        "train_sizes": [10],
        "train_updates": ["none", "port", "adam", "skip_nonfinite(adam)"],
        "step_layouts": [[1, 10_000_000], [100, 100]],
        "rules": ["adam"],
        "threads": [1, CPUS],
        "samples": 5,
        "min_sample_s": 0.02,
        "step_rounds": 1,
        "warm_repeats": 0,
        # the first compile of a training function also compiles the C code of
        # the gradient graph: compare with and without updates once that is cached
        "train_warm_repeats": 1,
        "fresh_compiledir": False,
        "timeout_s": 90,
    },
    # a check of the harness itself (tests/test_benchmarks_smoke.py): numbers mean nothing
    "tiny": {
        "compile_rule": "adam",
        "compile_sizes": [2, 4],
        "train_sizes": [2],
        "train_updates": ["none", "adam"],
        "step_layouts": [[2, 1000]],
        "rules": ["adam"],
        "threads": [1],
        "samples": 2,
        "min_sample_s": 0.001,
        "step_rounds": 2,
        "warm_repeats": 0,
        "train_warm_repeats": 0,
        "fresh_compiledir": False,
        "timeout_s": 120,
    },
}


# ---------------------------------------------------------------------------
# machine description


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb():
    try:
        with open("/proc/meminfo") as f:
            return int(f.readline().split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "n/a"


def _location(package):
    spec = importlib.util.find_spec(package)
    return os.path.dirname(os.path.dirname(spec.origin)) if spec and spec.origin else "n/a"


def _commit():
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "symupdates"], cwd=ROOT, capture_output=True, text=True)
        return head.stdout.strip() + (" + uncommitted changes in symupdates/" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _source_digest():
    """A digest of the package's source, to tell apart runs of uncommitted code."""
    digest = hashlib.sha1()
    package = os.path.join(ROOT, "symupdates")
    for directory, dirs, files in sorted(os.walk(package)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith(".py")):
            with open(os.path.join(directory, name), "rb") as f:
                digest.update(name.encode() + f.read())
    return digest.hexdigest()[:12]


def describe_machine(mode):
    packages = ["pytensor", "numpy", "numba", "llvmlite", "torch", "jax", "jaxlib", "optax"]
    return {
        "cpu_model": _cpu_model(),
        "cpus": CPUS,
        "cpus_total": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "load_start": "%.2f %.2f %.2f" % os.getloadavg(),
        "platform": platform.platform(),
        "versions": {"python": platform.python_version(), **{p: _version(p) for p in packages}},
        # A PyTensor put first on PYTHONPATH (e.g. one with benchmarks/upstream's patch) keeps
        # the installed version number: where it was imported from tells the runs apart.
        "pytensor_location": _location("pytensor"),
        "commit": _commit(),
        "source_digest": _source_digest(),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "mode": mode,
    }


# ---------------------------------------------------------------------------
# subprocesses


def _rss_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def _thread_env(threads):
    """Environment pinning every library's thread pool to ``threads`` (None: defaults)."""
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONWARNINGS="ignore")
    if threads == 1:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
            env[name] = "1"
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
    return env


def run_worker(specs, timeout_s, mem_limit_mb, threads=None, compiledir=None, log=None):
    """Run ``specs`` in one new process; one result per spec, whatever happens to the process."""
    env = _thread_env(threads)
    if compiledir:
        env["PYTENSOR_FLAGS"] = ",".join(filter(None, [env.get("PYTENSOR_FLAGS"), "base_compiledir=" + compiledir]))
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "worker.py"), json.dumps(specs)],
            stdout=out, stderr=err, env=env, start_new_session=True,
        )
        start, peak, verdict = time.monotonic(), 0.0, None
        while process.poll() is None:
            peak = max(peak, _rss_mb(process.pid))
            if peak > mem_limit_mb:
                verdict = {"status": "killed", "reason": "over %.0f MB of memory" % mem_limit_mb}
            elif time.monotonic() - start > timeout_s:
                verdict = {"status": "timeout", "reason": "over %.0f s" % timeout_s}
            if verdict:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                break
            time.sleep(0.1)
        out.seek(0)
        err.seek(0)
        found = {}
        for line in out:
            if line.startswith(MARKER):
                result = json.loads(line[len(MARKER):])
                found[result.pop("id")] = result
        stderr_tail = err.read()[-2000:]
    if log and stderr_tail.strip() and (verdict or any(r.get("status") == "error" for r in found.values())):
        log("    worker stderr: " + stderr_tail.strip().splitlines()[-1][:300])
    elapsed = time.monotonic() - start
    results = []
    for spec in specs:
        result = found.get(spec["id"])
        if result is None:
            result = verdict or {"status": "error", "reason": "worker exited (%s) without a result: %s" % (
                process.returncode, stderr_tail.strip().splitlines()[-1][:200] if stderr_tail.strip() else "")}
        results.append({**spec, **result, "wall_s": elapsed})
    return results


def _median_of_rounds(measured):
    """One step measurement from its rounds: the median of the rounds' medians."""
    ok = [r for r in measured if r["status"] == "ok"]
    if len(ok) < len(measured):
        return next(r for r in measured if r["status"] != "ok")
    merged = dict(ok[0])
    merged.update(ms=statistics.median(r["ms"] for r in ok), ms_min=min(r["ms_min"] for r in ok),
                  ms_max=max(r["ms_max"] for r in ok), rounds_ms=[r["ms"] for r in ok])
    if "step_extra_mb" in merged:
        merged["step_extra_mb"] = max(r["step_extra_mb"] for r in ok)
    return merged


# ---------------------------------------------------------------------------
# the run


class Run:
    def __init__(self, config, sections, backends, peers, mem_limit_mb, verbose=True):
        self.config, self.sections, self.backends, self.peers = config, sections, backends, peers
        self.mem_limit_mb, self.verbose = mem_limit_mb, verbose
        self.results = []
        self.failed_at = {}  # (kind, backend) -> fewest tensors whose compile went over a limit
        self.template = self.source = None

    def log(self, message):
        if self.verbose:
            print(message, file=sys.stderr, flush=True)

    def _log_results(self, results):
        for r in results:
            shown = {k: r[k] for k in ("s", "ms", "peak_mb") if k in r}
            self.log("  %-60s %-8s %s" % (r["id"], r["status"], " ".join("%s=%.3g" % kv for kv in shown.items()) or r.get("reason", "")))
        return results

    def _record(self, results):
        self.results += self._log_results(results)
        return results

    def _skip_reason(self, backend, n_tensors, kind="compile"):
        failed = self.failed_at.get((kind, backend))
        if failed is not None and n_tensors >= failed:
            return "%s of %d tensors went over its limit on this backend" % (kind, failed)
        return None

    def _note_failure(self, result):
        if result["status"] in ("timeout", "killed"):
            key = (result["kind"], result["backend"])
            self.failed_at[key] = min(self.failed_at.get(key, result["n_tensors"]), result["n_tensors"])

    # compile directories: a fresh one per measurement (cold cache) holds a copy
    # of a primed template, so that only the measured graph is compiled cold
    def prime(self):
        if not self.config["fresh_compiledir"]:
            return
        self.template = tempfile.mkdtemp(prefix="symupdates-bench-template-")
        self.log("priming a fresh compile directory")
        self._record(run_worker([{"id": "prime", "kind": "prime", "impl": "symupdates", "backends": self.backends}],
                                self.config["timeout_s"], self.mem_limit_mb, compiledir=self.template, log=self.log))

    def compiledir(self):
        if not self.template:
            return None
        directory = tempfile.mkdtemp(prefix="symupdates-bench-")
        shutil.copytree(self.template, directory, dirs_exist_ok=True)
        return directory

    def repeated(self, spec, warm_repeats):
        """A compile measurement: the first run, then warm runs in the same compile directory."""
        reason = self._skip_reason(spec.get("backend"), spec["n_tensors"], spec["kind"])
        if reason:
            return self._record([{**spec, "run": "first", "status": "skipped", "reason": reason}])
        compiledir = self.compiledir()
        try:
            first = self._record(run_worker([{**spec, "run": "first"}], self.config["timeout_s"], self.mem_limit_mb,
                                            compiledir=compiledir, log=self.log))[0]
            if spec["impl"] == "symupdates":
                self._note_failure(first)
            if not warm_repeats or spec["impl"] != "symupdates":
                return
            if first["status"] != "ok":
                self._record([{**spec, "id": spec["id"] + "/warm", "run": "warm", "status": "skipped", "reason": "first run: " + first["status"]}])
                return
            warm = []
            # a long compile is its own average: one warm run is enough
            repeats = warm_repeats if first["s"] < LONG_COMPILE_S else 1
            for i in range(repeats):
                warm += run_worker([{**spec, "id": "%s/warm%d" % (spec["id"], i), "run": "warm"}], self.config["timeout_s"],
                                   self.mem_limit_mb, compiledir=compiledir, log=self.log)
            ok = [w for w in warm if w["status"] == "ok"]
            summary = {**spec, "id": spec["id"] + "/warm", "run": "warm", "repeats": [w.get("s") for w in warm]}
            if ok:
                summary.update(status="ok", s=statistics.median(w["s"] for w in ok),
                               peak_mb=statistics.median(w["peak_mb"] for w in ok), nodes=ok[0].get("nodes"))
            else:
                summary.update(status=warm[0]["status"], reason=warm[0].get("reason", ""))
            self._record([summary])
        finally:
            if compiledir:
                shutil.rmtree(compiledir, ignore_errors=True)

    def compile_section(self):
        rule = self.config["compile_rule"]
        for n in self.config["compile_sizes"]:
            for backend in self.backends:
                self.repeated({"id": "compile/%s/%s/%d" % (rule, backend, n), "kind": "compile", "impl": "symupdates",
                               "rule": rule, "backend": backend, "n_tensors": n}, self.config["warm_repeats"])
            if "optax" in self.peers:
                self.repeated({"id": "compile/%s/optax/%d" % (rule, n), "kind": "compile", "impl": "optax",
                               "rule": rule, "n_tensors": n}, 0)

    def train_section(self):
        """The training function of an MLP, compiled cold (a fresh compile directory
        and Numba cache) then warm (a second process), with each update set."""
        for n in self.config["train_sizes"]:
            for backend in self.backends:
                for updates in self.config["train_updates"]:
                    self.repeated({"id": "train/%s/%d/%s" % (backend, n, updates), "kind": "train",
                                   "impl": "symupdates", "backend": backend, "n_tensors": n, "updates": updates},
                                  self.config["train_warm_repeats"])

    def step_section(self):
        compiledir = self.compiledir()
        rounds = []
        try:
            for k in range(self.config["step_rounds"]):
                self.log("-- round %d of %d" % (k + 1, self.config["step_rounds"]))
                rounds.append(self._step_round(compiledir))
        finally:
            if compiledir:
                shutil.rmtree(compiledir, ignore_errors=True)
        self.results += [_median_of_rounds(measured) for measured in zip(*rounds)]

    def _step_round(self, compiledir):
        """Every step measurement once: symupdates on each backend, then each peer."""
        timing = {"samples": self.config["samples"], "min_sample_s": self.config["min_sample_s"]}
        layouts = [tuple(layout) for layout in self.config["step_layouts"]]
        measured = []
        for rule in self.config["rules"]:
            for backend in self.backends:
                for n, size in layouts:
                    spec = {"id": "step/%s/symupdates/%s/%dx%d" % (rule, backend, n, size), "kind": "step",
                            "impl": "symupdates", "backend": backend, "rule": rule, "n_tensors": n, "size": size, **timing}
                    reason = self._skip_reason(backend, n)
                    if reason:
                        measured += self._log_results([{**spec, "status": "skipped", "reason": reason}])
                    else:
                        measured += self._log_results(run_worker([spec], self.config["timeout_s"], self.mem_limit_mb,
                                                                 compiledir=compiledir, log=self.log))
        # one process per peer and thread count: the peer's settings cannot leak into another's
        for impl in self.peers:
            for threads in self.config["threads"]:
                specs = []
                for rule in self.config["rules"]:
                    for n, size in layouts:
                        base = {"kind": "step", "impl": impl, "rule": rule, "n_tensors": n, "size": size,
                                "threads": threads, **timing}
                        variants = ("foreach", "fused") if impl == "torch" else (None,)
                        for variant in variants:
                            name = impl + ("-" + variant if variant else "")
                            specs.append({**base, "id": "step/%s/%s/%dthr/%dx%d" % (rule, name, threads, n, size),
                                          **({"variant": variant} if variant else {})})
                measured += self._log_results(run_worker(specs, self.config["timeout_s"] * len(specs),
                                                         self.mem_limit_mb, threads=threads, compiledir=compiledir,
                                                         log=self.log))
        return measured

    def snapshot_source(self):
        """Copy the package now: every worker of this run imports this copy."""
        self.source = tempfile.mkdtemp(prefix="symupdates-bench-source-")
        shutil.copytree(os.path.join(ROOT, "symupdates"), os.path.join(self.source, "symupdates"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        os.environ["SYMUPDATES_BENCH_SOURCE"] = self.source

    def run(self):
        self.snapshot_source()
        self.prime()
        try:
            for section in SECTIONS:
                if section in self.sections:
                    self.log("== %s" % section)
                    getattr(self, section + "_section")()
        finally:
            for directory in (self.template, self.source):
                if directory:
                    shutil.rmtree(directory, ignore_errors=True)
            os.environ.pop("SYMUPDATES_BENCH_SOURCE", None)
        return self.results


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", dest="mode", const="quick", help="smaller workloads, a few minutes")
    size.add_argument("--tiny", action="store_const", dest="mode", const="tiny", help="check the harness only (seconds)")
    parser.add_argument("--json", default=os.path.join(HERE, "results", "latest.json"), help="where to write the results")
    parser.add_argument("--rst", help="also write the tables as a reStructuredText page (e.g. docs/benchmarks.rst)")
    parser.add_argument("--from-json", help="do not measure: redraw the tables of this results file")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated subset of: %s" % ", ".join(SECTIONS))
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated subset of: %s" % ", ".join(BACKENDS))
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated subset of: %s" % ", ".join(PEERS))
    parser.add_argument("--train-sizes", help="comma-separated numbers of tensors of the train section (default by mode)")
    parser.add_argument("--timeout", type=float, help="seconds allowed per measurement (default by mode)")
    parser.add_argument("--step-rounds", type=int, help="rounds of step measurements (default by mode)")
    parser.add_argument("--mem-limit-gb", type=float, default=8.0, help="memory allowed per measurement process")
    parser.set_defaults(mode="full")
    args = parser.parse_args(argv)
    for name, allowed in (("sections", SECTIONS), ("backends", BACKENDS), ("peers", PEERS)):
        chosen = [x for x in getattr(args, name).split(",") if x]
        unknown = sorted(set(chosen) - set(allowed))
        if unknown:
            parser.error("unknown %s: %s (choose from %s)" % (name, ", ".join(unknown), ", ".join(allowed)))
        setattr(args, name, chosen)
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.from_json:
        with open(args.from_json) as f:
            data = json.load(f)
    else:
        config = dict(CONFIGS[args.mode])
        if args.timeout:
            config["timeout_s"] = args.timeout
        if args.step_rounds:
            config["step_rounds"] = args.step_rounds
        if args.train_sizes:
            config["train_sizes"] = [int(n) for n in args.train_sizes.split(",")]
        config.update(sections=args.sections, compile_backends=args.backends, train_backends=args.backends,
                      step_backends=args.backends, peers=args.peers)
        machine = describe_machine(args.mode)
        start = time.monotonic()
        results = Run(config, args.sections, args.backends, args.peers, args.mem_limit_gb * 1024).run()
        machine.update(load_end="%.2f %.2f %.2f" % os.getloadavg(), duration_s=time.monotonic() - start)
        data = {"schema": 1, "machine": machine, "config": config, "results": results}
    data["tables"] = build_tables(data)
    print("\n".join(machine_lines(data["machine"])) + "\n")
    print("\n\n".join(format_text(t) for t in data["tables"]))
    if not args.from_json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(data, f, indent=1)
        print("\nresults written to %s" % args.json)
    if args.rst:
        with open(args.rst, "w") as f:
            f.write(rst_document(data, data["tables"]))
        print("tables written to %s" % args.rst)
    return data


if __name__ == "__main__":
    main()
