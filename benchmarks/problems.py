"""The workloads' data, shared by our rules and every peer so all do the same work."""

import numpy as np

DTYPE = "float32"

#: Hyperparameters of each rule, identical for every implementation.
HYPER = {
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
    "momentum": {"learning_rate": 1e-2, "momentum": 0.9},
}

#: Bytes each rule must move per float32 parameter in one step: Adam reads
#: param, grad, m, v and writes param, m, v (7 x 4 bytes); SGD with momentum
#: reads param, grad, velocity and writes param, velocity (5 x 4 bytes).
BYTES_PER_PARAM = {"adam": 28, "momentum": 20}

#: Arrays read and written per parameter element, in the order above.
STREAMS = {"adam": (4, 3), "momentum": (3, 2)}


def compile_shapes(n_tensors, width=32):
    """Shapes of a many-tensor model: alternating weight matrices and bias vectors."""
    return [(width, width) if i % 2 == 0 else (width,) for i in range(n_tensors)]


def layout_shapes(n_tensors, size):
    """``n_tensors`` tensors of ``size`` elements each, as 2-d matrices when possible."""
    rows = 1
    for candidate in range(int(size**0.5), 0, -1):
        if size % candidate == 0:
            rows = candidate
            break
    return [(rows, size // rows)] * n_tensors


def arrays(shapes, seed=0, scale=1.0):
    """Reproducible float32 arrays of the given shapes."""
    rng = np.random.default_rng(seed)
    return [(scale * rng.standard_normal(s)).astype(DTYPE) for s in shapes]


def layout_label(n_tensors, size):
    """``"1 x 10M"``, ``"50 x 200k"``, ``"500 x 100"``."""
    def short(n):
        for unit, div in (("M", 10**6), ("k", 10**3)):
            if n >= div and n % div == 0:
                return "%d%s" % (n // div, unit)
        return str(n)

    return "%d x %s" % (n_tensors, short(size))
