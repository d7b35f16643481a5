"""Compare the cycle rate of Amaranth's simulator and of the CXXRTL back end on the Regulator.

Both simulators run the same design, the Regulator with its weight memory as
:func:`homeo_hw.simulate.simulate_regulator` builds it, on the same seeded random raster with one
timestep per cycle. Amaranth's simulator (pysim) gets a short run, timed without building the
simulator. CXXRTL gets a long run, timed end to end from Python: one
:meth:`~homeo_hw.cxxrtl.CxxrtlSimulator.run` call that records the window results. The same
stimulus then runs in calls of one window each, to show the cost per call. The time to generate
and compile the CXXRTL library is reported separately. By default it is measured in a fresh
cache folder.

Run from the repository root::

    python benchmarks/bench_sim.py --neurons 256
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from amaranth.sim import Simulator

from homeo_hw.config import RegulatorConfig
from homeo_hw.cxxrtl import CxxrtlSimulator, unavailable_reason
from homeo_hw.golden.regulator import IntegerRegulator
from homeo_hw.simulate import RegulatorBench


def make_raster(config, timesteps, seed):
    # Rates from silent to four times the target, so that every class of neuron occurs.
    rng = np.random.default_rng(seed)
    target = config.target_count / config.window
    rates = rng.uniform(0, 4 * target, config.n_neurons)
    return rng.random((timesteps, config.n_neurons)) < rates


def run_pysim(config, stimulus):
    """Run the bench in Amaranth's simulator.

    Returns the seconds that ``Simulator.run`` took, without building the simulator, and the
    thresholds at each ``window_done`` as integers.
    """
    bench = RegulatorBench(config)
    cycles = len(stimulus["spikes_valid"])
    spike_words = [int.from_bytes(row.tobytes(), "little")
                   for row in np.packbits(stimulus["spikes"], axis=1, bitorder="little")]
    thresholds = []

    async def testbench(ctx):
        for cycle in range(cycles):
            ctx.set(bench.spikes, spike_words[cycle])
            ctx.set(bench.spikes_valid, int(stimulus["spikes_valid"][cycle]))
            ctx.set(bench.mark, int(stimulus["mark"][cycle]))
            if ctx.get(bench.window_done):
                thresholds.append([ctx.get(threshold) for threshold in bench.thresholds])
            await ctx.tick()

    sim = Simulator(bench)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    start = time.perf_counter()
    sim.run()
    return time.perf_counter() - start, thresholds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--neurons", type=int, default=256, help="number of neurons")
    parser.add_argument("--pysim-timesteps", type=int, default=2_000,
                        help="timesteps (one per cycle) for Amaranth's simulator")
    parser.add_argument("--cxxrtl-timesteps", type=int, default=1_000_000,
                        help="timesteps (one per cycle) for CXXRTL")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="cache folder of compiled simulations; by default a fresh "
                             "temporary folder, so that the compile time is measured")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random raster")
    args = parser.parse_args()

    # Amaranth's simulator compiles the Regulator's population sums into deeply nested Python
    # expressions, which exceed the default recursion limit of 1000 at 256 neurons.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))

    reason = unavailable_reason()
    if reason is not None:
        parser.exit(1, f"CXXRTL is unavailable: {reason}\n")

    config = RegulatorConfig(n_neurons=args.neurons)
    raster = make_raster(config, max(args.pysim_timesteps, args.cxxrtl_timesteps), args.seed)
    print(f"Regulator, {config.n_neurons} neurons, window {config.window}, one timestep per "
          f"cycle, seed {args.seed}")

    with tempfile.TemporaryDirectory(prefix="homeo-hw-bench-") as scratch:
        cache_dir = args.cache_dir or Path(scratch)
        start = time.perf_counter()
        bench = RegulatorBench(config)
        sim = CxxrtlSimulator(bench, cache_dir=cache_dir)
        construct = time.perf_counter() - start
        if sim.compiled:
            print(f"cxxrtl build:  {sim.compile_time:8.1f} s generating and compiling, "
                  f"{construct:.1f} s in all with RTLIL conversion and loading")
        else:
            print(f"cxxrtl build:  reused from the cache, {construct:.1f} s to convert and load")

        short = bench.stimulus(raster[:args.pysim_timesteps])
        short_cycles = len(short["spikes_valid"])
        pysim_seconds, pysim_thresholds = run_pysim(config, short)
        pysim_rate = short_cycles / pysim_seconds
        print(f"pysim:         {short_cycles:>9} cycles in {pysim_seconds:8.2f} s = "
              f"{pysim_rate:12,.0f} cycles/s")

        # The short run again in CXXRTL, to check that both simulators agree.
        sim.reset()
        names = [f"thresholds__{index}" for index in range(config.n_neurons)]
        check = sim.run(inputs=short, outputs=names, strobe="window_done")
        cxxrtl_thresholds = np.stack([check[name] for name in names], axis=-1).tolist()
        agree = cxxrtl_thresholds == pysim_thresholds

        long = bench.stimulus(raster[:args.cxxrtl_timesteps])
        long_cycles = len(long["spikes_valid"])
        sim.reset()
        start = time.perf_counter()
        trace = sim.run(inputs=long, outputs=bench.recorded, strobe="record")
        cxxrtl_seconds = time.perf_counter() - start
        cxxrtl_rate = long_cycles / cxxrtl_seconds
        print(f"cxxrtl:        {long_cycles:>9} cycles in {cxxrtl_seconds:8.2f} s = "
              f"{cxxrtl_rate:12,.0f} cycles/s (one call)")

        sim.reset()
        window = config.window
        per_call = min(long_cycles, 200 * window)
        start = time.perf_counter()
        for begin in range(0, per_call, window):
            sim.run(inputs={name: values[begin:begin + window] for name, values in long.items()},
                    outputs=names, strobe="window_done")
        calls_seconds = time.perf_counter() - start
        print(f"cxxrtl:        {per_call:>9} cycles in {calls_seconds:8.2f} s = "
              f"{per_call / calls_seconds:12,.0f} cycles/s (one call per {window}-cycle window)")
        sim.close()

    windows = bench.windows(trace)
    expected = IntegerRegulator(config).run(raster[:args.cxxrtl_timesteps])
    golden_agree = len(windows) == len(expected) and all(
        np.array_equal(w.thresholds, e.thresholds) and np.array_equal(w.counts, e.counts)
        and (w.n_above, w.n_below, w.dispersion, w.lr_exponent)
        == (e.n_above, e.n_below, e.dispersion, e.lr_exponent)
        for w, e in zip(windows, expected, strict=True))

    print(f"speed-up:      {cxxrtl_rate / pysim_rate:12,.0f}x (one call against pysim)")
    print(f"pysim and cxxrtl thresholds agree on the short run ({len(pysim_thresholds)} "
          f"windows): {agree}")
    print(f"cxxrtl equals the golden model on the long run ({len(windows)} windows): "
          f"{golden_agree}")


if __name__ == "__main__":
    main()
