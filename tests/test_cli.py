"""The command line: python -m symupdates trace / compare / list."""

import contextlib
import io
import os
import subprocess
import sys

import numpy as np
import pytest

from symupdates import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*argv):
    out = io.StringIO()
    status = cli.main(list(argv), out=out)
    return status, out.getvalue()


def test_module_runs_as_a_program():
    result = subprocess.run([sys.executable, "-m", "symupdates", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0
    for command in ("trace", "compare", "list"):
        assert command in result.stdout
    # bad arguments from the console: exit status 2, one line
    result = subprocess.run([sys.executable, "-m", "symupdates", "trace", "--lr", "x"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "invalid float value" in result.stderr


@pytest.mark.parametrize("command", ["trace", "compare"])
def test_subcommand_help_explains_every_option(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    parser = cli.build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]
    for action in sub._actions:
        assert action.help, "option %s has no help" % action.option_strings
        for option in action.option_strings:
            assert option in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["trace", "--rules", "nope"], "unknown rule 'nope'"),
        (["trace", "--problem", "nowhere"], "invalid choice"),
        (["trace", "--steps", "0"], "positive integer"),
        (["trace", "--steps", "many"], "invalid"),
        (["compare", "--rules", "adam:beta1"], "expected KEY=VALUE"),
        (["compare", "--rules", "adam:bogus=1"], "bogus"),
        (["trace", "--output", "/no/such/dir/x.png"], "no directory"),
        (["frobnicate"], "invalid choice"),
        # bad hyperparameter values, found when the spec is read (issue 12)
        (["compare", "--rules", "adam:beta1=abc"], "adam: beta1 must be a finite number in [0, 1), got 'abc'"),
        (["compare", "--rules", "adam:beta1=1.0"], "adam: invalid beta1 value 1.0"),
        (["compare", "--rules", "sgd", "momentum:momentum=-1"], "momentum: invalid momentum value -1"),
        (["trace", "--rules", "adam:learning_rate=nan"], "invalid learning_rate value nan"),
        (["compare", "--rules", "adam:epsilon_placement=bogus"], "epsilon_placement must be one of"),
        (["compare", "--rules", "adam:maximize=1"], "maximize must be True or False"),
        (["compare", "--lr", "-0.1"], "the learning rate must be a finite number >= 0"),
        (["compare", "--lr", "inf"], "the learning rate must be a finite number >= 0"),
        (["compare", "--steps", "100001"], "at most 100000 steps"),
        (["trace", "--steps", "10000000000"], "at most 100000 steps"),
        ([], "required"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert message in err and "error:" in err


def test_trace_writes_the_plot_and_reproduces_d2l(tmp_path):
    output = tmp_path / "quadratic.png"
    status, text = run("trace", "--rules", "adagrad", "sgd:learning_rate=0.1", "--output", str(output),
                       "--no-progress")
    assert status == 0
    lines = text.splitlines()
    # d2l's AdaGrad chapter, eta = 0.4 from (-5, -2): "epoch 20, x1 -2.382563, x2 -0.158591"
    assert "after   20 steps: x1 -2.382563, x2 -0.158591" in lines[0]
    # gradient descent on 0.1 x1^2 + 2 x2^2 with eta 0.1: x1 *= 1 - 0.1 * 0.2, x2 *= 1 - 0.1 * 4 at every step
    assert "x1 %f, x2 %f" % (-5 * 0.98**20, -2 * 0.6**20) in lines[1]
    assert lines[-1] == "plot saved to %s" % output
    import matplotlib.image

    image = matplotlib.image.imread(str(output))
    assert image.shape[0] > 300 and image.shape[1] > 300


def test_compare_prints_a_table_with_steps_to_tolerance():
    status, text = run("compare", "--problem", "booth", "--rules", "sgd:learning_rate=0.05",
                       "momentum:learning_rate=5.0", "--steps", "100", "--no-progress")
    assert status == 0
    lines = text.splitlines()
    assert lines[0] == "booth from (-4.0, -4.0), tolerance 0.001"
    assert lines[1].split() == ["rule", "final", "f", "distance", "steps", "to", "tol", "steps", "time", "ms", "status"]
    sgd = lines[3].split()
    assert sgd[0] == "sgd(lr=0.05)" and sgd[-1] == "ok"
    # booth is the quadratic |A x - b|^2 with A = [[1, 2], [2, 1]]: iterate plain gradient descent in NumPy
    A, b = np.array([[1.0, 2.0], [2.0, 1.0]]), np.array([7.0, 5.0])
    x = np.array([-4.0, -4.0])
    reached = None
    for step in range(101):
        f = float(np.sum((A @ x - b) ** 2))
        if reached is None and f <= 1e-3:
            reached = step
        if step < 100:
            x = x - 0.05 * 2 * A.T @ (A @ x - b)
    assert float(sgd[1]) == pytest.approx(f, rel=1e-5)
    assert int(sgd[3]) == reached
    diverged = lines[4].split()
    assert diverged[0] == "momentum(lr=5)" and diverged[-1] == "diverged"


def test_compare_all_rules_reports_each_rule():
    import symupdates

    status, text = run("compare", "--problem", "quadratic", "--steps", "3", "--no-progress")
    assert status == 0
    names = [line.split("(")[0] for line in text.splitlines()[3:]]
    assert names == list(symupdates.RULES)


def test_list_names_problems_and_rules():
    status, text = run("list")
    assert status == 0
    for name in cli.PROBLEMS:
        assert name in text
    assert "adam" in text


def test_problem_minima_are_minima():
    for problem in cli.PROBLEMS.values():
        for x1, x2 in problem.minima:
            value = problem.function(x1, x2)
            assert abs(value) < 1e-8, problem.name
            # a stationary point: central differences of the gradient vanish
            h = 1e-6
            gx = (problem.function(x1 + h, x2) - problem.function(x1 - h, x2)) / (2 * h)
            gy = (problem.function(x1, x2 + h) - problem.function(x1, x2 - h)) / (2 * h)
            assert abs(gx) < 1e-4 and abs(gy) < 1e-4, problem.name


# ---------------------------------------------------------------------------
# the progress bar


def test_progress_bar_is_tqdms():
    from tqdm import tqdm

    assert cli.tqdm is tqdm and not hasattr(cli, "ProgressBar")
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        status, text = run("compare", "--problem", "quadratic", "--rules", "sgd", "--steps", "1000")
    assert status == 0
    final = stderr.getvalue().replace("\r", "\n").splitlines()[-1]
    assert final.startswith("quadratic: 100%|") and "| 1000/1000 [" in final
