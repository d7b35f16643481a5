# amaranth: UnusedElaboratable=no
import gc
import re
import warnings

import numpy as np
import pytest
from amaranth.hdl import UnusedElaboratable

from homeo_hw.boards import BOARDS, get_board
from homeo_hw.boards.top import (ARCHITECTURES, DEVICES, RATE_BITS, Architecture, Debouncer,
                                 HomeostasisTop,
                                 RegulationStatus, SpikeSource, default_rates, get_architecture,
                                 register_architecture)
from homeo_hw.config import RegulatorConfig
from homeo_hw.golden import IntegerRegulator, prune_weights
from homeo_hw.state_memory import SPRAM_WIDTH, UP5K_SPRAM_COUNT, spram_count
from homeo_hw.tdm_regulator import state_word_layout
from tests.sim import (assert_array_equal, assert_value_equal, read_memory, read_thresholds,
                       run_simulation)


SMALL = RegulatorConfig(n_neurons=4, window=8, counter_width=4, target_count=2, margin=1)


def xorshift32(state):
    """Advance Marsaglia's 32-bit xorshift generator (shifts 13, 17, 5) by one step."""
    state ^= (state << 13) & 0xFFFFFFFF
    state ^= state >> 17
    state ^= (state << 5) & 0xFFFFFFFF
    return state


def reference_spikes(source, n_neurons, timesteps):
    """Model the spike source cycle by cycle in Python: one decision per cycle, then idle."""
    state = source.seed_state
    rates = source.rates_raw
    result = []
    for _ in range(timesteps):
        spikes = np.zeros(n_neurons, dtype=np.int64)
        for cycle in range(source.timestep_cycles):
            if cycle < n_neurons:
                spikes[cycle] = (state & ((1 << RATE_BITS) - 1)) < rates[cycle % len(rates)]
            state = xorshift32(state)
        result.append(spikes)
    return np.array(result)


def test_registry_lists_five_boards():
    assert set(BOARDS) == {"icebreaker", "icestick", "upduino_v3", "ice40_hx8k_b_evn",
                           "tinyfpga_bx"}
    for board in BOARDS.values():
        assert board.device in DEVICES, board.name
        assert board.led_mapping, board.name


def test_unknown_board_lists_known():
    with pytest.raises(ValueError, match=r"unknown board 'nope'; known boards: "
                                         r"ice40_hx8k_b_evn, icebreaker, icestick, tinyfpga_bx, "
                                         r"upduino_v3"):
        get_board("nope")


def test_unknown_architecture_lists_known():
    with pytest.raises(ValueError, match=r"unknown architecture 'systolic'; known "
                                         r"architectures: .*parallel"):
        get_architecture("systolic")


def test_register_architecture_rejects_non_architecture():
    with pytest.raises(TypeError, match=r"architecture must be an Architecture instance, "
                                        r"not 'tdm'"):
        register_architecture("tdm")


def test_register_architecture_adds_name():
    class Custom(Architecture):
        name = "custom_for_test"

    try:
        custom = register_architecture(Custom())
        assert get_architecture("custom_for_test") is custom
    finally:
        ARCHITECTURES.pop("custom_for_test", None)


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_board_top_prepares(name):
    # Elaborates the whole top-level with the board's platform and writes the build plan, which
    # needs no tools: every LED and button the board file requests must exist.
    board = get_board(name)
    top = HomeostasisTop(board, SMALL.replace(n_neurons=2), n_pre=2)
    plan = board.create_platform().prepare(top, name="top")
    assert "top.il" in plan.files
    pcf = plan.files["top.pcf"]
    assert re.search(r"set_io \S*led\S* ", pcf), f"{name}: no LED pin constrained"
    if board.button is not None:
        assert re.search(r"set_io \S*button\S* ", pcf), f"{name}: button pin not constrained"


def test_board_clock_of_upduino_divided_to_12_mhz():
    assert get_board("upduino_v3").clock_frequency == 12e6


def test_spike_source_matches_reference_model():
    n = 5
    source = SpikeSource(n, rates=(0.1, 0.5, 0.9), seed=7, timestep_cycles=9)
    expected = reference_spikes(source, n, timesteps=12)
    seen = []

    async def testbench(ctx):
        while len(seen) < len(expected):
            if ctx.get(source.spikes_valid):
                value = ctx.get(source.spikes)
                seen.append([(value >> i) & 1 for i in range(n)])
            await ctx.tick()

    run_simulation(source, testbench)
    for timestep, (actual, expected_spikes) in enumerate(zip(seen, expected, strict=True)):
        assert_array_equal(actual, expected_spikes, field="spikes", context=f"timestep {timestep}")


def test_spike_source_rates_follow_tiers():
    # Over many timesteps the empirical rate of each tier approaches its probability.
    n = 3
    rates = (0.05, 0.25, 0.75)
    source = SpikeSource(n, rates=rates, seed=3, timestep_cycles=n + 1)
    spikes = reference_spikes(source, n, timesteps=4000)
    measured = spikes.mean(axis=0)
    for neuron, rate in enumerate(rates):
        assert abs(measured[neuron] - rate) < 0.03, (
            f"neuron {neuron}: rate {measured[neuron]:.3f}, expected about {rate}")


def test_spike_source_serial_outputs_match_vector():
    n = 4
    source = SpikeSource(n, rates=(0.5,), seed=11, timestep_cycles=6)
    timesteps = []

    async def testbench(ctx):
        decided = {}
        while len(timesteps) < 5:
            if ctx.get(source.serial_valid):
                decided[ctx.get(source.serial_index)] = ctx.get(source.serial_spike)
            if ctx.get(source.spikes_valid):
                value = ctx.get(source.spikes)
                timesteps.append(([(value >> i) & 1 for i in range(n)],
                                  [decided.get(i) for i in range(n)]))
                decided = {}
            await ctx.tick()

    run_simulation(source, testbench)
    for timestep, (vector, serial) in enumerate(timesteps):
        assert vector == serial, f"timestep {timestep}: vector {vector}, serial {serial}"


def test_spike_source_back_pressure_keeps_sequence():
    # A consumer that is ready in a random third of the cycles receives the same decisions, in
    # the same order, as one that is always ready.
    n = 4
    source = SpikeSource(n, rates=(0.3, 0.7), seed=9, timestep_cycles=7)
    expected = reference_spikes(source, n, timesteps=6)
    ready = np.random.default_rng(2).random(2000) < 1 / 3
    transfers = []
    timestep_ends = []

    async def testbench(ctx):
        for cycle_ready in ready:
            ctx.set(source.serial_ready, int(cycle_ready))
            if cycle_ready and ctx.get(source.serial_valid):
                transfers.append((ctx.get(source.serial_index), ctx.get(source.serial_spike)))
            if cycle_ready and ctx.get(source.spikes_valid):
                value = ctx.get(source.spikes)
                timestep_ends.append([(value >> i) & 1 for i in range(n)])
            await ctx.tick()

    run_simulation(source, testbench)
    assert len(timestep_ends) >= len(expected), f"only {len(timestep_ends)} timesteps ended"
    for timestep, expected_spikes in enumerate(expected):
        serial = transfers[timestep * n:(timestep + 1) * n]
        assert [index for index, _ in serial] == list(range(n)), f"timestep {timestep}: {serial}"
        assert_array_equal([spike for _, spike in serial], expected_spikes, field="serial_spike",
                           context=f"timestep {timestep}")
        assert_array_equal(timestep_ends[timestep], expected_spikes, field="spikes",
                           context=f"timestep {timestep}")


def test_spike_source_rejects_short_timestep():
    with pytest.raises(ValueError, match=r"a timestep of 8 cycles is too short to decide 8 "
                                         r"neurons one per cycle; use at least 9 cycles"):
        SpikeSource(8, rates=(0.1,), seed=1, timestep_cycles=8)


@pytest.mark.parametrize("rates", [(1.5,), (-0.1,), ("fast",)])
def test_spike_source_rejects_bad_rate(rates):
    with pytest.raises(ValueError, match=r"spike rate must be a probability per timestep in "
                                         r"\[0, 1\], not"):
        SpikeSource(2, rates=rates, seed=1, timestep_cycles=4)


def test_spike_source_rejects_empty_rates():
    with pytest.raises(ValueError, match=r"rates must contain at least one spike rate"):
        SpikeSource(2, rates=(), seed=1, timestep_cycles=4)


def test_default_rates_straddle_band():
    config = RegulatorConfig(n_neurons=3)
    below, in_band, above = (rate * config.window for rate in default_rates(config))
    assert below < config.lower_bound
    assert config.lower_bound <= in_band <= config.upper_bound
    assert above > config.upper_bound


def test_regulation_status_plurality_exhaustive():
    n = 5
    status = RegulationStatus(n)
    cases = [(above, below) for above in range(n + 1) for below in range(n + 1 - above)]

    async def testbench(ctx):
        assert ctx.get(status.in_band) == 1, "in_band must be high from reset"
        heartbeat = ctx.get(status.heartbeat)
        for above, below in cases:
            ctx.set(status.n_above, above)
            ctx.set(status.n_below, below)
            ctx.set(status.window_done, 1)
            await ctx.tick()
            ctx.set(status.window_done, 0)
            in_band = n - above - below
            expected = ("above" if above > max(in_band, below)
                        else "below" if below > max(in_band, above) else "in_band")
            actual = {name: ctx.get(getattr(status, name))
                      for name in ("above", "in_band", "below")}
            assert sum(actual.values()) == 1, f"above={above}, below={below}: {actual}"
            assert actual[expected] == 1, (
                f"above={above}, below={below}, in band={in_band}: expected {expected}, "
                f"got {actual}")
            assert ctx.get(status.heartbeat) != heartbeat, "heartbeat did not toggle"
            heartbeat = ctx.get(status.heartbeat)

    run_simulation(status, testbench)


def test_top_rejects_short_timestep():
    top = HomeostasisTop(get_board("icestick"), RegulatorConfig(n_neurons=20),
                         timestep_rate=1e6)
    with pytest.raises(ValueError, match=r"20 neurons need at least 21 cycles per timestep, but "
                                         r"12 MHz at 1e\+06 timesteps/s gives 12; lower the "
                                         r"timestep rate"):
        top.timestep_cycles(12e6)


@pytest.mark.parametrize("option, value, message", [
    ("n_pre", -1, r"n_pre must be a non-negative integer, not -1"),
    ("n_pre", 0, (r"the parallel architecture needs a weight memory, so n_pre must be at "
                  r"least 1, not 0; only tdm builds without one")),
    ("sleep_every", 0, r"sleep_every must be a positive integer, not 0"),
    ("timestep_rate", 0, r"timestep_rate must be positive, not 0"),
])
def test_top_rejects_bad_option(option, value, message):
    with pytest.raises(ValueError, match=message):
        HomeostasisTop(get_board("icestick"), SMALL, **{option: value})


def test_top_rejects_non_config():
    with pytest.raises(TypeError, match=r"config must be a RegulatorConfig, not 8"):
        HomeostasisTop(get_board("icestick"), 8)


@pytest.mark.parametrize("timestep_cycles", [8, 5])
def test_top_closed_loop_matches_golden_model(timestep_cycles):
    # The whole top-level without a board: the spike source drives the regulator, the scheduler
    # runs a scaling pass after every window and a sleep pass every third window. The golden
    # model takes the source's spike vector at every timestep that the regulator accepts. At
    # every window_done the thresholds and statistics are compared with the golden window
    # result, and after the last pass the weight memory too. Five cycles per timestep is the
    # shortest the source allows for four neurons.
    config = SMALL
    sleep_every = 3
    n_windows = 7
    top = HomeostasisTop(get_board("icestick"), config, n_pre=2, seed=5,
                         rates=(0.05, 0.25, 0.6), timestep_rate=12e6 / timestep_cycles,
                         sleep_every=sleep_every)
    model = IntegerRegulator(config)
    weights = top.initial_weights()
    passes = []

    async def testbench(ctx):
        nonlocal weights
        regulator = top.regulator
        results = []
        checked = 0
        # The weight memory is compared when the last pass has ended, before another window
        # can end, because a pass is shorter than a window.
        for _ in range(2 * n_windows * config.window * timestep_cycles):
            if len(passes) == n_windows:
                break
            if ctx.get(top.stimulus.spikes_valid) and ctx.get(top.stimulus.serial_ready):
                value = ctx.get(top.stimulus.spikes)
                result = model.step(np.array([(value >> i) & 1 for i in range(config.n_neurons)]))
                if result is not None:
                    if result.window_index % sleep_every == sleep_every - 1:
                        weights = prune_weights(weights, config).weights
                    else:
                        weights = model.scale_weights(weights)
                    results.append(result)
            if ctx.get(regulator.window_done):
                expected = results[checked]
                context = f"window {checked}"
                assert_array_equal(read_thresholds(ctx, regulator), expected.thresholds,
                                   field="thresholds", context=context)
                for field in ("n_above", "n_below", "dispersion", "lr_exponent"):
                    assert_value_equal(ctx.get(getattr(regulator, field)),
                                       getattr(expected, field), field=field, context=context)
                checked += 1
            if ctx.get(regulator.scale_done):
                passes.append("scale")
            if ctx.get(regulator.sleep_done):
                passes.append("sleep")
            await ctx.tick()
        assert len(results) == checked == n_windows, (
            f"{len(results)} windows ended and window_done rose {checked} times, expected "
            f"{n_windows}")
        assert_array_equal(read_memory(ctx, top.weight_memory, weights.shape), weights,
                           field="weight", axes=("pre", "post"),
                           context=f"after {n_windows} windows")

    run_simulation(top, testbench)
    expected = ["sleep" if index % sleep_every == sleep_every - 1 else "scale"
                for index in range(n_windows)]
    assert passes == expected


# The time-multiplexed architecture, `--arch tdm`.

def test_tdm_default_config_fits_up5k_spram():
    # On the UP5K every state word is stored twice in 16384 x 16-bit SPRAMs, so 32768 neurons
    # fit the 4 SPRAMs only with words of at most 16 bits.
    tdm = get_architecture("tdm")
    config = tdm.default_config(get_board("icebreaker"), 32768)
    assert config.n_neurons == 32768
    assert state_word_layout(config).size == SPRAM_WIDTH
    assert spram_count(state_word_layout(config).size, 32768) == UP5K_SPRAM_COUNT
    assert tdm.default_config(get_board("ice40_hx8k_b_evn"), 8) == RegulatorConfig(n_neurons=8)


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_board_tdm_top_prepares(name):
    # The tdm top-level with the board's default configuration elaborates to RTLIL without
    # running any tool. On the UP5K the state memory uses SPRAM, elsewhere block RAM.
    board = get_board(name)
    config = get_architecture("tdm").default_config(board, 16)
    top = HomeostasisTop(board, config, arch="tdm", n_pre=2)
    plan = board.create_platform().prepare(top, name="top")
    rtlil_text = plan.files["top.il"]
    uses_spram = "SB_SPRAM256KA" in rtlil_text
    assert uses_spram == (board.device == "iCE40UP5K"), f"{name}: SPRAM used: {uses_spram}"
    assert re.search(r"set_io \S*led\S* ", plan.files["top.pcf"]), f"{name}: no LED pin"


def test_tdm_up5k_rejects_wide_state_word():
    # 16385 neurons need two SPRAM rows per bank, so a 21-bit word (RegulatorConfig's default)
    # needs 8 SPRAMs and elaboration stops with the state memory's error.
    board = get_board("icebreaker")
    top = HomeostasisTop(board, RegulatorConfig(n_neurons=16385), arch="tdm", n_pre=1)
    with warnings.catch_warnings():
        # The parts elaborated before the error are never used.
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(ValueError, match=r"a banked state memory of 16385 words of 21 bits "
                                             r"needs 8 SB_SPRAM256KA blocks, but the iCE40UP5K "
                                             r"has 4; use words of at most 16 bits and at most "
                                             r"16384 words"):
            board.create_platform().prepare(top, name="top")
        del top
        gc.collect()


def test_tdm_capacity_counts_spram_words():
    # Each of two banks is tiled from 16384 x 16-bit SPRAMs. A 16-bit word gives 2 rows per bank,
    # so 32768 words. A 21-bit word needs 2 columns, so each bank gets 1 row, 16384 words.
    tdm = get_architecture("tdm")
    up5k = get_board("icebreaker")
    assert tdm.capacity(up5k, tdm.default_config(up5k, 32768)) == {"spram": 32768}
    assert tdm.capacity(up5k, RegulatorConfig(n_neurons=8)) == {"spram": 16384}
    assert tdm.capacity(get_board("ice40_hx8k_b_evn"), RegulatorConfig(n_neurons=8)) == {}
    assert get_architecture("parallel").capacity(up5k, RegulatorConfig(n_neurons=8)) == {}


def test_top_default_timestep_lengthens_for_large_populations():
    # 1 ms at 12 MHz is 12000 cycles, enough for up to 11999 neurons; more neurons get a
    # timestep of one cycle per neuron plus the timestep end.
    board = get_board("icebreaker")
    small = HomeostasisTop(board, RegulatorConfig(n_neurons=11999), arch="tdm")
    large = HomeostasisTop(board, RegulatorConfig(n_neurons=32768), arch="tdm")
    assert small.timestep_cycles(12e6) == 12000
    assert large.timestep_cycles(12e6) == 32769


@pytest.mark.parametrize("n_pre", [2, 0])
def test_tdm_top_closed_loop_matches_golden_model(n_pre):
    # The spike source feeds the time-multiplexed regulator through its serial side with
    # back-pressure (timesteps of n + 1 cycles, so spikes come back to back). The golden model
    # takes the source's spike vector at every accepted timestep end. At every window the sweep
    # records (count, threshold, class per neuron) and the statistics are compared with the
    # golden window result; after the last pass the weight memory is compared too. With
    # n_pre = 0 the top-level has no weight memory and runs no passes.
    config = SMALL.replace(n_neurons=5)
    n = config.n_neurons
    sleep_every = 3
    n_windows = 6
    top = HomeostasisTop(get_board("ice40_hx8k_b_evn"), config, arch="tdm", n_pre=n_pre, seed=4,
                         rates=(0.05, 0.25, 0.6), timestep_rate=12e6 / (n + 1),
                         sleep_every=sleep_every)
    model = IntegerRegulator(config)
    weights = top.initial_weights()
    golden_windows = []
    passes = []

    async def testbench(ctx):
        nonlocal weights
        regulator = top.regulator
        records = []
        checked = 0
        for _ in range(20000):
            if len(passes) == n_windows or (n_pre == 0 and checked == n_windows):
                break
            stimulus = top.stimulus
            if ctx.get(stimulus.spikes_valid) and ctx.get(stimulus.serial_ready):
                value = ctx.get(stimulus.spikes)
                result = model.step(np.array([(value >> i) & 1 for i in range(n)]))
                if result is not None and len(golden_windows) < n_windows:
                    golden_windows.append(result)
                    sleeps = result.window_index % sleep_every == sleep_every - 1
                    if n_pre and sleeps:
                        weights = prune_weights(weights, config).weights
                    elif n_pre:
                        weights = model.scale_weights(weights)
            if ctx.get(regulator.swept_valid):
                swept = ctx.get(regulator.swept)
                records.append((swept.neuron, swept.count, swept.threshold,
                                swept.above - swept.below))
            if ctx.get(regulator.window_done):
                expected = golden_windows[checked]
                context = f"window {checked}"
                assert [record[0] for record in records] == list(range(n)), (
                    f"{context}: swept neurons {[record[0] for record in records]}")
                assert_array_equal([record[1] for record in records], expected.counts,
                                   field="count", context=context)
                assert_array_equal([record[2] for record in records], expected.thresholds,
                                   field="threshold", context=context)
                assert_array_equal([record[3] for record in records], expected.classes,
                                   field="class", context=context)
                for field in ("n_above", "n_below", "dispersion", "lr_exponent"):
                    assert_value_equal(ctx.get(getattr(regulator, field)),
                                       getattr(expected, field), field=field, context=context)
                records = []
                checked += 1
            if n_pre and ctx.get(regulator.scale_done):
                passes.append("scale")
            if n_pre and ctx.get(regulator.sleep_done):
                passes.append("sleep")
            await ctx.tick()
        assert checked >= n_windows, f"only {checked} windows ended"
        if n_pre:
            assert_array_equal(read_memory(ctx, top.weight_memory, weights.shape), weights,
                               field="weight", axes=("pre", "post"),
                               context=f"after {n_windows} windows")

    run_simulation(top, testbench)
    if n_pre:
        expected = ["sleep" if index % sleep_every == sleep_every - 1 else "scale"
                    for index in range(n_windows)]
        assert passes == expected
    else:
        assert top.weight_memory is None
        assert passes == []
    classes = np.concatenate([window.classes for window in golden_windows])
    assert set(classes.tolist()) == {-1, 0, 1}, "the rates must put neurons in every class"


# Push-button debouncing.

def debounced_presses(raw, cycles):
    """Model of the Debouncer: the cycles in which ``pressed`` is high for a raw input."""
    level = level_before = differing = 0
    presses = []
    for cycle in range(len(raw)):
        if level and not level_before:
            presses.append(cycle)
        # The two-stage synchroniser shows the input of cycle c in cycle c + 2.
        seen = raw[cycle - 2] if cycle >= 2 else 0
        # The clock edge at the end of the cycle.
        level_before = level
        if seen == level:
            differing = 0
        elif differing == cycles - 1:
            level = seen
            differing = 0
        else:
            differing += 1
    return presses


def simulate_debouncer(raw, cycles):
    dut = Debouncer(cycles)
    presses = []

    async def testbench(ctx):
        for cycle, value in enumerate(raw):
            ctx.set(dut.button, int(value))
            if ctx.get(dut.pressed):
                presses.append(cycle)
            await ctx.tick()

    run_simulation(dut, testbench)
    return presses


def bouncing(level, bounces, hold):
    """A change to ``level`` that flickers ``bounces`` times, then holds for ``hold`` cycles."""
    return [level, 1 - level] * bounces + [level] * hold


def test_debouncer_one_press_per_bouncing_press():
    cycles = 6
    raw = [0] * 4 + bouncing(1, 5, 20) + bouncing(0, 5, 20) + bouncing(1, 3, 20) + [0] * 12
    presses = simulate_debouncer(raw, cycles)
    assert presses == debounced_presses(raw, cycles)
    assert len(presses) == 2, f"two bouncing presses gave strobes in cycles {presses}"


def test_debouncer_ignores_pulses_shorter_than_cycles():
    cycles = 6
    raw = [0] * 3 + [1] * (cycles - 1) + [0] * 10 + [1] * cycles + [0] * 12
    presses = simulate_debouncer(raw, cycles)
    assert presses == debounced_presses(raw, cycles)
    assert len(presses) == 1, f"expected only the {cycles}-cycle pulse, got {presses}"


@pytest.mark.parametrize("cycles", [1, 2, 5])
def test_debouncer_random_input_matches_model(cycles):
    rng = np.random.default_rng(cycles)
    # Runs of random length, so that some outlast the debounce time and some do not.
    raw = np.repeat(rng.integers(0, 2, size=80), rng.integers(1, 2 * cycles + 2, size=80))
    presses = simulate_debouncer(raw.tolist(), cycles)
    assert presses == debounced_presses(raw.tolist(), cycles)
    assert presses, "the random input never gave a press"


@pytest.mark.parametrize("cycles", [0, -3, 2.5, True])
def test_debouncer_rejects_bad_cycles(cycles):
    with pytest.raises(ValueError, match=rf"cycles must be a positive integer, not {cycles!r}"):
        Debouncer(cycles)
