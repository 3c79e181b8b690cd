"""Every example runs, with small settings, and prints what its seed document printed.

Each example runs in a subprocess as a user would start it.  PyTensor's
FAST_COMPILE mode keeps compilation short for the small settings; the main
job's full default run (network3 on the bundled digits) runs once in
PyTensor's default mode, as README.rst's command does.
"""

import gzip
import os
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
sys.path.insert(0, EXAMPLES)


def run_example(script, *args, fast=True, cwd=None):
    env = dict(os.environ)
    flags = [f for f in env.get("PYTENSOR_FLAGS", "").split(",") if f and not f.startswith("mode=")]
    if fast:
        flags.append("mode=FAST_COMPILE")
    env["PYTENSOR_FLAGS"] = ",".join(flags)
    result = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, script), *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def assert_png(path, min_width=400):
    import matplotlib.image

    assert os.path.getsize(path) > 10000
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[1] >= min_width
    # not a blank canvas: a plot has many distinct colours
    assert len(np.unique(image.reshape(-1, image.shape[2])[:, :3], axis=0)) > 20


# ---------------------------------------------------------------------------
# seed 002: d2l's 2-D AdaGrad


def test_adagrad_2d_prints_the_chapter_numbers_and_saves_the_plot(tmp_path):
    output = tmp_path / "trace.png"
    result = run_example("adagrad_2d.py", "--output", str(output))
    lines = result.stdout.splitlines()
    # the lines printed in the chapter (eta = 0.4, then eta = 2)
    assert lines[0] == "epoch 20, x1 -2.382563, x2 -0.158591"
    assert lines[1] == "epoch 20, x1 -0.002295, x2 -0.000000"
    assert_png(output)


# ---------------------------------------------------------------------------
# seed 000: the Lasagne MLP with AdaGrad


def numpy_lasagne_adagrad(epochs, seed=0, learning_rate=0.01, epsilon=1e-6):
    """The seed program in NumPy: Lasagne's initialisation, forward, backward and AdaGrad by hand."""
    np.random.seed(seed)
    limit1, limit2 = np.sqrt(6.0 / (784 + 50)), np.sqrt(6.0 / (50 + 10))
    params = [np.random.uniform(-limit1, limit1, (784, 50)), np.zeros(50),
              np.random.uniform(-limit2, limit2, (50, 10)), np.zeros(10)]
    X = np.random.randn(100, 784)
    y = np.random.randint(10, size=100)
    accus = [np.zeros_like(p) for p in params]
    losses = []
    for _ in range(epochs):
        W1, b1, W2, b2 = params
        h = np.maximum(X @ W1 + b1, 0)
        z = h @ W2 + b2
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        losses.append(-np.mean(np.log(p[np.arange(100), y])))
        dz = p.copy()
        dz[np.arange(100), y] -= 1
        dz /= 100
        dh = (dz @ W2.T) * (h > 0)
        grads = [X.T @ dh, dh.sum(0), h.T @ dz, dz.sum(0)]
        for i, g in enumerate(grads):
            accus[i] += g**2
            params[i] = params[i] - learning_rate * g / np.sqrt(accus[i] + epsilon)
    return losses


def test_lasagne_adagrad_losses_match_a_numpy_transcription():
    result = run_example("lasagne_adagrad.py", "--epochs", "3")
    lines = result.stdout.splitlines()
    expected = ["Epoch %d: Loss = %.5f" % (k + 1, loss) for k, loss in enumerate(numpy_lasagne_adagrad(3))]
    assert lines == expected


# ---------------------------------------------------------------------------
# seed 001: network3 (the main job)

EPOCH_LINE = re.compile(r"^Epoch (\d+): validation accuracy (\d+\.\d\d)%$")
TEST_LINE = re.compile(r"^The corresponding test accuracy is (\d+\.\d\d)%$")
BEST_LINE = re.compile(r"^Best validation accuracy of (\d+\.\d\d)% obtained at iteration (\d+)$")
FINAL_LINE = re.compile(r"^Corresponding test accuracy of (\d+\.\d\d)%$")


def check_network3_output(stdout, epochs):
    lines = stdout.splitlines()
    epoch_lines = [m for m in map(EPOCH_LINE.match, lines) if m]
    assert [int(m.group(1)) for m in epoch_lines] == list(range(epochs))
    assert lines[1] == "Training mini-batch number 0"
    assert lines[2].startswith("Epoch 0: validation accuracy")
    assert lines[3] == "This is the best validation accuracy to date."
    assert TEST_LINE.match(lines[4])
    assert lines[-4] == "Finished training network."
    best = BEST_LINE.match(lines[-3])
    final = FINAL_LINE.match(lines[-2])
    assert best and final
    assert lines[-1].startswith("Total time")
    return float(best.group(1)), float(final.group(1))


def test_network3_small_conv_run_prints_network3_lines_and_a_progress_bar():
    result = run_example("network3.py", "--epochs", "2", "--limit", "100", "--hidden", "8")
    check_network3_output(result.stdout, 2)
    assert "a conv network on scikit-learn digits: 100 training, 20 validation, 20 test" in result.stdout
    # tqdm's bar on standard error, one per epoch, each finishing at 10/10
    finished = [line for line in result.stderr.replace("\r", "\n").splitlines() if "| 10/10 [" in line]
    assert sorted({line.split(":")[0] for line in finished}) == ["epoch 0", "epoch 1"]
    assert all("100%|" in line for line in finished)


def test_network3_reads_mnist_pkl_gz(tmp_path):
    rng = np.random.RandomState(0)

    def split(n):
        return (rng.rand(n, 784).astype(np.float32), rng.randint(10, size=n).astype(np.int64))

    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump((split(40), split(20), split(20)), f, protocol=2)
    result = run_example("network3.py", "--mnist", str(path), "--architecture", "mlp", "--hidden", "8",
                         "--epochs", "1", "--rule", "adam", "--eta", "0.01", "--dropout", "0.5", "--no-progress")
    check_network3_output(result.stdout, 1)
    assert "mlp network on MNIST (%s): 40 training, 20 validation, 20 test images; rule adam" % path in result.stdout
    assert "epoch 0" not in result.stderr  # --no-progress
    assert "Warning" not in result.stderr  # dropout's random API is current on PyTensor 3


def test_network3_rule_selection_builds_the_named_rule():
    import network3

    np.random.seed(0)
    net = network3.build_network(8, 5, "mlp", hidden=4)
    cost = net.layers[-1].cost(net)
    names = lambda updates: sorted(v.name for v in updates if v.name and "." in v.name)  # noqa: E731
    assert names(net.updates(cost, 0.1, momentum=0.5)) == ["b.momentum.velocity"] * 2 + ["w.momentum.velocity"] * 2
    adam = names(net.updates(cost, 0.1, rule="adam", rule_options={"beta1": 0.8}))
    assert "adam.t" in adam and "w.adam.m" in adam
    assert not names(net.updates(cost, 0.1))  # plain SGD, as the original: no state
    with pytest.raises(ValueError, match="unknown rule"):
        net.updates(cost, 0.1, rule="adamm")
    with pytest.raises(ValueError, match="momentum= goes with"):
        net.updates(cost, 0.1, momentum=0.9, rule="adam")


def test_network3_momentum_update_is_the_seed_formula():
    """velocity = mu * velocity - eta * grad; param = param + velocity (the seed's question)."""
    import pytensor

    import network3

    np.random.seed(1)
    net = network3.build_network(8, 4, "mlp", hidden=3)
    cost = net.layers[-1].cost(net)
    grads = pytensor.grad(cost, net.params)
    updates = net.updates(cost, 0.1, momentum=0.5)
    x = np.random.rand(4, 64)
    y = np.array([1, 2, 3, 4], dtype="int32")
    grad_fn = pytensor.function([net.x, net.y], grads)
    step = pytensor.function([net.x, net.y], [], updates=updates)
    velocities = [np.zeros_like(p.get_value()) for p in net.params]
    for _ in range(3):
        values = [p.get_value() for p in net.params]
        gs = grad_fn(x, y)
        step(x, y)
        for i, (value, g) in enumerate(zip(values, gs)):
            velocities[i] = 0.5 * velocities[i] - 0.1 * g
            np.testing.assert_allclose(net.params[i].get_value(), value + velocities[i], rtol=1e-12, atol=1e-15)


def test_network3_bad_arguments_exit_2(capsys):
    import network3

    for argv, message in [(["--rule", "nope"], "unknown rule 'nope'"),
                          (["--rule", "adam", "--momentum", "0.9"], "--momentum goes with"),
                          (["--rule-option", "beta1"], "expected KEY=VALUE")]:
        with pytest.raises(SystemExit) as exit_info:
            network3.main(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_main_job_reaches_95_percent_on_the_bundled_digits():
    """The README's main job, default settings, PyTensor's default mode."""
    result = run_example("network3.py", "--no-progress", fast=False)
    best, test_accuracy = check_network3_output(result.stdout, 10)
    assert test_accuracy >= 95.0, result.stdout


# ---------------------------------------------------------------------------
# seed 003: the optimizer zoo


def seed_sgd_linear_regression(n_iterations):
    """The seed's own SGD program (one random sample per step, eta 0.1), returning the full-data MSE."""
    np.random.seed(0)
    X = 2 * np.random.rand(100, 1)
    y = 4 + 3 * X + np.random.randn(100, 1)
    X_b = np.c_[np.ones((100, 1)), X]
    theta = np.random.randn(2, 1)
    for _ in range(n_iterations):
        i = np.random.randint(100)
        xi, yi = X_b[i:i + 1], y[i:i + 1]
        theta = theta - 0.1 * 2 * xi.T.dot(xi.dot(theta) - yi)
    return float(np.mean((X_b.dot(theta) - y) ** 2))


def test_optimizer_zoo_table_and_plot(tmp_path):
    import symupdates

    output = tmp_path / "zoo.png"
    result = run_example("optimizer_zoo.py", "--steps-scale", "0.05", "--output", str(output))
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["problem", "optimizer", "rule", "final", "loss", "best", "loss", "steps", "time", "ms"]
    rows = [line for line in lines[2:] if line.startswith(("linear regression", "MLP 10-5-1"))]
    names = ["SGD", "Adagrad", "Adadelta", "Adam", "AdaMax", "Nadam", "Momentum", "RMSprop"]
    expected = [n for n in names if n != "Nadam" or "nadam" in symupdates.RULES]
    assert [row.split()[2] for row in rows if row.startswith("linear")] == expected
    assert [row.split()[2] for row in rows if row.startswith("MLP")] == expected
    for row in rows:
        fields = row.split()
        final, best, steps = float(fields[-4]), float(fields[-3]), int(fields[-2])
        assert np.isfinite(final) and best <= final
        assert steps == (50 if row.startswith("linear") else 5)
    sgd = next(row for row in rows if row.startswith("linear regression  SGD"))
    assert float(sgd.split()[-4]) == pytest.approx(seed_sgd_linear_regression(50), rel=1e-5)
    assert lines[-1] == "plot saved to %s" % output
    assert_png(output)


# ---------------------------------------------------------------------------
# seed 004: hand-computed NumPy gradients on the eager front end


class SeedRMSpropGraves:
    """The seed document's class (plain RMSprop), as it is written there."""

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-8):
        self.learning_rate, self.rho, self.epsilon, self.cache = learning_rate, rho, epsilon, None

    def update(self, params, grads):
        if self.cache is None:
            self.cache = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params.keys():
            self.cache[key] = self.rho * self.cache[key] + (1 - self.rho) * grads[key] * grads[key]
            params[key] -= self.learning_rate * grads[key] / np.sqrt(self.cache[key] + self.epsilon)


class GravesNumpy:
    """Graves (2013) eqs. 38-41, transcribed: n, gbar, delta; param += delta."""

    def __init__(self, learning_rate, rho, momentum, epsilon):
        self.lr, self.rho, self.momentum, self.eps, self.state = learning_rate, rho, momentum, epsilon, {}

    def update(self, params, grads):
        for key, g in grads.items():
            n, gbar, delta = self.state.get(key, (0.0, 0.0, 0.0))
            n = self.rho * n + (1 - self.rho) * g**2
            gbar = self.rho * gbar + (1 - self.rho) * g
            delta = self.momentum * delta - self.lr * g / np.sqrt(n - gbar**2 + self.eps)
            self.state[key] = (n, gbar, delta)
            params[key] += delta


def seed_loop(optimizer, epochs):
    X = np.array([1, 2, 3, 4, 5])
    Y = np.array([2, 4, 6, 8, 10])
    params = {"W": 0.0, "b": 0.0}
    logged = []
    for epoch in range(epochs):
        Y_pred = params["W"] * X + params["b"]
        loss = np.mean((Y_pred - Y) ** 2)
        grads = {"W": np.mean(2 * (Y_pred - Y) * X), "b": np.mean(2 * (Y_pred - Y))}
        optimizer.update(params, grads)
        if epoch % 10 == 0:
            logged.append((epoch + 1, "%.4f" % loss, float(params["W"]), float(params["b"])))
    return logged


LOG_LINE = re.compile(r"^Epoch (\d+): loss = (\d+\.\d{4}), W = (\S+), b = (\S+)$")


def _logged(lines):
    return [(int(m.group(1)), m.group(2), float(m.group(3)), float(m.group(4)))
            for m in map(LOG_LINE.match, lines) if m]


def _assert_same_log(got, want):
    assert [g[:2] for g in got] == [w[:2] for w in want]
    np.testing.assert_allclose([g[2:] for g in got], [w[2:] for w in want], rtol=1e-10, atol=1e-15)


def test_rmsprop_graves_numpy_seed_update_matches_the_seed_class():
    result = run_example("rmsprop_graves_numpy.py", "--rule", "seed", "--epochs", "31")
    _assert_same_log(_logged(result.stdout.splitlines()), seed_loop(SeedRMSpropGraves(), 31))
    # the seed's loop keeps Python floats in its dict: printed as floats, not arrays
    assert re.search(r"W = \d\.\d+, b = ", result.stdout) and "array" not in result.stdout


def test_rmsprop_graves_numpy_graves_update_matches_the_paper():
    result = run_example("rmsprop_graves_numpy.py", "--rule", "graves", "--epochs", "31")
    want = seed_loop(GravesNumpy(learning_rate=0.001, rho=0.9, momentum=0.9, epsilon=1e-4), 31)
    _assert_same_log(_logged(result.stdout.splitlines()), want)


def test_network3_in_process_sgd_and_predictions(capsys):
    """SGD from Python, as the book's session does, then the test-set predictions."""
    import network3

    np.random.seed(0)
    splits = network3.load_digits(validation_size=20, test_size=20)
    training, validation, test = [network3.shared((x[:n], y[:n])) for (x, y), n in zip(splits, (60, 20, 20))]
    net = network3.build_network(8, 10, "mlp", hidden=6, p_dropout=0.2)
    best, test_accuracy = net.SGD(training, 2, 10, 0.1, validation, test, lmbda=0.1, momentum=0.9, progress=False)
    out = capsys.readouterr().out
    assert len([line for line in out.splitlines() if EPOCH_LINE.match(line)]) == 2 and 0.0 <= best <= 1.0
    predictions = net.test_mb_predictions(1)
    assert predictions.shape == (10,) and set(predictions) <= set(range(10))
    labels = splits[2][1][:20]
    accuracy = np.mean(np.concatenate([net.test_mb_predictions(0), predictions]) == labels)
    assert accuracy == pytest.approx(test_accuracy)


def test_network3_mnist_sized_conv_network_shapes():
    import pytensor

    import network3

    np.random.seed(0)
    net = network3.build_network(28, 2, "conv", hidden=4)
    assert net.layers[0].filter_shape == (20, 1, 5, 5)
    assert net.layers[1].n_in == 20 * 12 * 12
    forward = pytensor.function([net.x], net.output)
    out = forward(np.random.rand(2, 784))
    assert out.shape == (2, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)


def test_network3_dropout_masks_change_at_every_step():
    """Dropout draws a new mask per training step (the generator's update is applied)."""
    import pytensor

    import network3

    np.random.seed(0)
    layer = network3.FullyConnectedLayer(4, 200, activation_fn=network3.linear)
    net = network3.Network([layer, network3.SoftmaxLayer(200, 10, p_dropout=0.5)], 1)
    dropped = net.layers[1].inpt_dropout
    x = np.ones((1, 4))
    updates = [u for lay in net.layers for u in getattr(getattr(lay.inpt_dropout, "tag", None), "rng_updates", [])]
    sample = pytensor.function([net.x], dropped, updates=updates or None)
    first, second = sample(x), sample(x)
    zero_first = first == 0
    assert 60 < zero_first.sum() < 140  # about half of the 200 units dropped
    assert not np.array_equal(zero_first, second == 0)


# ---------------------------------------------------------------------------
# issue 13: differentiable optimization


def test_hypergradient_lr_learns_a_better_learning_rate(tmp_path):
    output = tmp_path / "hypergradient_lr.png"
    result = run_example("hypergradient_lr.py", "--outer-steps", "6", "--inner-steps", "3", "--output", str(output))
    losses = [float(v) for v in re.findall(r"validation loss ([0-9.]+)$", result.stdout, re.M)]
    rates = [float(v) for v in re.findall(r"outer step \d+: learning rate ([0-9.]+)", result.stdout)]
    assert len(losses) == len(rates) == 6
    assert rates[0] == 0.01 and rates[-1] > rates[0]  # descending the hypergradient raised it
    assert losses[-1] < losses[0]
    assert "learning rate: 0.01000 -> " in result.stdout
    assert_png(output)


def test_maml_sine_adaptation_lowers_the_few_shot_loss(tmp_path):
    output = tmp_path / "maml.png"
    result = run_example("maml_sine.py", "--meta-steps", "100", "--meta-batch", "5", "--eval-tasks", "10",
                         "--output", str(output))
    line = re.search(r"MAML initialisation: before ([0-9.]+), after 1 step ([0-9.]+), after 10 steps ([0-9.]+)",
                     result.stdout)
    before, after_1, after_10 = (float(v) for v in line.groups())
    assert after_1 < before and after_10 < before
    random_init = re.search(r"random initialisation: before ([0-9.]+)", result.stdout)
    assert before < float(random_init.group(1))  # meta-training helped before any adaptation
    assert_png(output)
