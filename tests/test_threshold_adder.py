# amaranth: UnusedElaboratable=no
import numpy as np
import pytest

from homeo_hw.config import DEADBAND, PROPORTIONAL, RegulatorConfig
from homeo_hw.golden.margin_comparator import ABOVE, BELOW, classify
from homeo_hw.golden.threshold_adder import update_thresholds
from homeo_hw.threshold_adder import ThresholdAdder
from tests.sim import CLOCK_PERIOD, run_simulation


BASE = RegulatorConfig(window=32, counter_width=6, target_count=12, margin=2)

CONFIGS = {
    "deadband": BASE,
    "deadband narrow range": BASE.replace(threshold_floor=100, threshold_ceiling=130,
                                          threshold_init=110, threshold_step=7),
    "deadband step spans range": BASE.replace(threshold_floor=10, threshold_ceiling=20,
                                              threshold_init=15, threshold_step=10),
    "proportional shift 0": BASE.replace(update_rule=PROPORTIONAL),
    "proportional shift 2": BASE.replace(update_rule=PROPORTIONAL, proportional_shift=2),
    "proportional shift past error": BASE.replace(update_rule=PROPORTIONAL,
                                                  proportional_shift=8),
    "proportional negative shift": BASE.replace(update_rule=PROPORTIONAL,
                                                proportional_shift=-3),
    "proportional most negative shift": BASE.replace(update_rule=PROPORTIONAL,
                                                     proportional_shift=-12),
    "proportional narrow range": BASE.replace(update_rule=PROPORTIONAL, proportional_shift=-1,
                                              threshold_floor=40, threshold_ceiling=60,
                                              threshold_init=50),
    "proportional wide counter": RegulatorConfig(window=16, counter_width=8, target_count=5,
                                                 margin=1, threshold_width=6,
                                                 threshold_frac_bits=3, threshold_ceiling=63,
                                                 threshold_init=8, update_rule=PROPORTIONAL,
                                                 proportional_shift=1),
}


def probe_thresholds(config, rng):
    """Thresholds at and next to floor and ceiling, at both ends of the raw range, and random."""
    raw_max = (1 << config.threshold_width) - 1
    edges = [0, 1, config.threshold_floor, config.threshold_floor + 1,
             config.threshold_ceiling - 1, config.threshold_ceiling, raw_max - 1, raw_max,
             config.threshold_init]
    randoms = rng.integers(0, raw_max + 1, size=8)
    values = np.clip(np.concatenate([edges, randoms]), 0, raw_max)
    return np.unique(values)


def simulate_update(config, thresholds, counts):
    """Return the adder's next threshold for each (threshold, count) pair."""
    dut = ThresholdAdder(config)
    classes = classify(counts, config)
    results = []

    async def testbench(ctx):
        for threshold, count, cls in zip(thresholds, counts, classes, strict=True):
            ctx.set(dut.threshold, int(threshold))
            ctx.set(dut.count, int(count))
            ctx.set(dut.above, int(cls == ABOVE))
            ctx.set(dut.below, int(cls == BELOW))
            results.append(ctx.get(dut.next_threshold))
            await ctx.delay(CLOCK_PERIOD)

    run_simulation(dut, testbench, clocked=False)
    return np.array(results)


@pytest.mark.parametrize("name", CONFIGS)
def test_threshold_adder_every_count(name):
    config = CONFIGS[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    grid_thresholds, grid_counts = np.meshgrid(probe_thresholds(config, rng),
                                               np.arange(config.counter_max + 1))
    thresholds, counts = grid_thresholds.ravel(), grid_counts.ravel()
    expected = update_thresholds(thresholds, counts, config)
    actual = simulate_update(config, thresholds, counts)
    mismatches = [
        f"threshold {thresholds[i]}, count {counts[i]}: gateware {actual[i]}, golden {expected[i]}"
        for i in np.flatnonzero(actual != expected)]
    assert not mismatches, f"{name}: next_threshold differs for " + "; ".join(mismatches[:8])

def test_threshold_adder_clamps_out_of_range_input():
    # A threshold outside [floor, ceiling] cannot come from the regulator, but the adder still
    # clamps its output into range.
    config = CONFIGS["deadband narrow range"]
    thresholds = np.array([0, 255, 4095, 0, 4095])
    counts = np.array([config.target_count] * 3 + [0, config.counter_max])
    actual = simulate_update(config, thresholds, counts)
    assert np.all(actual >= config.threshold_floor), actual
    assert np.all(actual <= config.threshold_ceiling), actual


def test_threshold_adder_rejects_non_config():
    with pytest.raises(TypeError, match=r"config must be a RegulatorConfig, not 'deadband'"):
        ThresholdAdder(DEADBAND)
