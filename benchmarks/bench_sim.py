"""Compare the cycle rate of Amaranth's simulator and of the CXXRTL back end.

With ``--design parallel`` (the default), both simulators run the same design, the Regulator with
its weight memory as
:func:`homeo_hw.simulate.simulate_regulator` builds it, on the same seeded random raster with one
timestep offered per cycle. Amaranth's simulator (pysim) gets a short run, timed as one
:func:`~homeo_hw.cxxrtl.run_pysim` call that includes building the simulator. CXXRTL gets a
long run, timed end to end from Python: one
:meth:`~homeo_hw.cxxrtl.CxxrtlSimulator.run` call that records the window results. The same
stimulus then runs in calls of one window each, to show the cost per call. The time to generate
and compile the CXXRTL library is reported separately. By default it is measured in a fresh
cache folder.

With ``--design tdm``, both simulators run the time-multiplexed
:class:`~homeo_hw.tdm_regulator.TDMRegulator` (1024 neurons by default, window 64) on the
address events of a seeded random raster (:func:`homeo_hw.simulate.tdm_event_payloads`), sent
as a valid/ready stream that reacts to ``events.ready`` in every cycle: an event is held while
the regulator initialises or sweeps, and the next one follows in the cycle after it is accepted.
In CXXRTL that loop runs in C++. Amaranth's simulator gets a short run (128 timesteps by
default), timed as one :func:`~homeo_hw.cxxrtl.run_pysim` call that includes building the
simulator (a one-cycle call is timed too, to show that fixed cost). Both simulators record the
same outputs in every cycle of the short run, and the cycle of every accepted event, to check
that they agree. The long CXXRTL run (64000 timesteps by default) records the sweep results and
statistics, which are compared with the golden model window by window.

Run from the repository root::

    python benchmarks/bench_sim.py --neurons 256
    python benchmarks/bench_sim.py --design tdm --neurons 1024
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from homeo_hw.config import RegulatorConfig
from homeo_hw.cxxrtl import CxxrtlSimulator, run_pysim as run_pysim_trace, unavailable_reason
from homeo_hw.golden.regulator import IntegerRegulator
from homeo_hw.simulate import (TDM_RECORDED, TDM_STROBES, RegulatorBench, payload_integers,
                               tdm_event_payloads, tdm_windows)
from homeo_hw.tdm_regulator import TDMRegulator


#: Outputs of the TDMRegulator that both simulators record every cycle on the short run.
TDM_OUTPUTS = ("events__ready", "swept_valid", "swept", "window_done", "n_above", "n_below",
               "dispersion", "lr_exponent", "initialising")


def build_simulator(design, cache_dir):
    """Construct the CXXRTL simulation of ``design`` and print how long that took."""
    start = time.perf_counter()
    sim = CxxrtlSimulator(design, cache_dir=cache_dir)
    construct = time.perf_counter() - start
    if sim.compiled:
        print(f"cxxrtl build:  {sim.compile_time:8.1f} s generating and compiling, "
              f"{construct:.1f} s in all with RTLIL conversion and loading")
    else:
        print(f"cxxrtl build:  reused from the cache, {construct:.1f} s to convert and load")
    return sim


def plural(count, noun):
    return f"{count} {noun}" + ("" if count == 1 else "s")


def make_raster(config, timesteps, seed):
    # Rates from silent to four times the target, so that every class of neuron occurs.
    rng = np.random.default_rng(seed)
    target = config.target_count / config.window
    rates = rng.uniform(0, 4 * target, config.n_neurons)
    return rng.random((timesteps, config.n_neurons)) < rates


def main_tdm(args):
    """Measure both simulators on the TDMRegulator and print the results."""
    n_neurons = 1024 if args.neurons is None else args.neurons
    pysim_timesteps = args.pysim_timesteps or 128
    cxxrtl_timesteps = args.cxxrtl_timesteps or 64_000
    config = RegulatorConfig.from_float(n_neurons, window=64)
    raster = make_raster(config, max(pysim_timesteps, cxxrtl_timesteps), args.seed)
    short_payloads = tdm_event_payloads(config, raster[:pysim_timesteps])
    long_payloads = tdm_event_payloads(config, raster[:cxxrtl_timesteps])
    print(f"TDMRegulator, {config.n_neurons} neurons, window {config.window}, address events of "
          f"a random raster (rates 0 to {4 * config.target_count / config.window:.3f} per "
          f"timestep) sent with back-pressure, seed {args.seed}")

    with tempfile.TemporaryDirectory(prefix="homeo-hw-bench-") as scratch:
        cache_dir = args.cache_dir or Path(scratch)
        design = TDMRegulator(config)
        sim = build_simulator(design, cache_dir)

        # The timed run_pysim call includes elaborating the design and building Amaranth's
        # simulator. A one-cycle call shows that fixed cost.
        start = time.perf_counter()
        run_pysim_trace(TDMRegulator(config), cycles=1, stream=("events", short_payloads))
        pysim_setup = time.perf_counter() - start
        start, start_cpu = time.perf_counter(), time.process_time()
        pysim_trace = run_pysim_trace(TDMRegulator(config), outputs=TDM_OUTPUTS,
                                      stream=("events", short_payloads))
        pysim_seconds = time.perf_counter() - start
        pysim_cpu = time.process_time() - start_cpu
        pysim_cycles = len(pysim_trace)
        pysim_rate = pysim_cycles / pysim_seconds
        print(f"pysim:         {pysim_cycles:>10} cycles in {pysim_seconds:8.2f} s = "
              f"{pysim_rate:12,.0f} cycles/s ({pysim_timesteps} timesteps, "
              f"{len(short_payloads)} events, one call; a one-cycle call takes "
              f"{pysim_setup:.2f} s)")

        sim.reset()
        cxxrtl_trace = sim.run(outputs=TDM_OUTPUTS, stream=("events", short_payloads))
        differing = [name for name in TDM_OUTPUTS
                     if not np.array_equal(pysim_trace[name], cxxrtl_trace[name])]
        if not np.array_equal(pysim_trace.accepted, cxxrtl_trace.accepted):
            differing.append("accepted cycles")

        sim.reset()
        start, start_cpu = time.perf_counter(), time.process_time()
        long = sim.run(outputs=TDM_RECORDED, strobe=TDM_STROBES,
                       stream=("events", long_payloads),
                       cycles_after_stream=design.window_done_delay + 1)
        cxxrtl_seconds = time.perf_counter() - start
        cxxrtl_cpu = time.process_time() - start_cpu
        cxxrtl_cycles = sim.cycle
        cxxrtl_rate = cxxrtl_cycles / cxxrtl_seconds
        print(f"cxxrtl:        {cxxrtl_cycles:>10} cycles in {cxxrtl_seconds:8.2f} s = "
              f"{cxxrtl_rate:12,.0f} cycles/s ({cxxrtl_timesteps} timesteps, "
              f"{len(long_payloads)} events, one call)")
        sim.close()

    windows = tdm_windows(config, long)
    expected = IntegerRegulator(config).run(raster[:cxxrtl_timesteps])
    golden_agree = len(windows) == len(expected) and all(
        np.array_equal(w.thresholds, e.thresholds) and np.array_equal(w.counts, e.counts)
        and (w.n_above, w.n_below, w.dispersion, w.lr_exponent)
        == (e.n_above, e.n_below, e.dispersion, e.lr_exponent)
        for w, e in zip(windows, expected, strict=True))

    print(f"speed-up:      {cxxrtl_rate / pysim_rate:12,.0f}x (one call against pysim; "
          f"{(cxxrtl_cycles / cxxrtl_cpu) / (pysim_cycles / pysim_cpu):,.0f}x in CPU time of "
          f"this process, which other load on the machine disturbs less)")
    pysim_windows = int(np.sum(pysim_trace["window_done"]))
    print(f"pysim and cxxrtl agree on the short run ({len(TDM_OUTPUTS)} outputs every cycle and "
          f"the cycle of every accepted event, {plural(pysim_windows, 'window')}): "
          f"{not differing}"
          + (f"; differing: {', '.join(differing)}" if differing else ""))
    print(f"cxxrtl equals the golden model on the long run ({plural(len(windows), 'window')}): "
          f"{golden_agree}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--design", choices=("parallel", "tdm"), default="parallel",
                        help="design to simulate: the parallel Regulator or the time-multiplexed "
                             "TDMRegulator")
    parser.add_argument("--neurons", type=int, default=None,
                        help="number of neurons (default 256 for parallel, 1024 for tdm)")
    parser.add_argument("--pysim-timesteps", type=int, default=None,
                        help="timesteps for Amaranth's simulator (default 2000 for parallel, "
                             "128 for tdm)")
    parser.add_argument("--cxxrtl-timesteps", type=int, default=None,
                        help="timesteps for CXXRTL (default 1000000 for parallel, 64000 for tdm)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="cache folder of compiled simulations; by default a fresh "
                             "temporary folder, so that the compile time is measured")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random stimulus")
    args = parser.parse_args()
    for name in ("pysim_timesteps", "cxxrtl_timesteps", "neurons"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer, not {value}")

    reason = unavailable_reason()
    if reason is not None:
        parser.exit(1, f"CXXRTL is unavailable: {reason}\n")

    if args.design == "tdm":
        main_tdm(args)
    else:
        main_parallel(args)


def main_parallel(args):
    """Measure both simulators on the parallel Regulator and print the results."""
    if args.neurons is None:
        args.neurons = 256
    args.pysim_timesteps = args.pysim_timesteps or 2_000
    args.cxxrtl_timesteps = args.cxxrtl_timesteps or 1_000_000

    # Amaranth's simulator compiles the Regulator's population sums into deeply nested Python
    # expressions, which exceed the default recursion limit of 1000 at 256 neurons.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))

    config = RegulatorConfig(n_neurons=args.neurons)
    raster = make_raster(config, max(args.pysim_timesteps, args.cxxrtl_timesteps), args.seed)
    print(f"Regulator, {config.n_neurons} neurons, window {config.window}, one timestep per "
          f"cycle, seed {args.seed}")

    with tempfile.TemporaryDirectory(prefix="homeo-hw-bench-") as scratch:
        cache_dir = args.cache_dir or Path(scratch)
        bench = RegulatorBench(config)
        sim = build_simulator(bench, cache_dir)

        # The timed run_pysim call includes elaborating the bench and building Amaranth's
        # simulator, as in the tdm measurement.
        short = bench.payloads(raster[:args.pysim_timesteps])
        names = [f"thresholds__{index}" for index in range(config.n_neurons)]
        start = time.perf_counter()
        pysim_trace = run_pysim_trace(
            RegulatorBench(config), outputs=names, strobe="window_done",
            stream=("timesteps", payload_integers(short)),
            cycles_after_stream=bench.cycles_after_stream)
        pysim_seconds = time.perf_counter() - start
        short_cycles = int(pysim_trace.accepted[-1]) + 1 + bench.cycles_after_stream
        pysim_thresholds = np.stack([pysim_trace[name] for name in names], axis=-1).tolist()
        pysim_rate = short_cycles / pysim_seconds
        print(f"pysim:         {short_cycles:>9} cycles in {pysim_seconds:8.2f} s = "
              f"{pysim_rate:12,.0f} cycles/s (one call, building the simulator included)")

        # The short run again in CXXRTL, to check that both simulators agree.
        sim.reset()
        check = sim.run(outputs=names, strobe="window_done", stream=("timesteps", short),
                        cycles_after_stream=bench.cycles_after_stream)
        cxxrtl_thresholds = np.stack([check[name] for name in names], axis=-1).tolist()
        agree = cxxrtl_thresholds == pysim_thresholds and sim.cycle == short_cycles

        long = bench.payloads(raster[:args.cxxrtl_timesteps])
        sim.reset()
        start = time.perf_counter()
        trace = sim.run(outputs=bench.recorded, strobe="record", stream=("timesteps", long),
                        cycles_after_stream=bench.cycles_after_stream)
        cxxrtl_seconds = time.perf_counter() - start
        long_cycles = sim.cycle
        cxxrtl_rate = long_cycles / cxxrtl_seconds
        print(f"cxxrtl:        {long_cycles:>9} cycles in {cxxrtl_seconds:8.2f} s = "
              f"{cxxrtl_rate:12,.0f} cycles/s (one call)")

        sim.reset()
        window = config.window
        calls = min(len(long) // window, 200)
        start = time.perf_counter()
        for begin in range(0, calls * window, window):
            sim.run(outputs=names, strobe="window_done",
                    stream=("timesteps", long[begin:begin + window]))
        calls_seconds = time.perf_counter() - start
        print(f"cxxrtl:        {sim.cycle:>9} cycles in {calls_seconds:8.2f} s = "
              f"{sim.cycle / calls_seconds:12,.0f} cycles/s (one call per {window}-timestep "
              f"window)")
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
    print(f"cxxrtl equals the golden model on the long run ({plural(len(windows), 'window')}): "
          f"{golden_agree}")


if __name__ == "__main__":
    main()
