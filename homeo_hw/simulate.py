"""Cycle simulation of the regulator on a spike raster, next to the golden model.

:func:`simulate` runs a raster through the :class:`~homeo_hw.regulator.Regulator` gateware, one
timestep per clock cycle, and through :class:`~homeo_hw.golden.IntegerRegulator`, then compares
every window value by value: the final counts, the thresholds, ``n_above``, ``n_below``, the
dispersion and the learning-rate exponent.

Two back ends run the gateware: ``pysim``, Amaranth's built-in simulator (this module), and
``cxxrtl``, compiled C++ from Yosys's CXXRTL back end (:mod:`homeo_hw.cxxrtl`), which is much
faster and needs a C++ compiler. ``auto`` picks CXXRTL when it is available.
"""

import logging
import os
from dataclasses import dataclass, field

import numpy as np
from amaranth.hdl import Module, Value, signed
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from .config import RegulatorConfig


__all__ = [
    "BACKENDS", "BackendUnavailable", "WindowRecord", "SimulationResult", "simulate", "load_raster",
    "default_backend", "plot_simulation",
]


logger = logging.getLogger(__name__)


#: Names of the simulation back ends, and ``auto``.
BACKENDS = ("auto", "pysim", "cxxrtl")

_COMPARED_FIELDS = ("counts", "thresholds", "n_above", "n_below", "dispersion", "lr_exponent")


class BackendUnavailable(RuntimeError):
    """The requested simulation back end cannot run on this machine."""


@dataclass(frozen=True)
class WindowRecord:
    """Results of one window as the gateware produced them.

    Attributes
    ----------
    window_index : int
        Index of the window, from 0.
    done_cycle : int
        Cycle in which ``window_done`` was high, counted from 0 at the first timestep.
    counts : ndarray of int64
        Final count of each neuron: the live counters in the cycle of the window's last timestep
        plus that timestep's spikes, saturated at ``counter_max``.
    thresholds : ndarray of int64
        Raw thresholds after the window's update.
    n_above, n_below, dispersion, lr_exponent : int
        The statistics on the outputs while ``window_done`` is high.
    """

    window_index: int
    done_cycle: int
    counts: np.ndarray
    thresholds: np.ndarray
    n_above: int
    n_below: int
    dispersion: int
    lr_exponent: int


@dataclass
class SimulationResult:
    """Outcome of :func:`simulate`.

    Attributes
    ----------
    backend : str
        ``pysim`` or ``cxxrtl``, the back end that ran.
    config : RegulatorConfig
        Parameters of the run.
    windows : list of WindowRecord
        Gateware results, one per complete window.
    golden : list of homeo_hw.golden.WindowResult
        Golden-model results of the same windows.
    mismatches : list of str
        One line per differing value, naming the window, the field and the neuron.
    cycles : int
        Clock cycles simulated.
    clipped_spikes : int
        Spikes dropped because a raster entry above 1 was clipped to one spike per timestep.
    """

    backend: str
    config: RegulatorConfig
    windows: list
    golden: list
    mismatches: list = field(default_factory=list)
    cycles: int = 0
    clipped_spikes: int = 0

    @property
    def matched(self):
        """Whether every window of the gateware equals the golden model's."""
        return not self.mismatches and len(self.windows) == len(self.golden)


class _Bench(wiring.Component):
    # The regulator with its weight memory, as on a board, with its inputs and window outputs
    # brought out as ports.

    def __init__(self, config, weights):
        from .regulator import Regulator

        self.regulator = Regulator(config, n_pre=weights.shape[0])
        self.weights = weights
        members = self.regulator.signature.members
        signature = {"spikes": In(config.n_neurons), "spikes_valid": In(1), "window_done": Out(1)}
        for name in _COMPARED_FIELDS:
            signature[name] = Out(members[name].shape)
        super().__init__(signature)

    def elaborate(self, platform):
        m = Module()
        m.submodules.regulator = regulator = self.regulator
        m.submodules.weights = weights = memory.Memory(
            shape=signed(regulator.config.weight_width), depth=regulator.weight_depth,
            init=[int(weight) for weight in self.weights.ravel()])
        wiring.connect(m, regulator.weight_read, weights.read_port())
        wiring.connect(m, regulator.weight_write, weights.write_port())
        m.d.comb += [
            regulator.spikes.eq(self.spikes),
            regulator.spikes_valid.eq(self.spikes_valid),
            self.window_done.eq(regulator.window_done),
        ]
        for name in _COMPARED_FIELDS:
            m.d.comb += getattr(self, name).eq(getattr(regulator, name))
        return m


def _unpack(value, width, count):
    mask = (1 << width) - 1
    return np.array([(value >> (width * i)) & mask for i in range(count)], dtype=np.int64)


def _run_pysim(config, raster, weights, vcd_file):
    bench = _Bench(config, weights)
    n = config.n_neurons
    timesteps = len(raster)
    n_windows = timesteps // config.window
    spike_words = [sum(1 << int(i) for i in np.flatnonzero(row)) for row in raster]
    windows = []
    final_counts = []
    cycle_count = [0]

    async def testbench(ctx):
        cycle = 0
        while len(windows) < n_windows:
            if cycle < timesteps:
                ctx.set(bench.spikes, spike_words[cycle])
                ctx.set(bench.spikes_valid, 1)
                if cycle % config.window == config.window - 1:
                    counts = _unpack(ctx.get(Value.cast(bench.counts)), config.counter_width, n)
                    final_counts.append(np.minimum(counts + raster[cycle], config.counter_max))
            else:
                ctx.set(bench.spikes_valid, 0)
            if ctx.get(bench.window_done):
                index = len(windows)
                windows.append(WindowRecord(
                    window_index=index,
                    done_cycle=cycle,
                    counts=final_counts[index],
                    thresholds=_unpack(ctx.get(Value.cast(bench.thresholds)),
                                       config.threshold_width, n),
                    n_above=ctx.get(bench.n_above),
                    n_below=ctx.get(bench.n_below),
                    dispersion=ctx.get(bench.dispersion),
                    lr_exponent=ctx.get(bench.lr_exponent),
                ))
            await ctx.tick()
            cycle += 1
            if cycle > timesteps + 64 and len(windows) < n_windows:
                break
        cycle_count[0] = cycle

    simulator = Simulator(bench)
    simulator.add_clock(1e-6)
    simulator.add_testbench(testbench)
    if vcd_file is None:
        simulator.run()
    else:
        with simulator.write_vcd(os.fspath(vcd_file)):
            simulator.run()
    return windows, cycle_count[0]


def _run_cxxrtl(config, raster, weights, vcd_file):
    # The CXXRTL back end runs the same bench in compiled C++ and returns records of the same
    # fields; see homeo_hw.cxxrtl.simulate_regulator.
    from . import cxxrtl

    result = cxxrtl.simulate_regulator(config, raster, weights=weights, backend="cxxrtl",
                                       vcd_file=vcd_file)
    windows = [WindowRecord(
        window_index=record.window_index, done_cycle=record.done_cycle,
        counts=np.asarray(record.counts, dtype=np.int64),
        thresholds=np.asarray(record.thresholds, dtype=np.int64),
        n_above=int(record.n_above), n_below=int(record.n_below),
        dispersion=int(record.dispersion), lr_exponent=int(record.lr_exponent),
    ) for record in result.windows]
    return windows, result.cycles


def _cxxrtl_unavailable_reason():
    try:
        from . import cxxrtl
    except ImportError as error:
        return f"homeo_hw.cxxrtl cannot be imported: {error}"
    return cxxrtl.unavailable_reason()


def default_backend():
    """Return the fastest back end that can run here: ``cxxrtl`` when available, else ``pysim``."""
    reason = _cxxrtl_unavailable_reason()
    if reason is not None:
        logger.info("simulating with pysim because the CXXRTL back end is unavailable: %s",
                    reason)
        return "pysim"
    return "cxxrtl"


def _compare(windows, golden):
    mismatches = []
    if len(windows) != len(golden):
        mismatches.append(f"the gateware completed {len(windows)} windows, the golden model "
                          f"{len(golden)}")
    for record, expected in zip(windows, golden, strict=False):
        for name in _COMPARED_FIELDS:
            actual_value = getattr(record, name)
            expected_value = getattr(expected, name)
            if np.ndim(expected_value):
                actual_array = np.asarray(actual_value)
                expected_array = np.asarray(expected_value)
                for neuron in np.flatnonzero(actual_array != expected_array):
                    mismatches.append(
                        f"window {record.window_index}, neuron {neuron}, {name}: gateware "
                        f"{actual_array[neuron]}, golden model {expected_array[neuron]}")
            elif int(actual_value) != int(expected_value):
                mismatches.append(
                    f"window {record.window_index}, {name}: gateware {actual_value}, golden "
                    f"model {expected_value}")
    return mismatches


def simulate(config, raster, *, backend="auto", weights=None, vcd_file=None):
    """Simulate the regulator on ``raster`` and compare every window with the golden model.

    One timestep enters per clock cycle, with no gaps. A partial window at the end of the raster
    is not compared.

    Parameters
    ----------
    config : RegulatorConfig
        Regulator parameters; ``n_neurons`` must equal the raster's columns.
    raster : array_like of int, shape (timesteps, n_neurons)
        Spikes per timestep. The gateware takes at most one spike per neuron and timestep, so
        larger counts are clipped to 1 for both models; :attr:`SimulationResult.clipped_spikes`
        counts the dropped spikes.
    backend : str
        ``pysim``, ``cxxrtl`` or ``auto`` (:func:`default_backend`).
    weights : array_like of int, shape (n_pre, n_neurons), or None
        Initial weight memory; by default one row of zeros. Windows do not depend on it.
    vcd_file : path-like or None
        Write a waveform of the run to this file.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ValueError
        If the raster's shape does not match ``config``, the raster contains negative values, or
        the back end is unknown.
    BackendUnavailable
        If ``backend`` is ``cxxrtl`` and no C++ compiler or CXXRTL runtime is found.
    """
    from .golden import IntegerRegulator

    if not isinstance(config, RegulatorConfig):
        raise TypeError(f"config must be a RegulatorConfig, not {config!r}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown simulation back end {backend!r}; use one of "
                         f"{', '.join(BACKENDS)}")
    raster = np.asarray(raster)
    if raster.ndim != 2 or raster.shape[1] != config.n_neurons:
        raise ValueError(f"raster must have shape (timesteps, {config.n_neurons}), not "
                         f"{raster.shape}")
    if raster.size and raster.min() < 0:
        raise ValueError("raster contains negative spike counts")
    clipped = int(np.maximum(raster.astype(np.int64) - 1, 0).sum())
    raster = (raster > 0).astype(np.int64)
    weights = (np.zeros((1, config.n_neurons), dtype=np.int64) if weights is None
               else np.asarray(weights, dtype=np.int64))

    if backend == "auto":
        backend = default_backend()
    elif backend == "cxxrtl":
        reason = _cxxrtl_unavailable_reason()
        if reason is not None:
            raise BackendUnavailable(f"the cxxrtl back end is unavailable: {reason}; use the "
                                     f"pysim back end")
    logger.info("simulating %d timesteps of %d neurons with %s", len(raster),
                config.n_neurons, backend)
    if backend == "cxxrtl":
        windows, cycles = _run_cxxrtl(config, raster, weights, vcd_file)
    else:
        windows, cycles = _run_pysim(config, raster, weights, vcd_file)

    golden = IntegerRegulator(config).run(raster)
    return SimulationResult(backend=backend, config=config, windows=windows, golden=golden,
                            mismatches=_compare(windows, golden), cycles=cycles,
                            clipped_spikes=clipped)


def load_raster(path, *, dt=0.001):
    """Load a spike raster from a file, a (timesteps, n_neurons) array of spike counts.

    Accepts an ``.npy`` raster; an ``.npz`` event recording with the arrays ``spike_indices``,
    ``spike_times``, ``n_neurons``, ``duration`` and ``dt``, binned at ``dt`` seconds by
    :func:`homeo_hw.golden.rates.load_recording`; or an ``.npz`` file holding one 2-D array (or
    several, one of them called ``raster``).

    Raises
    ------
    ValueError
        If the file is of another kind or contains no raster.
    """
    from .golden.rates import load_recording

    path = os.fspath(path)
    if path.lower().endswith(".npz"):
        with np.load(path, allow_pickle=False) as archive:
            if "spike_indices" not in archive.files:
                arrays = {name: archive[name] for name in archive.files
                          if archive[name].ndim == 2}
                if "raster" in arrays:
                    return arrays["raster"]
                if len(arrays) == 1:
                    return next(iter(arrays.values()))
                raise ValueError(
                    f"{path} contains neither an event recording (spike_indices, spike_times, "
                    f"n_neurons, duration, dt) nor a single 2-D raster, but "
                    f"{', '.join(archive.files) or 'no arrays'}; save the raster as the only "
                    f"2-D array or under the name 'raster'")
        return load_recording(path, dt=dt)
    return load_recording(path)


def plot_simulation(result, path):
    """Plot the rates and thresholds of every window of a simulation as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

    config = result.config
    windows = np.arange(len(result.windows))
    counts = np.array([record.counts for record in result.windows]).reshape(-1, config.n_neurons)
    thresholds = np.array([record.thresholds for record in result.windows]).reshape(
        -1, config.n_neurons)
    rates = counts / config.window

    figure, (rate_axes, threshold_axes) = pyplot.subplots(2, 1, figsize=(7, 6), sharex=True)
    rate_axes.plot(windows, rates, color="0.75", linewidth=0.5)
    rate_axes.plot(windows, rates.mean(axis=1), color="C0", label="population mean")
    rate_axes.axhline(config.target_count / config.window, color="C2", label="target")
    rate_axes.axhspan(config.lower_bound / config.window, config.upper_bound / config.window,
                      color="C2", alpha=0.15, label="dead band")
    rate_axes.set_ylabel("rate (spikes / timestep)")
    rate_axes.legend(loc="upper right")

    threshold_axes.plot(windows, config.to_float_threshold(thresholds), color="0.75",
                        linewidth=0.5)
    threshold_axes.plot(windows, config.to_float_threshold(thresholds).mean(axis=1), color="C1",
                        label="mean threshold")
    threshold_axes.set_xlabel("window")
    threshold_axes.set_ylabel("threshold (model units)")
    threshold_axes.legend(loc="upper right")
    figure.suptitle(f"{config.n_neurons} neurons, {len(windows)} windows of {config.window} "
                    f"timesteps ({result.backend})")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
