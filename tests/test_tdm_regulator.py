# amaranth: UnusedElaboratable=no
"""Co-simulation of the time-multiplexed regulator with the integer golden model."""

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from amaranth.hdl import Module, Signal

from homeo_hw.config import RegulatorConfig
from homeo_hw.golden import IntegerRegulator
from homeo_hw.tdm_regulator import TDMRegulator, _greater_than
from tests.sim import assert_array_equal, assert_value_equal, run_simulation


DATA = Path(__file__).parent / "data"


@dataclass
class WindowRecord:
    """What the gateware reported for one window."""

    counts: np.ndarray
    thresholds: np.ndarray
    above: np.ndarray
    below: np.ndarray
    n_above: int = None
    n_below: int = None
    dispersion: int = None
    lr_exponent: int = None


@dataclass
class Trace:
    """Everything a simulation observed, for the checks of a test."""

    windows: list = field(default_factory=list)
    # Cycle (counted from the first cycle after reset) of each accepted event, spike or mark.
    accepted_cycles: list = field(default_factory=list)
    # Cycle of each accepted window-ending mark and of each window_done strobe.
    window_end_cycles: list = field(default_factory=list)
    window_done_cycles: list = field(default_factory=list)
    # Cycles with events.valid high and events.ready low.
    stalled_cycles: list = field(default_factory=list)
    first_ready_cycle: int = None
    # (neuron, windows completed at acceptance, threshold, class) per threshold read.
    threshold_reads: list = field(default_factory=list)
    threshold_latencies: list = field(default_factory=list)
    initialising_cycles: int = 0


def event_stream(timesteps):
    """Flatten timesteps (lists of neuron indices) to (neuron, timestep_end) events."""
    events = []
    for indices in timesteps:
        events.extend((int(index), 0) for index in indices)
        events.append((0, 1))
    return events


def simulate(config, timesteps, *, memory_implementation=None, valid_probability=1.0,
             request_probability=0.0, seed=0, drain_cycles=None):
    """Run timesteps of address events through a TDMRegulator and record what it reports.

    ``valid_probability`` below 1 inserts random cycles with ``events.valid`` low;
    ``request_probability`` offers a threshold read of a random neuron in that fraction of
    cycles.
    """
    dut = TDMRegulator(config, memory_implementation=memory_implementation)
    events = event_stream(timesteps)
    n = config.n_neurons
    rng = np.random.default_rng(seed)
    trace = Trace()
    if drain_cycles is None:
        drain_cycles = dut.window_done_delay + 2

    async def bench(ctx):
        position = 0
        cycle = 0
        windows_completed = 0
        marks_in_window = 0
        pending_reads = []
        current = None
        idle = 0
        offered = None
        while idle < drain_cycles:
            # Signals are set only when they change: every simulator access costs time.
            offer = position < len(events) and (valid_probability == 1.0
                                                or rng.random() < valid_probability)
            if offer and events[position] != offered:
                offered = events[position]
                ctx.set(dut.events.payload.neuron, offered[0])
                ctx.set(dut.events.payload.timestep_end, offered[1])
            ctx.set(dut.events.valid, offer)
            # Requests stop with the events, so that the simulation can drain.
            request = (request_probability > 0 and position < len(events)
                       and rng.random() < request_probability)
            if request_probability > 0:
                request_neuron = int(rng.integers(n))
                ctx.set(dut.threshold_request.valid, request)
                ctx.set(dut.threshold_request.payload, request_neuron)

            if trace.first_ready_cycle is None and ctx.get(dut.initialising):
                trace.initialising_cycles += 1
            ready = ctx.get(dut.events.ready)
            if ready and trace.first_ready_cycle is None:
                trace.first_ready_cycle = cycle
            if offer and not ready:
                trace.stalled_cycles.append(cycle)
            if request and ctx.get(dut.threshold_request.ready):
                pending_reads.append((request_neuron, windows_completed, cycle))

            if pending_reads and ctx.get(dut.readout_valid):
                neuron, completed, issued = pending_reads.pop(0)
                readout = ctx.get(dut.readout)
                trace.threshold_reads.append(
                    (neuron, completed, readout.threshold, readout.above - readout.below))
                trace.threshold_latencies.append(cycle - issued)
            if ctx.get(dut.swept_valid):
                if current is None:
                    current = WindowRecord(*(np.full(n, -1, dtype=np.int64) for _ in range(4)))
                swept = ctx.get(dut.swept)
                neuron = swept.neuron
                current.counts[neuron] = swept.count
                current.thresholds[neuron] = swept.threshold
                current.above[neuron] = swept.above
                current.below[neuron] = swept.below
                if neuron == n - 1:
                    trace.windows.append(current)
                    current = None
            if ctx.get(dut.window_done):
                trace.window_done_cycles.append(cycle)
                record = trace.windows[len(trace.window_done_cycles) - 1]
                record.n_above = ctx.get(dut.n_above)
                record.n_below = ctx.get(dut.n_below)
                record.dispersion = ctx.get(dut.dispersion)
                record.lr_exponent = ctx.get(dut.lr_exponent)

            if offer and ready:
                trace.accepted_cycles.append(cycle)
                if offered[1]:
                    marks_in_window += 1
                    if marks_in_window == config.window:
                        marks_in_window = 0
                        windows_completed += 1
                        trace.window_end_cycles.append(cycle)
                position += 1
            busy = position < len(events) or pending_reads or current is not None
            idle = 0 if busy else idle + 1
            await ctx.tick()
            cycle += 1

    run_simulation(dut, bench)
    return dut, trace


def golden_results(config, timesteps):
    """Return the golden WindowResults and the thresholds after each completed window."""
    model = IntegerRegulator(config)
    results = []
    thresholds = [model.state.thresholds.copy()]
    for indices in timesteps:
        result = model.step_events(indices)
        if result is not None:
            results.append(result)
            thresholds.append(result.thresholds.copy())
    return results, thresholds


def check_windows(config, timesteps, trace):
    """Compare every window the gateware reported with the golden model, value by value."""
    results, thresholds_after = golden_results(config, timesteps)
    assert len(trace.windows) == len(results), (
        f"the gateware swept {len(trace.windows)} windows, the golden model completed "
        f"{len(results)}")
    assert len(trace.window_done_cycles) == len(results), (
        f"window_done rose {len(trace.window_done_cycles)} times for {len(results)} windows")
    for record, result in zip(trace.windows, results, strict=True):
        context = f"window {result.window_index}"
        assert_array_equal(record.counts, result.counts, field="counts", context=context)
        assert_array_equal(record.thresholds, result.thresholds, field="thresholds",
                           context=context)
        assert_array_equal(record.above, (result.classes == 1).astype(np.int64),
                           field="above flags", context=context)
        assert_array_equal(record.below, (result.classes == -1).astype(np.int64),
                           field="below flags", context=context)
        assert_value_equal(record.n_above, result.n_above, field="n_above", context=context)
        assert_value_equal(record.n_below, result.n_below, field="n_below", context=context)
        assert_value_equal(record.dispersion, result.dispersion, field="dispersion",
                           context=context)
        assert_value_equal(record.lr_exponent, result.lr_exponent, field="lr_exponent",
                           context=context)
    for neuron, completed, threshold, neuron_class in trace.threshold_reads:
        assert_value_equal(threshold, thresholds_after[completed][neuron],
                           field=f"threshold read of neuron {neuron}",
                           context=f"after {completed} windows")
        expected_class = results[completed - 1].classes[neuron] if completed else 0
        assert_value_equal(neuron_class, expected_class, field=f"class read of neuron {neuron}",
                           context=f"after {completed} windows")
    return results


def random_timesteps(config, n_timesteps, rate, seed, *, repeats=False):
    """Draw timesteps of spikes: each neuron fires with probability ``rate``, in random order.

    With ``repeats``, a neuron may appear several times in one timestep.
    """
    rng = np.random.default_rng(seed)
    timesteps = []
    for _ in range(n_timesteps):
        if repeats:
            count = rng.poisson(rate * config.n_neurons)
            indices = rng.integers(config.n_neurons, size=count)
        else:
            indices = np.flatnonzero(rng.random(config.n_neurons) < rate)
            rng.shuffle(indices)
        timesteps.append(indices.tolist())
    return timesteps


def small_config(n_neurons, **changes):
    return RegulatorConfig(n_neurons=n_neurons, window=8, counter_width=5, target_count=3,
                           margin=1, threshold_width=8, threshold_frac_bits=4,
                           threshold_floor=10, threshold_ceiling=40, threshold_init=25,
                           threshold_step=4).replace(**changes)


# Parameter checks.

def test_config_type_rejected():
    with pytest.raises(TypeError, match=r"config must be a RegulatorConfig, not 8"):
        TDMRegulator(8)


def test_memory_implementation_rejected():
    with pytest.raises(ValueError, match=r"memory_implementation must be one of 'simple', "
                                         r"'banked' or None, not 'spram'"):
        TDMRegulator(small_config(4), memory_implementation="spram")


# Gate-level helpers.

def test_greater_than_matches_comparison():
    # The gate-level comparison with a constant, checked for every 5-bit value and every
    # constant from below the range to above it.
    value = Signal(5)
    constants = list(range(-2, 34))
    results = [Signal(name=f"greater_than_{constant + 2}") for constant in constants]
    m = Module()
    m.d.comb += [result.eq(_greater_than(value, constant))
                 for result, constant in zip(results, constants, strict=True)]
    mismatches = []

    async def bench(ctx):
        for number in range(32):
            ctx.set(value, number)
            for result, constant in zip(results, constants, strict=True):
                if ctx.get(result) != (number > constant):
                    mismatches.append(f"{number} > {constant} gave {ctx.get(result)}")

    run_simulation(m, bench, clocked=False)
    assert not mismatches, "\n".join(mismatches[:8])


# Comparisons with the golden model.

@pytest.mark.parametrize("n_neurons", [1, 8, 13])
@pytest.mark.parametrize("memory_implementation", ["simple", "banked"])
def test_random_events_match_golden(n_neurons, memory_implementation):
    config = small_config(n_neurons)
    timesteps = random_timesteps(config, 4 * config.window, 0.4, seed=n_neurons, repeats=True)
    _, trace = simulate(config, timesteps, memory_implementation=memory_implementation,
                        valid_probability=0.7, seed=n_neurons)
    check_windows(config, timesteps, trace)


@pytest.mark.parametrize("shift", [-2, 0, 2])
def test_proportional_rule_matches_golden(shift):
    config = small_config(13, update_rule="proportional", proportional_shift=shift)
    timesteps = random_timesteps(config, 4 * config.window, 0.45, seed=shift + 10,
                                 repeats=True)
    _, trace = simulate(config, timesteps)
    check_windows(config, timesteps, trace)


def test_back_to_back_spikes_one_neuron():
    # Every spike of a timestep hits neuron 3, so each read needs the write of the cycle before.
    config = small_config(8)
    timesteps = [[3] * (t % 4) for t in range(3 * config.window)]
    _, trace = simulate(config, timesteps, memory_implementation="banked")
    check_windows(config, timesteps, trace)


@pytest.mark.parametrize("distance", [1, 2, 3, 4, 5])
def test_spikes_alternating_at_distance(distance):
    # A neuron recurs every `distance` + 1 events, probing the forwarding window of the pipeline:
    # a read may miss the writes of the 5 operations issued before it, but not of the sixth.
    config = small_config(8)
    pattern = list(range(distance + 1))
    timesteps = [pattern * ((t % 3) + 1) for t in range(3 * config.window)]
    for memory_implementation in ("simple", "banked"):
        _, trace = simulate(config, timesteps, memory_implementation=memory_implementation)
        check_windows(config, timesteps, trace)


def test_spike_right_before_and_after_sweep():
    # The last spike of a window and the first of the next hit the neurons swept first and last.
    config = small_config(5)
    timesteps = [[0, 4] for _ in range(3 * config.window)]
    timesteps[config.window - 1] = [1, 0, 4, 4]
    timesteps[config.window] = [4, 0, 0]
    _, trace = simulate(config, timesteps)
    check_windows(config, timesteps, trace)


def test_saturating_counters():
    # Many spikes of one neuron in a timestep drive its counter to counter_max.
    config = small_config(4)
    timesteps = [[1] * 9 + [2] * 5 for _ in range(2 * config.window)]
    _, trace = simulate(config, timesteps)
    results = check_windows(config, timesteps, trace)
    assert results[0].counts[1] == config.counter_max


def test_thresholds_saturate_at_floor():
    config = small_config(6, threshold_init=12)
    timesteps = [[] for _ in range(3 * config.window)]
    _, trace = simulate(config, timesteps)
    results = check_windows(config, timesteps, trace)
    assert (results[-1].thresholds == config.threshold_floor).all()


def test_thresholds_saturate_at_ceiling():
    config = small_config(6, threshold_init=38)
    timesteps = [list(range(6)) for _ in range(3 * config.window)]
    _, trace = simulate(config, timesteps)
    results = check_windows(config, timesteps, trace)
    assert (results[-1].thresholds == config.threshold_ceiling).all()


def test_threshold_reads_interleaved_with_events():
    # Threshold requests take the read port from events and hold events.ready low meanwhile.
    config = small_config(13)
    timesteps = random_timesteps(config, 3 * config.window, 0.3, seed=5)
    dut, trace = simulate(config, timesteps, valid_probability=0.8, request_probability=0.3,
                          seed=5)
    check_windows(config, timesteps, trace)
    assert len(trace.threshold_reads) > 50
    assert set(trace.threshold_latencies) == {dut.threshold_read_latency}


# Timing contracts.

def test_initialisation_cycles():
    config = small_config(13)
    dut, trace = simulate(config, [[0]])
    assert trace.first_ready_cycle == dut.init_cycles
    assert trace.initialising_cycles == dut.init_cycles


def test_one_event_per_cycle_outside_sweep():
    config = small_config(13)
    # One timestep more than three windows, so that events wait during the last sweep too.
    timesteps = random_timesteps(config, 3 * config.window + 1, 0.5, seed=7, repeats=True)
    dut, trace = simulate(config, timesteps)
    check_windows(config, timesteps, trace)

    accepted = np.array(trace.accepted_cycles)
    sweep_cycles = set()
    for end in trace.window_end_cycles:
        sweep_cycles.update(range(end + 1, end + 1 + dut.sweep_cycles))
    assert set(trace.stalled_cycles) == set(range(dut.init_cycles)) | sweep_cycles, (
        "events.ready was low outside initialisation and the sweeps, or high during them")
    span = range(accepted[0], accepted[-1] + 1)
    outside = [cycle for cycle in span if cycle not in sweep_cycles]
    assert len(accepted) / len(outside) == 1.0
    assert [done - end for end, done in zip(trace.window_end_cycles, trace.window_done_cycles,
                                            strict=True)] == (
        [dut.window_done_delay] * len(trace.window_end_cycles))


# A recorded network.

def brunel_timesteps(name, n_neurons, n_timesteps, dt=1e-3):
    """Bin a Brunel recording at ``dt`` and tile its 256 neurons to ``n_neurons``.

    Copy ``k`` of the recording drives neurons ``k * 256`` to ``k * 256 + 255``, shifted by
    ``k * 37`` timesteps so that the copies differ.
    """
    recording = np.load(DATA / f"brunel_{name}.npz")
    n_recorded = int(recording["n_neurons"])
    bins = np.floor(recording["spike_times"] / dt).astype(np.int64)
    total_bins = int(round(float(recording["duration"]) / dt))
    indices = recording["spike_indices"].astype(np.int64)
    timesteps = [[] for _ in range(n_timesteps)]
    for copy in range(-(-n_neurons // n_recorded)):
        shifted = (bins + copy * 37) % total_bins
        neurons = indices + copy * n_recorded
        keep = (shifted < n_timesteps) & (neurons < n_neurons)
        order = np.lexsort((neurons[keep], shifted[keep]))
        for step, neuron in zip(shifted[keep][order], neurons[keep][order], strict=True):
            timesteps[step].append(int(neuron))
    return timesteps


def test_brunel_1024_neurons_match_golden():
    config = RegulatorConfig.from_float(1024, target_rate=0.1, window=32)
    timesteps = brunel_timesteps("balanced", config.n_neurons, 8 * config.window)
    start = time.perf_counter()
    _, trace = simulate(config, timesteps)
    elapsed = time.perf_counter() - start
    results = check_windows(config, timesteps, trace)
    assert len(results) == 8
    print(f"1024-neuron Brunel co-simulation: {sum(map(len, timesteps))} spikes, "
          f"{elapsed:.1f} s")
