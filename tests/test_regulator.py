# amaranth: UnusedElaboratable=no
from pathlib import Path

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Fragment, Module, signed, unsigned
from amaranth.lib import memory, wiring

from homeo_hw.config import PROPORTIONAL, RegulatorConfig
from homeo_hw.golden import IntegerRegulator, RegulatorState, prune_weights
from homeo_hw.regulator import Regulator
from tests.sim import (assert_array_equal, assert_value_equal, read_counts, read_memory,
                       read_thresholds, run_simulation, spikes_to_int)


DATA = Path(__file__).parent / "data"

BASE = RegulatorConfig(n_neurons=8, window=16, counter_width=5, target_count=4, margin=1,
                       threshold_init=256, threshold_step=5)

WINDOW_FIELDS = ("n_above", "n_below", "dispersion", "lr_exponent")


class RegulatorHarness(Elaboratable):
    """A :class:`Regulator` with its weight memory, initialised from a (n_pre, n) matrix."""

    def __init__(self, config, weights):
        weights = np.asarray(weights)
        self.regulator = Regulator(config, n_pre=weights.shape[0])
        self.memory = memory.Memory(shape=signed(config.weight_width),
                                    depth=self.regulator.weight_depth,
                                    init=[int(w) for w in weights.ravel()])

    def elaborate(self, platform):
        m = Module()
        m.submodules.regulator = self.regulator
        m.submodules.memory = self.memory
        wiring.connect(m, self.memory.read_port(), self.regulator.weight_read)
        wiring.connect(m, self.memory.write_port(), self.regulator.weight_write)
        return m


def random_weights(config, n_pre, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(config.weight_min, config.weight_max + 1, size=(n_pre, config.n_neurons))


def read_window_result(ctx, dut):
    return {
        "thresholds": read_thresholds(ctx, dut),
        "n_above": ctx.get(dut.n_above),
        "n_below": ctx.get(dut.n_below),
        "dispersion": ctx.get(dut.dispersion),
        "lr_exponent": ctx.get(dut.lr_exponent),
    }


def check_window_result(actual, expected, context):
    assert_array_equal(actual["thresholds"], expected.thresholds, field="thresholds",
                       context=context)
    for field in WINDOW_FIELDS:
        assert_value_equal(actual[field], getattr(expected, field), field=field, context=context)


def check_reset_outputs(ctx, dut, config):
    reset = RegulatorState.reset(config)
    actual = read_window_result(ctx, dut)
    assert_array_equal(actual["thresholds"], reset.thresholds, field="thresholds",
                       context="after reset")
    assert_array_equal(read_counts(ctx, dut), reset.counts, field="counts", context="after reset")
    assert_value_equal(actual["lr_exponent"], reset.lr_exponent, field="lr_exponent",
                       context="after reset")
    for field in ("n_above", "n_below", "dispersion"):
        assert_value_equal(actual[field], 0, field=field, context="after reset")


async def offer_spikes(ctx, dut, spikes):
    """Offer one timestep until the regulator takes it, and return the cycles it was stalled.

    Returns after the clock edge that takes the timestep, with ``spikes_valid`` low again.
    """
    ctx.set(dut.spikes, spikes_to_int(spikes))
    ctx.set(dut.spikes_valid, 1)
    stalls = 0
    while not ctx.get(dut.spikes_ready):
        await ctx.tick()
        stalls += 1
    await ctx.tick()
    ctx.set(dut.spikes_valid, 0)
    return stalls


async def run_raster(ctx, dut, model, raster, gaps):
    """Present a raster and compare the live counters after every timestep.

    Each timestep is offered until ``spikes_ready`` takes it. ``spikes_ready`` must be low only
    while a sweep runs, from the cycle after a window's last timestep to the cycle before its
    ``window_done``. Returns the cycles that took each window's last timestep, counted like the
    monitor counts them, and the golden results of those windows.
    """
    cycle = 0
    window_ends = []
    results = []
    for timestep, (spikes, gap) in enumerate(zip(raster, gaps, strict=True)):
        stalls = await offer_spikes(ctx, dut, spikes)
        if window_ends:
            expected = max(0, window_ends[-1] + dut.sweep_cycles + 1 - cycle)
        else:
            expected = 0
        assert stalls == expected, (
            f"window {model.state.window_index}, timestep {timestep}: offered in cycle {cycle} "
            f"and stalled {stalls} cycles, expected {expected}")
        cycle += stalls
        context = f"window {model.state.window_index}, timestep {timestep}"
        result = model.step(spikes)
        # In the cycle after a window's last timestep the counters still contain the window's
        # final counts. The sweep then shifts them out and zeros in.
        counts = model.state.counts if result is None else result.counts
        assert_array_equal(read_counts(ctx, dut), counts, field="counts", context=context)
        if result is not None:
            window_ends.append(cycle)
            results.append(result)
        cycle += 1
        if gap:
            await ctx.tick().repeat(gap)
            cycle += gap
    await ctx.tick().repeat(dut.window_latency + 1)
    return window_ends, results


def expected_sweep_state(config, cycle, window_ends, results):
    """Return ``(sweeping, counts, thresholds)`` that the outputs must show in ``cycle``, or
    ``counts`` None when the cycle is outside every sweep and the live counters are checked
    elsewhere.

    In sweep cycle ``k`` (``window_end + 1 + k``, ``k < n_neurons``) stage ``i`` holds neuron
    ``i + k``'s final count and old threshold while ``i + k < n_neurons``, and above that a count
    of 0 and neuron ``i + k - n_neurons``'s new threshold.
    """
    n = config.n_neurons
    stages = np.arange(n)
    thresholds = np.full(n, config.threshold_init, dtype=np.int64)
    for end, result in zip(window_ends, results, strict=True):
        if cycle <= end:
            break
        step = cycle - end - 1
        if step > n:
            thresholds = result.thresholds
            continue
        sweeping = True
        if step == n:
            return sweeping, np.zeros(n, dtype=np.int64), result.thresholds
        source = stages + step
        wrapped = source >= n
        counts = np.where(wrapped, 0, result.counts[np.minimum(source, n - 1)])
        rotated = np.where(wrapped, result.thresholds[source % n], thresholds[source % n])
        return sweeping, counts, rotated
    return False, None, thresholds


def check_sweep_timing(trace, window_ends, results, config):
    """Check every monitored cycle's ``sweeping``, thresholds, and counts during sweeps."""
    for cycle, (sweeping, counts, thresholds) in trace.items():
        expected_sweeping, expected_counts, expected_thresholds = expected_sweep_state(
            config, cycle, window_ends, results)
        context = f"cycle {cycle}"
        assert_value_equal(sweeping, int(expected_sweeping), field="sweeping", context=context)
        assert_array_equal(thresholds, expected_thresholds, field="thresholds", context=context)
        if expected_counts is not None:
            assert_array_equal(counts, expected_counts, field="counts", context=context)


def simulate_windows(config, raster, gaps=None, *, weights=None, after=None):
    """Run a raster through the regulator and the golden model and compare them.

    Every timestep's live counters and every window's results must equal the model's, each
    ``window_done`` strobe must come ``window_latency`` cycles after the window's last timestep,
    and in every cycle ``sweeping``, the thresholds and, during sweeps, the counters must show
    what the shift order gives them. No weight may be written while neither weight pass is busy.
    ``after(ctx, harness, model)`` may continue the testbench, e.g. with weight passes.
    """
    raster = np.asarray(raster, dtype=bool)
    gaps = np.zeros(len(raster), dtype=int) if gaps is None else np.asarray(gaps)
    weights = random_weights(config, 2, 0) if weights is None else weights
    harness = RegulatorHarness(config, weights)
    dut = harness.regulator
    model = IntegerRegulator(config)
    expected = IntegerRegulator(config).run(raster)
    done = []
    trace = {}

    async def monitor(ctx):
        cycle = 0
        while True:
            await ctx.tick()
            cycle += 1
            if not (ctx.get(dut.scale_busy) or ctx.get(dut.sleep_busy)):
                assert not ctx.get(dut.weight_write.en), (
                    f"weight_write.en is high in cycle {cycle} while no pass is busy")
            if ctx.get(dut.window_done):
                done.append((cycle, read_window_result(ctx, dut)))
            trace[cycle] = (ctx.get(dut.sweeping), read_counts(ctx, dut),
                            read_thresholds(ctx, dut))

    async def testbench(ctx):
        check_reset_outputs(ctx, dut, config)
        assert ctx.get(dut.spikes_ready), "spikes_ready is low after reset"
        assert not ctx.get(dut.sweeping), "sweeping is high after reset"
        window_ends, results = await run_raster(ctx, dut, model, raster, gaps)

        assert len(done) == len(expected), (
            f"window_done rose {len(done)} times, but the golden model ended {len(expected)} "
            f"windows")
        for (done_cycle, actual), result, end in zip(done, expected, window_ends, strict=True):
            context = f"window {result.window_index}"
            assert done_cycle == end + dut.window_latency, (
                f"{context}: window_done in cycle {done_cycle}, expected "
                f"{end + dut.window_latency} for a last timestep in cycle {end}")
            check_window_result(actual, result, context)
        check_sweep_timing(trace, window_ends, results, config)
        if after is not None:
            await after(ctx, harness, model)

    run_simulation(harness, testbench, background=[monitor])
    return expected


def random_raster(config, rate, timesteps, seed):
    rng = np.random.default_rng(seed)
    return rng.random((timesteps, config.n_neurons)) < rate


def mixed_rate_raster(config, timesteps, seed):
    """Neurons firing from silent to every timestep, so every class and rule branch occurs."""
    rng = np.random.default_rng(seed)
    rates = np.linspace(0.0, 1.0, config.n_neurons)
    return rng.random((timesteps, config.n_neurons)) < rates


def load_brunel(name, n_neurons, duration_ms):
    """Bin a recording to 1 ms timesteps and keep the first ``n_neurons`` neurons."""
    path = DATA / f"brunel_{name}.npz"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    with np.load(path) as recording:
        indices = recording["spike_indices"]
        times = recording["spike_times"]
    steps = np.floor(times / 1e-3).astype(np.int64)
    keep = (indices < n_neurons) & (steps < duration_ms)
    raster = np.zeros((duration_ms, n_neurons), dtype=bool)
    raster[steps[keep], indices[keep]] = True
    return raster


# Window results against the golden model.

@pytest.mark.parametrize("rate", [0.02, 0.25, 0.9])
def test_regulator_random_rates(rate):
    config = BASE
    simulate_windows(config, random_raster(config, rate, 5 * config.window, seed=int(rate * 100)))


def test_regulator_mixed_rates():
    config = BASE
    simulate_windows(config, mixed_rate_raster(config, 6 * config.window, seed=1))


def test_regulator_all_silent():
    config = BASE
    simulate_windows(config, np.zeros((3 * config.window, config.n_neurons), dtype=bool))


def test_regulator_all_firing_every_step():
    # Every count reaches the window length, the largest count a window can have.
    # RegulatorConfig makes counter_max at least window, and a power-of-two window is then
    # below counter_max, so the counters' saturation cannot be reached through this regulator.
    config = BASE
    simulate_windows(config, np.ones((3 * config.window, config.n_neurons), dtype=bool))


def test_regulator_thresholds_start_at_floor():
    config = BASE.replace(threshold_floor=200, threshold_init=200)
    simulate_windows(config, mixed_rate_raster(config, 4 * config.window, seed=2))


def test_regulator_thresholds_start_at_ceiling():
    config = BASE.replace(threshold_ceiling=300, threshold_init=300)
    simulate_windows(config, mixed_rate_raster(config, 4 * config.window, seed=3))


def test_regulator_random_gaps_between_timesteps():
    config = BASE
    rng = np.random.default_rng(4)
    raster = mixed_rate_raster(config, 4 * config.window, seed=4)
    simulate_windows(config, raster, gaps=rng.integers(0, 4, size=len(raster)))


def test_regulator_gap_only_at_window_end():
    # A pause right after each window's last timestep, and back-to-back timesteps elsewhere.
    config = BASE
    raster = mixed_rate_raster(config, 4 * config.window, seed=5)
    gaps = np.zeros(len(raster), dtype=int)
    gaps[config.window - 1::config.window] = 5
    simulate_windows(config, raster, gaps=gaps)


def test_regulator_shortest_window_back_to_back():
    # With window 2 and timesteps offered in every cycle, every window's first timestep comes
    # while the previous window's sweep runs, so spikes_ready stalls it until the cycle of that
    # window's window_done, and windows end back to back. run_raster checks every stall.
    config = RegulatorConfig(n_neurons=4, window=2, counter_width=2, target_count=1, margin=0,
                             threshold_step=7)
    rng = np.random.default_rng(6)
    simulate_windows(config, rng.random((40, 4)) < 0.5)


def test_regulator_timesteps_offered_during_sweep():
    # Twelve neurons and a window of four timesteps with short random gaps: timesteps arrive
    # in every phase of the sweep and wait for it to end.
    config = RegulatorConfig(n_neurons=12, window=4, counter_width=3, target_count=2,
                             margin=0, threshold_step=3)
    rng = np.random.default_rng(19)
    raster = mixed_rate_raster(config, 8 * config.window, seed=19)
    simulate_windows(config, raster, gaps=rng.integers(0, 3, size=len(raster)))


@pytest.mark.parametrize("shift", [0, 2, -3])
def test_regulator_proportional_rule(shift):
    config = BASE.replace(update_rule=PROPORTIONAL, proportional_shift=shift,
                          threshold_floor=100, threshold_ceiling=400)
    simulate_windows(config, mixed_rate_raster(config, 5 * config.window, seed=7 + shift))


def test_regulator_proportional_rule_at_floor_and_ceiling():
    config = BASE.replace(update_rule=PROPORTIONAL, proportional_shift=-4,
                          threshold_floor=240, threshold_ceiling=270, threshold_init=256)
    simulate_windows(config, mixed_rate_raster(config, 4 * config.window, seed=8))


def test_regulator_exponent_range_without_zero():
    config = BASE.replace(lr_exponent_min=1, lr_exponent_max=3, lr_reference_dispersion=40)
    simulate_windows(config, mixed_rate_raster(config, 3 * config.window, seed=9))


@pytest.mark.parametrize("regime", ["balanced", "quiet", "runaway"])
def test_regulator_brunel_recording(regime):
    config = RegulatorConfig(n_neurons=12, window=32, counter_width=6, target_count=3,
                             margin=1, threshold_step=4, lr_exponent_min=-2, lr_exponent_max=2)
    simulate_windows(config, load_brunel(regime, config.n_neurons, duration_ms=256))


def test_regulator_brunel_recording_proportional_gaps():
    config = RegulatorConfig(n_neurons=12, window=32, counter_width=6, target_count=3,
                             margin=1, update_rule=PROPORTIONAL, proportional_shift=-2)
    raster = load_brunel("balanced", config.n_neurons, duration_ms=192)
    gaps = np.random.default_rng(10).integers(0, 3, size=len(raster))
    simulate_windows(config, raster, gaps=gaps)


# Synaptic scaling and sleep passes through the regulator.

async def pulse(ctx, signal):
    ctx.set(signal, 1)
    await ctx.tick()
    ctx.set(signal, 0)


async def wait_for_done(ctx, busy, done, limit):
    """Wait for the ``done`` strobe and return the number of cycles ``busy`` was high."""
    busy_cycles = 0
    for _ in range(limit):
        if ctx.get(done):
            return busy_cycles
        busy_cycles += ctx.get(busy)
        await ctx.tick()
    raise AssertionError(f"no done strobe within {limit} cycles")


async def scale_and_check(ctx, harness, model, weights, context):
    dut = harness.regulator
    await pulse(ctx, dut.scale_start)
    busy_cycles = await wait_for_done(ctx, dut.scale_busy, dut.scale_done,
                                      4 * dut.scale_pass_cycles)
    assert busy_cycles == dut.scale_pass_cycles, (
        f"{context}: scale_busy was high for {busy_cycles} cycles, documented "
        f"{dut.scale_pass_cycles}")
    expected = model.scale_weights(weights)
    actual = read_memory(ctx, harness.memory, weights.shape)
    assert_array_equal(actual, expected, field="weights", context=context, axes=("pre", "post"))
    return expected


async def sleep_and_check(ctx, harness, weights, context):
    dut = harness.regulator
    await pulse(ctx, dut.sleep_start)
    busy_cycles = await wait_for_done(ctx, dut.sleep_busy, dut.sleep_done,
                                      4 * dut.sleep_pass_cycles)
    expected = prune_weights(weights, dut.config)
    documented = dut.sleep_pass_cycles if expected.max_magnitude else dut.sleep_scan_cycles
    assert busy_cycles == documented, (
        f"{context}: sleep_busy was high for {busy_cycles} cycles, documented {documented}")
    actual = read_memory(ctx, harness.memory, weights.shape)
    assert_array_equal(actual, expected.weights, field="weights", context=context,
                       axes=("pre", "post"))
    assert_value_equal(ctx.get(dut.pruned), expected.pruned, field="pruned", context=context)
    assert_value_equal(ctx.get(dut.max_magnitude), expected.max_magnitude,
                       field="max_magnitude", context=context)
    return expected.weights


def test_regulator_scale_then_sleep():
    config = BASE
    weights = random_weights(config, 5, seed=11)

    async def passes(ctx, harness, model):
        assert np.any(model.state.classes != 0), "the raster left every neuron in band"
        scaled = await scale_and_check(ctx, harness, model, weights, "scaling pass")
        slept = await sleep_and_check(ctx, harness, scaled, "sleep pass")
        await scale_and_check(ctx, harness, model, slept, "scaling pass after sleep")

    simulate_windows(config, mixed_rate_raster(config, 2 * config.window, seed=11),
                     weights=weights, after=passes)


def test_regulator_scale_with_reset_classes():
    # Before any window ends every neuron is in band, so scaling leaves every weight unchanged.
    config = BASE
    weights = random_weights(config, 3, seed=12)

    async def passes(ctx, harness, model):
        await scale_and_check(ctx, harness, model, weights, "scaling pass after reset")

    simulate_windows(config, np.zeros((config.window - 1, config.n_neurons), dtype=bool),
                     weights=weights, after=passes)


@pytest.mark.parametrize("weight_width", [4, 12])
def test_regulator_passes_extreme_weights(weight_width):
    config = BASE.replace(weight_width=weight_width, scale_shift=2)
    weights = random_weights(config, 4, seed=13)
    weights[0, :] = config.weight_min
    weights[1, :] = config.weight_max
    weights[2, ::2] = -1

    async def passes(ctx, harness, model):
        scaled = await scale_and_check(ctx, harness, model, weights, "scaling pass")
        await sleep_and_check(ctx, harness, scaled, "sleep pass")

    simulate_windows(config, mixed_rate_raster(config, config.window, seed=13),
                     weights=weights, after=passes)


def test_regulator_sleep_all_zero_weights():
    config = BASE
    weights = np.zeros((3, config.n_neurons), dtype=np.int64)

    async def passes(ctx, harness, model):
        await sleep_and_check(ctx, harness, weights, "sleep pass over zero weights")

    simulate_windows(config, np.zeros((0, config.n_neurons), dtype=bool), weights=weights,
                     after=passes)


def test_regulator_single_neuron_single_synapse():
    # A weight memory of depth 1 has address width 0.
    config = RegulatorConfig(n_neurons=1, window=4, counter_width=3, target_count=2, margin=0)
    weights = np.array([[config.weight_min]])

    async def passes(ctx, harness, model):
        assert harness.regulator.weight_addr_width == 0
        scaled = await scale_and_check(ctx, harness, model, weights, "scaling pass")
        await sleep_and_check(ctx, harness, scaled, "sleep pass")

    simulate_windows(config, np.ones((3 * config.window, 1), dtype=bool), weights=weights,
                     after=passes)


def test_regulator_simultaneous_starts_run_scaling_only():
    config = BASE
    weights = random_weights(config, 2, seed=14)

    async def passes(ctx, harness, model):
        dut = harness.regulator
        ctx.set(dut.scale_start, 1)
        ctx.set(dut.sleep_start, 1)
        await ctx.tick()
        ctx.set(dut.scale_start, 0)
        ctx.set(dut.sleep_start, 0)
        sleep_busy_cycles = 0
        for _ in range(dut.scale_pass_cycles + 2):
            sleep_busy_cycles += ctx.get(dut.sleep_busy)
            await ctx.tick()
        assert sleep_busy_cycles == 0, "a sleep request in the cycle of a scaling start ran"
        assert_array_equal(read_memory(ctx, harness.memory, weights.shape),
                           model.scale_weights(weights), field="weights",
                           context="after simultaneous starts", axes=("pre", "post"))

    simulate_windows(config, mixed_rate_raster(config, config.window, seed=14),
                     weights=weights, after=passes)


def test_regulator_start_while_busy_ignored():
    config = BASE
    weights = random_weights(config, 2, seed=15)

    async def passes(ctx, harness, model):
        dut = harness.regulator
        await pulse(ctx, dut.sleep_start)
        await ctx.tick()
        # Three cycles of the sleep pass have passed when wait_for_done starts counting.
        await pulse(ctx, dut.scale_start)
        await pulse(ctx, dut.sleep_start)
        busy_cycles = await wait_for_done(ctx, dut.sleep_busy, dut.sleep_done,
                                          4 * dut.sleep_pass_cycles)
        assert busy_cycles == dut.sleep_pass_cycles - 3, "the sleep pass was restarted"
        for _ in range(dut.scale_pass_cycles + 2):
            assert not ctx.get(dut.scale_busy), "a scaling request during a sleep pass ran"
            assert not ctx.get(dut.sleep_busy), "a sleep request during a sleep pass ran"
            await ctx.tick()
        assert_array_equal(read_memory(ctx, harness.memory, weights.shape),
                           prune_weights(weights, config).weights, field="weights",
                           context="after ignored starts", axes=("pre", "post"))

    simulate_windows(config, np.zeros((0, config.n_neurons), dtype=bool), weights=weights,
                     after=passes)


def test_regulator_window_end_waits_for_scaling():
    # Timesteps keep arriving during a scaling pass, but the last timestep of a window waits
    # until the pass ends, because its sweep writes the class memory that the pass reads. The
    # pass uses the classes of the window before it.
    config = BASE
    weights = random_weights(config, 4, seed=16)
    raster = mixed_rate_raster(config, 2 * config.window, seed=16)

    async def passes(ctx, harness, model):
        dut = harness.regulator
        expected = model.scale_weights(weights)
        await pulse(ctx, dut.scale_start)
        more = mixed_rate_raster(config, config.window, seed=17)
        for timestep, spikes in enumerate(more):
            stalls = await offer_spikes(ctx, dut, spikes)
            # The pass is busy from the cycle after its start; timestep j is offered j cycles
            # after that.
            waits = max(0, dut.scale_pass_cycles - timestep) if timestep == len(more) - 1 else 0
            assert stalls == waits, (
                f"timestep {timestep} during scaling stalled {stalls} cycles, expected {waits}")
            result = model.step(spikes)
            counts = model.state.counts if result is None else result.counts
            assert_array_equal(read_counts(ctx, dut), counts, field="counts",
                               context=f"timestep {timestep} during scaling")
        assert result is not None, "the last timestep did not end a window"
        assert not ctx.get(dut.scale_busy), "a window ended while the scaling pass ran"
        await ctx.tick().repeat(dut.window_latency)
        assert_array_equal(read_thresholds(ctx, dut), result.thresholds,
                           field="thresholds", context="window during scaling")
        assert_array_equal(read_memory(ctx, harness.memory, weights.shape), expected,
                           field="weights", context="scaling during a window",
                           axes=("pre", "post"))

    simulate_windows(config, raster, weights=weights, after=passes)


async def end_window_silently(ctx, dut, model, *, strobe_at_end=None):
    """Present the rest of a window, silent, and return in the first sweep cycle after its last
    timestep. ``strobe_at_end``, if given, is an input held high while the last timestep is
    offered."""
    config = dut.config
    spikes = np.zeros(config.n_neurons, dtype=bool)
    for remaining in range(config.window - model.state.timestep, 0, -1):
        if strobe_at_end is not None and remaining == 1:
            ctx.set(strobe_at_end, 1)
        await offer_spikes(ctx, dut, spikes)
        result = model.step(spikes)
    if strobe_at_end is not None:
        ctx.set(strobe_at_end, 0)
    assert result is not None, "the last timestep did not end a window"


async def check_scale_pass(ctx, harness, expected, busy_expected, context):
    """Wait for a scaling pass to finish; check how long it was busy and the weights it left."""
    dut = harness.regulator
    busy_cycles = await wait_for_done(ctx, dut.scale_busy, dut.scale_done,
                                      4 * dut.scale_pass_cycles)
    assert busy_cycles == busy_expected, (
        f"{context}: scale_busy was high for {busy_cycles} cycles, expected {busy_expected}")
    assert_array_equal(read_memory(ctx, harness.memory, expected.shape), expected,
                       field="weights", context=context, axes=("pre", "post"))


@pytest.mark.parametrize("delay", [0, 1])
def test_regulator_scale_start_waits_for_sweep(delay):
    # A scaling start in the cycle that takes a window's last timestep (delay 0) or in the
    # sweep's first cycle (delay 1) raises scale_busy at once. The pass begins after the sweep
    # with the classes of the window just swept. That window is silent, so it puts every neuron
    # below the band, unlike the mixed rates before it.
    config = BASE
    weights = random_weights(config, 3, seed=20 + delay)

    async def passes(ctx, harness, model):
        dut = harness.regulator
        before = model.scale_weights(weights)
        if delay == 0:
            await end_window_silently(ctx, dut, model, strobe_at_end=dut.scale_start)
        else:
            await end_window_silently(ctx, dut, model)
            await pulse(ctx, dut.scale_start)
        expected = model.scale_weights(weights)
        assert not np.array_equal(before, expected), "both windows give the same scaling"
        # scale_busy covers the rest of the sweep and then the pass.
        await check_scale_pass(ctx, harness, expected,
                               dut.sweep_cycles + 1 - delay + dut.scale_pass_cycles,
                               f"scaling started {delay} cycles after a window's last timestep")

    simulate_windows(config, mixed_rate_raster(config, 2 * config.window, seed=20 + delay),
                     weights=weights, after=passes)


def test_regulator_sleep_start_during_sweep_runs_at_once():
    # Sleep does not use the classes, so a sleep start during a sweep begins at once.
    config = BASE
    weights = random_weights(config, 3, seed=22)

    async def passes(ctx, harness, model):
        dut = harness.regulator
        await end_window_silently(ctx, dut, model)
        await sleep_and_check(ctx, harness, weights, "sleep pass started during a sweep")

    simulate_windows(config, mixed_rate_raster(config, config.window, seed=22),
                     weights=weights, after=passes)


# Interface and parameters.

def test_regulator_properties():
    config = BASE
    dut = Regulator(config, n_pre=3)
    Fragment.get(dut, platform=None)
    assert dut.window_latency == config.n_neurons + 2
    assert dut.sweep_cycles == config.n_neurons + 1
    assert dut.weight_depth == 3 * config.n_neurons
    assert dut.weight_addr_width == 5
    assert dut.counter_width == config.counter_width
    assert dut.threshold_width == config.threshold_width
    assert dut.dispersion_width == config.dispersion_width
    assert dut.lr_exponent_width == config.lr_exponent_width
    assert dut.weight_read.addr.shape().width == dut.weight_addr_width
    assert dut.weight_write.data.shape() == signed(config.weight_width)
    assert dut.pruned.shape() == unsigned(dut.weight_depth.bit_length())


def test_regulator_rejects_non_config():
    with pytest.raises(TypeError, match=r"config must be a RegulatorConfig, not 'default'"):
        Regulator("default", n_pre=2)


def test_regulator_rejects_non_integer_n_pre():
    with pytest.raises(TypeError, match=r"n_pre must be an integer, not 2\.0"):
        Regulator(BASE, n_pre=2.0)


def test_regulator_rejects_zero_n_pre():
    with pytest.raises(ValueError, match=r"n_pre must be at least 1, not 0; it is the number"):
        Regulator(BASE, n_pre=0)
