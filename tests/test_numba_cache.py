"""Numba mode: the engine's nodes are cached on disk under a key that is the same in every process.

Two fresh processes compile the same update function in one compile
directory: both compute the same cache keys, and the second loads the whole
graph's function from the cache instead of compiling it.  In Numba mode
every node holds one row and keeps its in-place updates, and rows of one
layout share one key (one compiled function).
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import json
    import numpy as np, pytensor, pytensor.tensor as pt, symupdates
    from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key
    from symupdates.engine import MultiElemwise

    shapes = [(3, 2), (2,), (4, 2), (5,)]
    params = [pytensor.shared(np.ones(s, "float32"), name="p%d" % i) for i, s in enumerate(shapes)]
    grads = [pt.tensor(dtype="float32", shape=(None,) * len(s)) for s in shapes]
    f = pytensor.function(grads, [], updates=symupdates.adam(grads, params), mode="NUMBA")
    f(*[np.full(s, 0.5, "float32") for s in shapes])
    nodes = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, MultiElemwise)]
    print("RESULT " + json.dumps({
        "keys": [numba_funcify_and_cache_key(n.op, node=n)[1] for n in nodes],
        "rows": [n.op.n_rows(n) for n in nodes],
        "in_place": [len(n.op.destroy_map) for n in nodes],
        "hits": sum(f.vm.jit_fn.stats.cache_hits.values()),
        "misses": sum(f.vm.jit_fn.stats.cache_misses.values()),
    }))
""")


def run_once(compiledir):
    flags = ",".join(filter(None, [os.environ.get("PYTENSOR_FLAGS"), "base_compiledir=%s" % compiledir]))
    completed = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600,
                               env=dict(os.environ, PYTHONWARNINGS="ignore", PYTENSOR_FLAGS=flags))
    assert completed.returncode == 0, completed.stderr[-2000:]
    line = [x for x in completed.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    pytest.importorskip("numba")
    compiledir = tmp_path_factory.mktemp("compiledir")  # empty: the first process compiles
    return run_once(compiledir), run_once(compiledir)


def test_both_processes_compute_the_same_keys(two_processes):
    first, second = two_processes
    assert first["keys"] and None not in first["keys"]
    assert first["keys"] == second["keys"]


def test_second_process_loads_the_graph_from_the_cache(two_processes):
    first, second = two_processes
    assert first["misses"] >= 1 and first["hits"] == 0
    assert second["hits"] >= 1 and second["misses"] == 0


def test_one_row_per_node_in_place_and_one_key_per_layout(two_processes):
    first, _ = two_processes
    assert first["rows"] == [1, 1, 1, 1]
    assert first["in_place"] == [3, 3, 3, 3]  # param, m and v of every row
    assert len(set(first["keys"])) == 1  # every row has the same layout: one function


@pytest.mark.parametrize("name", ["lamb", "lars"])
def test_chained_engine_nodes_are_split_too(name):
    """A rule whose engine nodes feed each other (moments, then the trust-ratio step) gets one row per node.

    The row nodes of the second node must read the row nodes of the first:
    built from the first node's outputs, they would bring it back beside
    its own rows, two destroyers of one state variable, and the split would
    be refused (PyTensor logs it and compiles the unsplit graph).
    """
    import numpy as np
    import pytensor
    import pytensor.tensor as pt

    import symupdates
    from symupdates.engine import MultiElemwise

    params = [pytensor.shared(np.ones(s), name="p%d" % i) for i, s in enumerate([(3,), (2, 3), (4,)])]
    loss = sum((p ** 2).sum() for p in params) + pt.scalar("x")
    f = pytensor.function([loss.owner.inputs[1]], loss, updates=symupdates.RULES[name](loss, params, learning_rate=0.1),
                          mode="NUMBA")
    nodes = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, MultiElemwise)]
    assert len(nodes) >= 2 * len(params)
    assert all(n.op.n_rows(n) == 1 for n in nodes)
