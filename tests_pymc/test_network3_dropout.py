"""examples/network3.py with dropout on PyMC's PyTensor line (2.38).

Its dropout once used PyTensor 3's random API only and died with
``NameError: RandomStream`` on 2.38.  The data is a small synthetic
``mnist.pkl.gz`` (the PyMC stage has no scikit-learn for the bundled digits).
"""

import gzip
import os
import pickle
import subprocess
import sys

import numpy as np
import pytensor
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("architecture", ["conv", "mlp"])
def test_network3_trains_with_dropout(tmp_path, architecture):
    assert pytensor.__version__.startswith("2.38.")
    rng = np.random.RandomState(0)

    def split(n):
        return rng.rand(n, 784).astype(np.float32), rng.randint(10, size=n).astype(np.int64)

    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump((split(40), split(20), split(20)), f, protocol=2)
    env = dict(os.environ, PYTENSOR_FLAGS="mode=FAST_COMPILE")
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "network3.py"), "--mnist", str(path),
         "--architecture", architecture, "--hidden", "8", "--epochs", "2", "--dropout", "0.5", "--no-progress"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert "a %s network on MNIST" % architecture in lines[0]
    assert [line.split(":")[0] for line in lines if line.startswith("Epoch ")] == ["Epoch 0", "Epoch 1"]
    assert "Finished training network." in lines
