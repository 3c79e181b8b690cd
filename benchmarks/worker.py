"""Run measurements in this (fresh) process and print one JSON result line per spec.

Usage: ``python worker.py '<JSON list of specs>'``.  ``run.py`` starts one
worker per measurement (or per group of measurements that cannot disturb
each other), so thread settings, compile caches held in memory and peak
memory never leak from one measurement into the next.
"""

import importlib
import json
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

MARKER = "BENCH-RESULT "

#: (kind, implementation) -> (module, function)
MEASUREMENTS = {
    ("prime", "symupdates"): ("ours", "prime"),
    ("compile", "symupdates"): ("ours", "compile_update_graph"),
    ("compile", "optax"): ("peers", "optax_compile"),
    ("train", "symupdates"): ("ours", "compile_training"),
    ("step", "symupdates"): ("ours", "step_time"),
    ("step", "torch"): ("peers", "torch_step"),
    ("step", "optax"): ("peers", "optax_step"),
    ("step", "numba_loop"): ("peers", "numba_loop_step"),
    ("step", "bandwidth"): ("peers", "bandwidth_step"),
}


def run(spec):
    """The result of one spec: its measurements and ``status`` "ok", "n/a" or "error"."""
    try:
        module, function = MEASUREMENTS[spec["kind"], spec["impl"]]
        result = getattr(importlib.import_module(module), function)(spec)
        result["status"] = "ok"
    except ImportError as error:  # a peer that is not installed
        result = {"status": "n/a", "reason": "not installed: %s" % error}
    except Exception as error:  # noqa: BLE001  (reported, never fatal to the run)
        traceback.print_exc()
        result = {"status": "error", "reason": ("%s: %s" % (type(error).__name__, error))[:300]}
    return result


def main(argv):
    for spec in json.loads(argv[1]):
        print(MARKER + json.dumps({"id": spec["id"], **run(spec)}), flush=True)


if __name__ == "__main__":
    main(sys.argv)
