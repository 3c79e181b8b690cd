"""Timing and memory helpers shared by every workload of the benchmark.

Everything here runs inside a worker subprocess (see ``worker.py``), so the
process-wide peak memory (``ru_maxrss``) belongs to one measurement only.
"""

import os
import resource
import statistics
import time


def rss_mb():
    """The current resident set size of this process, in MB."""
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb():
    """The peak resident set size of this process so far, in MB (Linux: KB units)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss():
    """Start a new peak for :func:`peak_rss_since_reset_mb` (Linux >= 4.0: /proc/self/clear_refs)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss_since_reset_mb():
    """The peak resident set size since the last :func:`reset_peak_rss`, in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def timed_compile(compile_and_first_call):
    """Run ``compile_and_first_call()`` once; seconds and the memory it added.

    The peak is the process peak, so the baseline is taken right before:
    imports and data are excluded, the compiler's transient memory is not.
    """
    baseline = rss_mb()
    start = time.perf_counter()
    compile_and_first_call()
    seconds = time.perf_counter() - start
    return {"s": seconds, "peak_mb": max(0.0, peak_rss_mb() - baseline), "baseline_mb": baseline}


def time_step(step, samples, min_sample_s, warmup=3):
    """Milliseconds per call of ``step()``: the median over ``samples`` samples.

    Each sample times enough consecutive calls to last at least
    ``min_sample_s`` (one call for a 10M-parameter step, many for a step over
    small tensors), so timer resolution and scheduling jitter stay small next
    to the measured time.  ``step`` must block until its work is done.
    """
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    step()
    single = time.perf_counter() - start
    calls = max(1, int(min_sample_s / max(single, 1e-7)))
    per_call = []
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(calls):
            step()
        per_call.append((time.perf_counter() - start) / calls * 1e3)
    return {
        "ms": statistics.median(per_call),
        "ms_min": min(per_call),
        "ms_max": max(per_call),
        "calls_per_sample": calls,
        "samples": len(per_call),
    }
