"""The ``symupdates`` command: trace and compare update rules on classic 2-D test functions.

::

    python -m symupdates trace --problem rosenbrock --rules adam rmsprop momentum --output trace.png
    python -m symupdates compare --problem beale --rules all
    python -m symupdates list

``trace`` runs each rule from the problem's starting point and draws the
contour lines of the function with every trajectory; ``compare`` prints a
table (final value, distance to the nearest minimum, steps to reach the
tolerance, time).  A rule is given as ``NAME`` or
``NAME:KEY=VALUE,KEY=VALUE`` (``adam:learning_rate=0.1,beta1=0.8``).  The
functions are written once with arithmetic operators, so the same code
builds the PyTensor loss (differentiated by PyTensor, optimized by the
rule's symbolic updates) and evaluates NumPy grids for the plot.
"""

import argparse
import math
import os
import sys
import time
from collections import OrderedDict

import numpy as np
from tqdm import tqdm


# ---------------------------------------------------------------------------
# test functions


class Problem:
    """A 2-D test function with its starting point, minima, plot window and step settings."""

    def __init__(self, name, formula, function, start, minima, window, learning_rate, steps, log_levels):
        self.name = name
        self.formula = formula
        self.function = function
        self.start = start
        self.minima = minima
        self.window = window
        self.learning_rate = learning_rate
        self.steps = steps
        self.log_levels = log_levels

    @property
    def minimum_value(self):
        return min(float(self.function(*m)) for m in self.minima)

    def distance_to_minimum(self, point):
        return min(math.hypot(point[0] - m[0], point[1] - m[1]) for m in self.minima)


PROBLEMS = OrderedDict(
    (p.name, p)
    for p in [
        Problem("quadratic", "0.1 x1^2 + 2 x2^2 (d2l's ill-conditioned bowl)",
                lambda x1, x2: 0.1 * x1**2 + 2 * x2**2,
                (-5.0, -2.0), [(0.0, 0.0)], (-5.5, 1.0, -3.0, 1.0), 0.4, 20, False),
        Problem("rosenbrock", "(1 - x1)^2 + 100 (x2 - x1^2)^2 (curved valley)",
                lambda x1, x2: (1 - x1) ** 2 + 100 * (x2 - x1**2) ** 2,
                (-1.2, 1.0), [(1.0, 1.0)], (-2.0, 2.0, -1.0, 3.0), 0.001, 3000, True),
        Problem("beale", "(1.5 - x1 + x1 x2)^2 + (2.25 - x1 + x1 x2^2)^2 + (2.625 - x1 + x1 x2^3)^2",
                lambda x1, x2: (1.5 - x1 + x1 * x2) ** 2 + (2.25 - x1 + x1 * x2**2) ** 2
                + (2.625 - x1 + x1 * x2**3) ** 2,
                (1.0, 1.5), [(3.0, 0.5)], (-1.0, 4.5, -1.5, 2.0), 0.01, 1000, True),
        Problem("himmelblau", "(x1^2 + x2 - 11)^2 + (x1 + x2^2 - 7)^2 (four minima)",
                lambda x1, x2: (x1**2 + x2 - 11) ** 2 + (x1 + x2**2 - 7) ** 2,
                (0.0, 0.0), [(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)],
                (-5.0, 5.0, -5.0, 5.0), 0.01, 500, True),
        Problem("booth", "(x1 + 2 x2 - 7)^2 + (2 x1 + x2 - 5)^2",
                lambda x1, x2: (x1 + 2 * x2 - 7) ** 2 + (2 * x1 + x2 - 5) ** 2,
                (-4.0, -4.0), [(1.0, 3.0)], (-5.0, 5.0, -5.0, 5.0), 0.05, 200, True),
    ]
)


# ---------------------------------------------------------------------------
# running a rule


class RuleSpec:
    """A rule name and its hyperparameters, parsed from ``NAME[:KEY=VALUE,...]``."""

    def __init__(self, text):
        from .registry import RULES

        name, _, options = text.partition(":")
        if name not in RULES:
            raise argparse.ArgumentTypeError("unknown rule %r; 'symupdates list' shows the rules" % name)
        self.name = name
        self.hyperparameters = OrderedDict()
        for item in filter(None, options.split(",")):
            key, sep, value = item.partition("=")
            if not sep:
                raise argparse.ArgumentTypeError("%r: expected KEY=VALUE after the rule name, got %r" % (text, item))
            self.hyperparameters[key.strip()] = _number(value.strip(), text)
        try:
            # names and numbers are checked now; the learning rate comes later (--lr or the problem's)
            rule = RULES[name](**dict({"learning_rate": 0.1}, **self.hyperparameters))
            if self.hyperparameters:
                # switches and choices are checked when updates are built: build those of a
                # stand-in parameter (a matrix: every rule takes one)
                import pytensor

                rule([np.zeros((2, 2))], [pytensor.shared(np.zeros((2, 2)), name="x")])
        except (TypeError, ValueError) as error:
            message = str(error)
            raise argparse.ArgumentTypeError(message if message.startswith(name + ":") else "%s: %s" % (name, message))
        self.text = text

    def label(self, learning_rate):
        items = [("lr", learning_rate)] + [(k, v) for k, v in self.hyperparameters.items() if k != "learning_rate"]
        return "%s(%s)" % (self.name, ", ".join("%s=%g" % (k, v) if isinstance(v, float) else "%s=%s" % (k, v)
                                                 for k, v in items))


def _number(text, spec):
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    if text in ("True", "False"):
        return text == "True"
    return text  # a string option, e.g. epsilon_placement=outside_sqrt


def run_rule(problem, spec, steps, learning_rate, start=None, mode=None, progress=None):
    """Optimize ``problem`` with ``spec``; returns a dict with the trajectory and its summary."""
    import pytensor

    from .registry import RULES

    start = problem.start if start is None else start
    hyper = dict(spec.hyperparameters)
    learning_rate = hyper.pop("learning_rate", learning_rate)
    x = pytensor.shared(np.array(start, dtype="float64"), name="x", shape=(2,))
    loss = problem.function(x[0], x[1])
    updates = RULES[spec.name](loss, [x], learning_rate=learning_rate, **hyper)
    step = pytensor.function([], [], updates=updates, mode=mode)
    trajectory = [tuple(start)]
    status = "ok"
    seconds = 0.0
    for i in range(steps):
        began = time.perf_counter()
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                step()
        except (OverflowError, FloatingPointError):  # the Python linker raises where NumPy gives inf
            status = "diverged"
            break
        seconds += time.perf_counter() - began
        point = x.get_value()
        if not np.all(np.isfinite(point)):
            status = "diverged"
            break
        trajectory.append(tuple(float(v) for v in point))
        if progress is not None:
            progress.update()
    with np.errstate(over="ignore", invalid="ignore"):
        # NumPy floats overflow to inf where Python floats raise
        values = [float(problem.function(*np.asarray(p, dtype="float64"))) for p in trajectory]
    if not np.isfinite(values[-1]):
        status = "diverged"
    return {"spec": spec, "label": spec.label(learning_rate), "trajectory": trajectory, "values": values,
            "status": status, "seconds": seconds}


def steps_to_tolerance(problem, result, tolerance):
    for i, value in enumerate(result["values"]):
        if value - problem.minimum_value <= tolerance:
            return i
    return None


# ---------------------------------------------------------------------------
# plotting


def plot_traces(problem, results, output):
    """The contour lines of ``problem`` and every trajectory, saved to ``output``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_lo, x_hi, y_lo, y_hi = problem.window
    points = [p for r in results for p in r["trajectory"]]
    if points:  # widen the window to what the trajectories visit (within reason)
        xs, ys = zip(*points)
        x_lo, x_hi = max(min(x_lo, min(xs)), x_lo - 5), min(max(x_hi, max(xs)), x_hi + 5)
        y_lo, y_hi = max(min(y_lo, min(ys)), y_lo - 5), min(max(y_hi, max(ys)), y_hi + 5)
    grid_x, grid_y = np.meshgrid(np.linspace(x_lo, x_hi, 300), np.linspace(y_lo, y_hi, 300))
    grid_f = problem.function(grid_x, grid_y)
    fig, ax = plt.subplots(figsize=(8, 6.5))
    if problem.log_levels:
        low = max(float(grid_f.min()) - problem.minimum_value, 1e-3)
        levels = problem.minimum_value + np.geomspace(low, float(np.percentile(grid_f, 95)) - problem.minimum_value, 18)
    else:
        levels = 15
    contours = ax.contour(grid_x, grid_y, grid_f, levels=levels, cmap="Blues_r", linewidths=0.8)
    ax.clabel(contours, contours.levels[::3], fontsize=7, fmt="%.3g")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, result in enumerate(results):
        xs, ys = zip(*result["trajectory"])
        marker = "o" if len(xs) <= 60 else None
        # earlier rules drawn wider, so that trajectories that coincide stay visible
        ax.plot(xs, ys, "-", marker=marker, markersize=3, linewidth=max(3.0 - 0.5 * i, 1.0), alpha=0.85,
                color=colors[i % len(colors)],
                label="%s: f = %.3g%s" % (result["label"], result["values"][-1],
                                           "" if result["status"] == "ok" else " (%s)" % result["status"]))
    ax.plot([problem.start[0]], [problem.start[1]], "s", color="black", markersize=7, label="start")
    mx, my = zip(*problem.minima)
    ax.plot(mx, my, "*", color="red", markersize=14, linestyle="none", label="minimum")
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    steps = max(len(r["trajectory"]) - 1 for r in results) if results else 0
    ax.set_title("%s: %s\n%d steps" % (problem.name, problem.formula, steps), fontsize=9)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(output, dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------------------
# the command line


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        """One line on standard error and exit status 2."""
        self.exit(2, "%s: error: %s (see %s --help)\n" % (self.prog, message, self.prog))


def _add_common(parser):
    parser.add_argument("--problem", choices=list(PROBLEMS), default="quadratic",
                        help="the test function (default quadratic); see 'list'")
    parser.add_argument("--rules", nargs="+", metavar="RULE", default=None,
                        help="rules as NAME or NAME:KEY=VALUE,... (e.g. adam:learning_rate=0.1,beta1=0.8); "
                        "'all' for every rule")
    parser.add_argument("--steps", type=_step_count, default=None,
                        help="number of steps, at most %d (default: the problem's, see 'list')" % MAX_STEPS)
    parser.add_argument("--lr", type=_learning_rate, default=None,
                        help="learning rate of every rule not given one in its spec (default: the problem's)")
    parser.add_argument("--start", type=float, nargs=2, metavar=("X1", "X2"), default=None,
                        help="starting point (default: the problem's)")
    parser.add_argument("--mode", default="FAST_COMPILE",
                        help="PyTensor compilation mode (default FAST_COMPILE: each rule compiles a tiny "
                        "function, so compiling fast matters most)")
    parser.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")


#: Every step of every rule is kept for the plot and the table; beyond this
#: the run takes hours and the trajectories gigabytes.
MAX_STEPS = 100_000


def _step_count(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("invalid int value: %r" % text) from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer, got %s" % text)
    if value > MAX_STEPS:
        raise argparse.ArgumentTypeError(
            "at most %d steps (each step of each rule is kept for the plot and the table), got %s"
            % (MAX_STEPS, text)
        )
    return value


def _learning_rate(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("invalid float value: %r" % text) from None
    if not (np.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError("the learning rate must be a finite number >= 0, got %s" % text)
    return value


def build_parser():
    parser = _Parser(
        prog="symupdates",
        description="Trace and compare symupdates' update rules on classic 2-D test functions.",
        epilog="Examples: symupdates trace --problem rosenbrock --rules adam rmsprop:learning_rate=0.01 "
        "--output rosenbrock.png ; symupdates compare --problem beale --rules all",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    trace = commands.add_parser("trace", help="draw the contour plot of a function with the rules' trajectories",
                                description="Run each rule from the starting point and save the contour plot "
                                "of the function with every trajectory.")
    _add_common(trace)
    trace.add_argument("--output", "-o", default=None, help="the PNG to write (default: <problem>_trace.png)")
    compare = commands.add_parser("compare", help="print a table comparing rules on a function",
                                  description="Run each rule and print a table: final value, distance to the "
                                  "nearest minimum, steps to reach the tolerance, time.")
    _add_common(compare)
    compare.add_argument("--tolerance", type=float, default=1e-3,
                         help="count the steps until f - f(minimum) <= TOLERANCE (default 1e-3)")
    compare.add_argument("--output", "-o", default=None, help="also write the contour plot to this PNG")
    commands.add_parser("list", help="list the test functions and the rules",
                        description="List the test functions (with their defaults) and the rules.")
    return parser


def _specs(parser, texts, default):
    from .registry import RULES

    texts = texts or default
    if texts == ["all"]:
        texts = list(RULES)
    specs = []
    for text in texts:
        try:
            specs.append(RuleSpec(text))
        except argparse.ArgumentTypeError as error:
            parser.error(str(error))
    return specs


def _run_all(args, problem, specs, out):
    steps = args.steps or problem.steps
    learning_rate = problem.learning_rate if args.lr is None else args.lr
    start = tuple(args.start) if args.start else None
    total = steps * len(specs)
    bar = tqdm(total=total, desc=problem.name, file=sys.stderr, disable=args.no_progress or total < 1000)
    results = []
    for spec in specs:
        try:
            results.append(run_rule(problem, spec, steps, learning_rate, start, args.mode, bar))
        except Exception as error:  # noqa: BLE001 - report the rule that cannot run here, go on with the rest
            results.append({"spec": spec, "label": spec.label(learning_rate), "trajectory": [], "values": [],
                            "status": "error: %s" % str(error).splitlines()[0], "seconds": 0.0})
        bar.update(len(results) * steps - bar.n)  # a rule that failed early still counts its steps
    bar.close()
    return results


def command_trace(args, parser, out):
    problem = PROBLEMS[args.problem]
    specs = _specs(parser, args.rules, ["sgd", "momentum", "adagrad", "rmsprop", "adam"])
    results = _run_all(args, problem, specs, out)
    output = args.output or "%s_trace.png" % problem.name
    plotted = [r for r in results if r["trajectory"]]
    for r in results:
        if r["trajectory"]:
            x1, x2 = r["trajectory"][-1]
            print("%-50s after %4d steps: x1 %f, x2 %f, f %.6g%s" % (
                r["label"], len(r["trajectory"]) - 1, x1, x2, r["values"][-1],
                "" if r["status"] == "ok" else " (%s)" % r["status"]), file=out)
        else:
            print("%-50s %s" % (r["label"], r["status"]), file=out)
    plot_traces(problem, plotted, output)
    print("plot saved to %s" % output, file=out)
    return 0


def command_compare(args, parser, out):
    problem = PROBLEMS[args.problem]
    specs = _specs(parser, args.rules, ["all"])
    results = _run_all(args, problem, specs, out)
    width = max([len(r["label"]) for r in results] + [4])
    row = "%-" + str(width) + "s %12s %12s %12s %6s %9s  %s"
    header = row % ("rule", "final f", "distance", "steps to tol", "steps", "time ms", "status")
    print("%s from %s, tolerance %g" % (problem.name, args.start and tuple(args.start) or problem.start,
                                         args.tolerance), file=out)
    print(header, file=out)
    print("-" * len(header), file=out)
    for r in results:
        if r["values"]:
            reached = steps_to_tolerance(problem, r, args.tolerance)
            print(row % (r["label"], "%.6g" % r["values"][-1],
                         "%.3g" % problem.distance_to_minimum(r["trajectory"][-1]),
                         "-" if reached is None else reached, len(r["trajectory"]) - 1,
                         "%.1f" % (1000 * r["seconds"]), r["status"]), file=out)
        else:
            print(row % (r["label"], "-", "-", "-", 0, "-", r["status"]), file=out)
    if args.output:
        plot_traces(problem, [r for r in results if r["trajectory"]], args.output)
        print("plot saved to %s" % args.output, file=out)
    return 0


def command_list(args, parser, out):
    from .registry import RULES

    print("Test functions (name: formula; start, minimum, default learning rate and steps):", file=out)
    for p in PROBLEMS.values():
        print("  %-11s %s" % (p.name, p.formula), file=out)
        print("  %-11s start %s, minimum %s, lr %g, %d steps" % ("", p.start, p.minima[0], p.learning_rate, p.steps),
              file=out)
    print("Rules:", file=out)
    print("  " + ", ".join(RULES), file=out)
    return 0


def main(argv=None, out=None):
    """Run the command line; returns the exit status."""
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "output", None):
        directory = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(directory):
            parser.error("cannot write %s: no directory %s" % (args.output, directory))
    command = {"trace": command_trace, "compare": command_compare, "list": command_list}[args.command]
    return command(args, parser, out)
