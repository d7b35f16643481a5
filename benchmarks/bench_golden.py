"""Time the float API of the golden model on large inputs.

Run with ``python benchmarks/bench_golden.py [--repeats N]``. Prints the median and the range of
the wall-clock times (``time.perf_counter``) over the repetitions, and the machine they ran on.
"""

import argparse
import functools
import os
import platform
import statistics
import time

import numpy as np

from homeo_hw.golden import NetworkRegulator, SleepConsolidation


def time_call(function, repeats):
    """Call ``function`` once to warm up, then ``repeats`` times; return the times in seconds."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def report(label, times):
    print(f"{label:<58} median {statistics.median(times) * 1e3:8.1f} ms   "
          f"min {min(times) * 1e3:8.1f} ms   max {max(times) * 1e3:8.1f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7,
                        help="timed repetitions per case, after one warm-up call (default 7)")
    parser.add_argument("--neurons", type=int, default=10**6,
                        help="population size for regulate() (default 1000000)")
    args = parser.parse_args()

    print(f"numpy {np.__version__}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
          f"{args.repeats} repetitions")

    rng = np.random.default_rng(0)
    n = args.neurons
    rates = (rng.random(n) * 0.3).astype(np.float32)
    thresholds = np.ones(n, dtype=np.float32)
    weights = (rng.standard_normal((16, n)) * 0.1).astype(np.float32)

    for rule in ("proportional", "deadband"):
        regulate = NetworkRegulator(update_rule=rule).regulate
        report(f"regulate, {n} neurons, {rule}",
               time_call(functools.partial(regulate, rates, thresholds, 0.001), args.repeats))
    regulator = NetworkRegulator()
    report(f"regulate, {n} neurons, weights (16, {n}) float32",
           time_call(lambda: regulator.regulate(rates, thresholds, 0.001, weights=weights),
                     args.repeats))

    matrix = rng.standard_normal((1024, 1024))
    sleep = SleepConsolidation()
    report("SleepConsolidation.apply, (1024, 1024) float64",
           time_call(lambda: sleep.apply(matrix), args.repeats))
    matrix32 = matrix.astype(np.float32)
    report("SleepConsolidation.apply, (1024, 1024) float32",
           time_call(lambda: sleep.apply(matrix32), args.repeats))


if __name__ == "__main__":
    main()
