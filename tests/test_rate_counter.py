# amaranth: UnusedElaboratable=no
import numpy as np
import pytest

from homeo_hw.config import RegulatorConfig
from homeo_hw.golden.rate_counter import count_spikes
from homeo_hw.rate_counter import RateCounter
from tests.sim import assert_value_equal, run_simulation


def simulate_and_check(config, spikes, enables, clears, shifts=None, *, saturating=True):
    """Drive the counter cycle by cycle and compare it with ``count_spikes`` in every cycle.

    The model's count follows the counter's contract: a cycle's spike goes into the count when
    ``en`` is high, and ``clear`` then restarts the count at 0 after ``next_count`` has shown
    the window's final value. ``shifts`` contains None, or the value to load in that cycle.
    """
    dut = RateCounter(config, saturating=saturating)
    shifts = [None] * len(spikes) if shifts is None else shifts

    async def testbench(ctx):
        count = np.zeros(1, dtype=np.int64)
        cycles = zip(spikes, enables, clears, shifts, strict=True)
        for cycle, (spike, en, clear, shift) in enumerate(cycles):
            ctx.set(dut.spike, int(spike))
            ctx.set(dut.en, int(en))
            ctx.set(dut.clear, int(clear))
            ctx.set(dut.shift, int(shift is not None))
            ctx.set(dut.shift_in, 0 if shift is None else shift)
            count = count_spikes(count, np.array([spike and en]), config)
            assert_value_equal(ctx.get(dut.next_count), count[0], field="next_count",
                               context=f"cycle {cycle}")
            await ctx.tick()
            if shift is not None:
                count = np.array([shift], dtype=np.int64)
            elif clear:
                count = np.zeros(1, dtype=np.int64)
            assert_value_equal(ctx.get(dut.count), count[0], field="count",
                               context=f"after cycle {cycle}")

    run_simulation(dut, testbench)


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 1.0])
def test_rate_counter_random_spikes(rate):
    config = RegulatorConfig(window=16, counter_width=5, target_count=3)
    rng = np.random.default_rng(int(rate * 100))
    cycles = 300
    spikes = rng.random(cycles) < rate
    enables = rng.random(cycles) < 0.8
    clears = rng.random(cycles) < 0.02
    simulate_and_check(config, spikes, enables, clears)


def test_rate_counter_saturates_at_counter_max():
    config = RegulatorConfig(window=8, counter_width=4, target_count=2)
    cycles = config.counter_max + 5
    simulate_and_check(config, [True] * cycles, [True] * cycles, [False] * cycles)


def test_rate_counter_clear_with_spike_ends_window():
    # The spike of the clearing cycle is in next_count, and count restarts at 0, so a spike in
    # the very next cycle is the first of the new window.
    config = RegulatorConfig(window=8, counter_width=4, target_count=2)
    spikes = [True, True, True, True, True, False, True]
    enables = [True] * 7
    clears = [False, False, True, True, False, False, True]
    simulate_and_check(config, spikes, enables, clears)


def test_rate_counter_clear_at_saturation():
    config = RegulatorConfig(window=8, counter_width=4, target_count=2)
    cycles = config.counter_max + 3
    clears = [False] * (cycles - 2) + [True, False]
    simulate_and_check(config, [True] * cycles, [True] * cycles, clears)


def test_rate_counter_spike_ignored_without_enable():
    config = RegulatorConfig(window=8, counter_width=4, target_count=2)
    simulate_and_check(config, [True] * 6, [False, True, False, False, True, False], [False] * 6)


@pytest.mark.parametrize("saturating", [True, False])
def test_rate_counter_random_shifts(saturating):
    # Shifts load random values, including 0 and counter_max, in cycles with and without
    # spikes and clears. Without saturation the count is kept below counter_max: the model
    # saturates, so the two agree only there.
    config = RegulatorConfig(window=8, counter_width=4, target_count=2)
    rng = np.random.default_rng(21 + saturating)
    cycles = 400
    spikes = rng.random(cycles) < 0.5
    enables = rng.random(cycles) < 0.8
    clears = rng.random(cycles) < 0.05
    loads = rng.integers(0, config.counter_max + 1 if saturating else config.window,
                         size=cycles)
    shifts = [int(load) if take else None
              for load, take in zip(loads, rng.random(cycles) < 0.15, strict=True)]
    if not saturating:
        # Shift a 0 in whenever the count could reach counter_max.
        count = 0
        for cycle in range(cycles):
            if count >= config.window and shifts[cycle] is None:
                shifts[cycle] = 0
            if shifts[cycle] is not None:
                count = shifts[cycle]
            elif clears[cycle]:
                count = 0
            else:
                count += int(spikes[cycle] and enables[cycle])
    simulate_and_check(config, spikes, enables, clears, shifts, saturating=saturating)


def test_rate_counter_shift_after_max_count():
    # Counting up to the largest count, then a shift. Without saturation a further spike would
    # wrap the count, so the shifting cycle has none. The random test has spikes in shifting
    # cycles.
    config = RegulatorConfig(window=8, counter_width=4, target_count=2)
    cycles = config.counter_max + 2
    spikes = [True] * config.counter_max + [False, True]
    shifts = [None] * config.counter_max + [3, None]
    simulate_and_check(config, spikes, [True] * cycles, [False] * cycles, shifts,
                       saturating=False)


def test_rate_counter_rejects_non_bool_saturating():
    with pytest.raises(TypeError, match=r"saturating must be True or False, not 1"):
        RateCounter(RegulatorConfig(), saturating=1)


def test_rate_counter_rejects_non_config():
    with pytest.raises(TypeError, match=r"config must be a RegulatorConfig, not \{\}"):
        RateCounter({})
