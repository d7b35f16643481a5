# amaranth: UnusedElaboratable=no
import numpy as np
import pytest

from homeo_hw.config import RegulatorConfig
from homeo_hw.golden.rate_counter import count_spikes
from homeo_hw.rate_counter import RateCounter
from tests.sim import assert_value_equal, run_simulation


def simulate_and_check(config, spikes, enables, clears):
    """Drive the counter cycle by cycle and compare it with ``count_spikes`` in every cycle.

    The model's count follows the counter's contract: a cycle's spike goes into the count when
    ``en`` is high, and ``clear`` then restarts the count at 0 after ``next_count`` has shown
    the window's final value.
    """
    dut = RateCounter(config)

    async def testbench(ctx):
        count = np.zeros(1, dtype=np.int64)
        for cycle, (spike, en, clear) in enumerate(zip(spikes, enables, clears, strict=True)):
            ctx.set(dut.spike, int(spike))
            ctx.set(dut.en, int(en))
            ctx.set(dut.clear, int(clear))
            count = count_spikes(count, np.array([spike and en]), config)
            assert_value_equal(ctx.get(dut.next_count), count[0], field="next_count",
                               context=f"cycle {cycle}")
            await ctx.tick()
            if clear:
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


def test_rate_counter_rejects_non_config():
    with pytest.raises(TypeError, match=r"config must be a RegulatorConfig, not \{\}"):
        RateCounter({})
