"""Tables of the benchmark's results: plain text for the terminal, reStructuredText for docs.

A table is ``{"title", "headers", "rows", "notes"}`` with rows of strings,
built from the JSON results only, so ``run.py --from-json`` can redraw the
tables of an earlier run.
"""

from problems import BYTES_PER_PARAM, layout_label

BACKEND_NAMES = {"c": "C (cvm)", "numba": "Numba", "jax": "JAX"}
RULE_TITLES = {"adam": "Adam", "momentum": "SGD with momentum"}


def _ok(result):
    return result is not None and result.get("status") == "ok"


def _cell(result, key, fmt):
    """A value, or why it is missing: n/a (peer not installed), timeout, killed, error, skipped."""
    if result is None:
        return "-"
    if _ok(result):
        return fmt % result[key]
    return result.get("status", "?")


def _ratio(numerator, denominator):
    if numerator is None or denominator is None or denominator <= 0:
        return "-"
    return "%.2fx" % (numerator / denominator)


class Results:
    """The results of a run, looked up by their spec fields."""

    def __init__(self, results):
        self.results = results

    def find(self, **fields):
        for result in self.results:
            if all(result.get(k) == v for k, v in fields.items()):
                return result
        return None

    def value(self, key, **fields):
        result = self.find(**fields)
        return result[key] if _ok(result) else None


def _threads_label(threads, machine):
    return "all %d threads" % machine["cpus"] if threads != 1 else "1 thread"


def compile_table(results, config):
    sizes = config["compile_sizes"]
    headers = ["backend", "cache"] + ["%d tensors (s)" % n for n in sizes]
    if len(sizes) >= 2:
        headers.append("growth %d/%d" % (sizes[-1], sizes[-2]))
    headers += ["peak MB (%d)" % sizes[-1], "nodes (%d)" % sizes[-1]]
    runs = [("first", "first run")] + ([("warm", "warm")] if config["warm_repeats"] else [])
    rows = []
    for backend in config["compile_backends"]:
        for key, label in runs:
            found = [results.find(kind="compile", impl="symupdates", backend=backend, n_tensors=n, run=key) for n in sizes]
            row = [BACKEND_NAMES[backend], label] + [_cell(r, "s", "%.2f") for r in found]
            if len(sizes) >= 2:
                row.append(_ratio(*[r["s"] if _ok(r) else None for r in found[-2:]][::-1]))
            row += [_cell(found[-1], "peak_mb", "%.0f"), _cell(found[-1], "nodes", "%d")]
            rows.append(row)
    found = [results.find(kind="compile", impl="optax", n_tensors=n) for n in sizes]
    row = ["optax, jax.jit (peer)", "first run"] + [_cell(r, "s", "%.2f") for r in found]
    if len(sizes) >= 2:
        row.append(_ratio(*[r["s"] if _ok(r) else None for r in found[-2:]][::-1]))
    rows.append(row + [_cell(found[-1], "peak_mb", "%.0f"), "-"])
    return {
        "title": "Compile time of the %s update graph (pytensor.function + first call)" % RULE_TITLES[config["compile_rule"]],
        "headers": headers,
        "rows": rows,
        "notes": [
            "Tensors alternate 32x32 matrices and 32-vectors; gradients are inputs. "
            "'first run': a new process compiling the graph for the first time%s%s. "
            "Peak MB: peak resident memory added by compiling. torch.optim needs no compile."
            % (" with an empty compile cache" if config["fresh_compiledir"] else "",
               "; 'warm': median of up to %d more processes with the compile cache the first run filled"
               % config["warm_repeats"] if config["warm_repeats"] else ""),
        ],
    }


def training_table(results, config):
    """Per backend, size and update set: cold and warm compile, and ratios to no updates and to the port."""
    warm = config.get("train_warm_repeats", 0)
    runs = ["first", "warm"] if warm else ["first"]
    rows = []
    for backend in config["train_backends"]:
        for n in config["train_sizes"]:
            base = {run: {u: results.value("s", kind="train", backend=backend, n_tensors=n, updates=u, run=run)
                          for u in ("none", "port")} for run in runs}
            for updates in config["train_updates"]:
                row = [BACKEND_NAMES[backend], str(n), updates]
                for run in runs:
                    found = results.find(kind="train", backend=backend, n_tensors=n, updates=updates, run=run)
                    s = found["s"] if _ok(found) else None
                    row += [_cell(found, "s", "%.2f"), _ratio(s, base[run]["none"])]
                    if "port" in config["train_updates"]:
                        row.append(_ratio(s, base[run]["port"]))
                rows.append(row)
    headers = ["backend", "tensors", "updates"]
    for run in runs:
        label = "cold" if run == "first" else "warm"
        headers += ["%s (s)" % label, "%s / none" % label] + (["%s / port" % label] if "port" in config["train_updates"] else [])
    return {
        "title": "Training function of an MLP: compile + first call, cold%s" % (" and warm" if warm else ""),
        "headers": headers,
        "rows": rows,
        "notes": ["none: the function returns the loss and the gradients; port: Adam written as Lasagne writes it, "
                  "one graph per parameter; the others: the loss and the updates of symupdates' rules.",
                  "cold: an empty compile directory and Numba cache; warm: a second process compiling the same "
                  "function (the caches the first one filled)."],
    }


def _step_rows(results, config, machine, rule):
    layouts = [tuple(layout) for layout in config["step_layouts"]]
    rows, ours, peers, limits = [], {}, {}, {}

    def add(label, group, key, **fields):
        found = [results.find(kind="step", rule=rule, n_tensors=n, size=s, **fields) for n, s in layouts]
        rows.append([label] + [_cell(r, "ms", "%.3f") for r in found])
        group[key] = [r["ms"] if _ok(r) else None for r in found]

    for backend in config["step_backends"]:
        add("symupdates, %s" % BACKEND_NAMES[backend], ours, backend, impl="symupdates", backend=backend)
    impls = config["peers"]
    for threads in config["threads"]:
        t = _threads_label(threads, machine)
        if "torch" in impls:
            for variant in ("foreach", "fused"):
                add("torch.optim %s=True, %s" % (variant, t), peers, ("torch", variant, threads),
                    impl="torch", variant=variant, threads=threads)
        if "optax" in impls:
            add("optax, jit + donated buffers, %s" % t, peers, ("optax", threads), impl="optax", threads=threads)
        if "numba_loop" in impls:
            add("hand-written Numba loop, %s" % t, peers, ("numba_loop", threads), impl="numba_loop", threads=threads)
    if "bandwidth" in impls:
        for threads in config["threads"]:
            add("memory-bandwidth limit (%d B/param), %s" % (BYTES_PER_PARAM[rule], _threads_label(threads, machine)),
                limits, threads, impl="bandwidth", threads=threads)
    return layouts, rows, ours, peers, limits


def _best(columns, index):
    values = [c[index] for c in columns if c[index] is not None]
    return min(values) if values else None


def step_table(results, config, machine, rule):
    layouts, rows, ours, peers, limits = _step_rows(results, config, machine, rule)
    best_peer = [_best(peers.values(), i) for i in range(len(layouts))]
    best_limit = [_best(limits.values(), i) for i in range(len(layouts))]
    rows.append(["best peer"] + ["%.3f" % b if b is not None else "-" for b in best_peer])
    for backend, times in ours.items():
        rows.append(["ratio symupdates %s / best peer" % BACKEND_NAMES[backend]]
                    + [_ratio(t, b) for t, b in zip(times, best_peer)])
    for backend, times in ours.items():
        rows.append(["ratio symupdates %s / bandwidth limit" % BACKEND_NAMES[backend]]
                    + [_ratio(t, b) for t, b in zip(times, best_limit)])
    return {
        "title": "%s step, float32: milliseconds per step (median)" % RULE_TITLES[rule],
        "headers": ["implementation"] + ["%s params" % layout_label(n, s) for n, s in layouts],
        "rows": rows,
        "notes": [
            "Columns: number of tensors x parameters per tensor. symupdates runs with each backend's "
            "default threading. Best peer: the fastest of torch.optim, optax and the Numba loop at any "
            "thread count. Memory-bandwidth limit: a streaming kernel reading and writing the same "
            "bytes as the rule, as one flat array.",
            "Each figure is the median of %d rounds; a round measures every implementation once, in "
            "turn, so that all see the same drift of the machine's memory bandwidth."
            % config.get("step_rounds", 1),
        ],
    }


def targets_table(results, config, machine):
    """The issue's targets, each with the value measured in this run."""
    rows = []
    sizes = config["compile_sizes"]
    run = "warm" if config["warm_repeats"] else "first"
    for backend in config["compile_backends"]:
        times = {n: results.value("s", kind="compile", impl="symupdates", backend=backend, n_tensors=n, run=run) for n in sizes}
        if 500 in times:
            rows.append(["compile, 500 tensors, %s" % BACKEND_NAMES[backend], "<= 3 s",
                         "%.2f s" % times[500] if times[500] is not None else "-"])
        if 500 in times and 1000 in times:
            rows.append(["compile growth 1000/500, %s" % BACKEND_NAMES[backend], "<= 2x", _ratio(times[1000], times[500])])
    for backend in config["train_backends"]:
        for n in config["train_sizes"]:
            for run in ("first", "warm") if config.get("train_warm_repeats", 0) else ("first",):
                w = results.value("s", kind="train", backend=backend, n_tensors=n, updates="adam", run=run)
                wo = results.value("s", kind="train", backend=backend, n_tensors=n, updates="none", run=run)
                rows.append(["training compile adam / none (%d tensors, %s), %s"
                             % (n, "cold" if run == "first" else "warm", BACKEND_NAMES[backend]), "<= 1.2x", _ratio(w, wo)])
    for rule in config["rules"]:
        for n, size in [tuple(layout) for layout in config["step_layouts"]]:
            fused = [results.value("ms", kind="step", impl="torch", variant="fused", rule=rule, n_tensors=n, size=size, threads=t)
                     for t in config["threads"]]
            fused = min([f for f in fused if f is not None], default=None)
            for backend in config["step_backends"]:
                ours = results.value("ms", kind="step", impl="symupdates", backend=backend, rule=rule, n_tensors=n, size=size)
                if n * size >= 10**6:
                    rows.append(["%s step %s, %s / torch fused (best threads)" % (RULE_TITLES[rule], layout_label(n, size), BACKEND_NAMES[backend]),
                                 "<= 1.0x", _ratio(ours, fused)])
                elif rule == "adam":
                    rows.append(["Adam step %s, %s" % (layout_label(n, size), BACKEND_NAMES[backend]), "<= 1 ms",
                                 "%.3f ms" % ours if ours is not None else "-"])
    largest = max(config["step_layouts"], key=lambda layout: layout[0] * layout[1])
    for backend in config["step_backends"]:
        step = results.find(kind="step", impl="symupdates", backend=backend, rule="adam",
                            n_tensors=largest[0], size=largest[1])
        if _ok(step) and "step_extra_mb" in step:
            rows.append(["memory a step adds, Adam %s, %s" % (layout_label(*largest), BACKEND_NAMES[backend]),
                         "<= 10%% of state (%.0f MB)" % step["state_mb"],
                         "%.1f MB (%.0f%%)" % (step["step_extra_mb"], 100 * step["step_extra_mb"] / step["state_mb"])])
    return {"title": "The issue's targets, measured in this run", "headers": ["target", "goal", "measured"], "rows": rows,
            "notes": ["Memory a step adds: peak resident memory during the timed steps above the memory "
                      "after one warm-up step (parameters, gradients and state allocated). Temporaries "
                      "allocated and freed by each step show up; a pool an allocator keeps from the warm-up "
                      "step on (XLA's, on JAX) does not. C and Numba update in place "
                      "(tests/test_structure.py checks the buffers)."]}


def build_tables(data):
    results, config, machine = Results(data["results"]), data["config"], data["machine"]
    tables = []
    sections = config["sections"]
    if "compile" in sections:
        tables.append(compile_table(results, config))
    if "train" in sections:
        tables.append(training_table(results, config))
    if "step" in sections:
        tables += [step_table(results, config, machine, rule) for rule in config["rules"]]
    tables.append(targets_table(results, config, machine))
    return tables


def machine_lines(machine):
    versions = ", ".join("%s %s" % (k, v) for k, v in machine["versions"].items())
    return [
        "CPU: %s, %d logical CPUs usable (%d in the machine), %.1f GB RAM" % (
            machine["cpu_model"], machine["cpus"], machine["cpus_total"], machine["memory_gb"]),
        "Load average at start / end: %s / %s" % (machine["load_start"], machine.get("load_end", "?")),
        "Versions: %s" % versions,
        "PyTensor imported from: %s" % machine.get("pytensor_location", "?"),
        "symupdates commit: %s (source digest %s); run %s, %s mode, %.0f s" % (
            machine["commit"], machine.get("source_digest", "?"), machine["date"], machine["mode"],
            machine.get("duration_s", 0)),
    ]


def _widths(table):
    return [max(len(str(x)) for x in column) for column in zip(table["headers"], *table["rows"])]


def format_text(table):
    widths = _widths(table)
    line = lambda cells: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    out = [table["title"], line(table["headers"]), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in table["rows"]]
    out += ["  " + note for note in table["notes"]]
    return "\n".join(out)


def format_rst(table):
    widths = _widths(table)
    border = "  ".join("=" * w for w in widths)
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    title = table["title"]
    out = [title, "-" * len(title), "", border, line(table["headers"]), border]
    out += [line(row) for row in table["rows"]]
    out += [border, ""]
    out += [note + "\n" for note in table["notes"]]
    return "\n".join(out)


def rst_document(data, tables):
    machine = data["machine"]
    out = [
        "Benchmarks",
        "==========",
        "",
        "Generated by ``python benchmarks/run.py --rst docs/benchmarks.rst`` (all numbers of one run,",
        "on one machine; ratios compare implementations measured in that same run).  The raw",
        "results are in ``benchmarks/results/latest.json``; ``python benchmarks/run.py --from-json",
        "benchmarks/results/latest.json --rst docs/benchmarks.rst`` redraws these tables.",
        "",
        "Machine",
        "-------",
        "",
    ]
    out += ["- " + line for line in machine_lines(machine)]
    out.append("")
    for table in tables:
        out.append(format_rst(table))
    return "\n".join(out).rstrip() + "\n"
