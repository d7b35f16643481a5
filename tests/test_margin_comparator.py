# amaranth: UnusedElaboratable=no
import numpy as np
import pytest

from homeo_hw.config import RegulatorConfig
from homeo_hw.golden.margin_comparator import ABOVE, BELOW, classify
from homeo_hw.margin_comparator import MarginComparator
from tests.sim import CLOCK_PERIOD, assert_array_equal, run_simulation


CONFIGS = {
    "default": RegulatorConfig(),
    "zero margin": RegulatorConfig(target_count=6, margin=0),
    "wide band": RegulatorConfig(window=32, counter_width=6, target_count=20, margin=11),
    "wide counter": RegulatorConfig(window=16, counter_width=8, target_count=3, margin=2),
}


def simulate_classes(config, counts):
    """Return the comparator's (above, below) outputs for each count."""
    dut = MarginComparator(config)
    above, below = [], []

    async def testbench(ctx):
        for count in counts:
            ctx.set(dut.count, int(count))
            above.append(ctx.get(dut.above))
            below.append(ctx.get(dut.below))
            await ctx.delay(CLOCK_PERIOD)

    run_simulation(dut, testbench, clocked=False)
    return np.array(above), np.array(below)


@pytest.mark.parametrize("name", CONFIGS)
def test_margin_comparator_every_count(name):
    config = CONFIGS[name]
    counts = np.arange(config.counter_max + 1)
    above, below = simulate_classes(config, counts)
    expected = classify(counts, config)
    assert_array_equal(above, expected == ABOVE, field="above", context=name, axes=("count",))
    assert_array_equal(below, expected == BELOW, field="below", context=name, axes=("count",))


def test_margin_comparator_rejects_non_config():
    with pytest.raises(TypeError, match=r"config must be a RegulatorConfig, not 8"):
        MarginComparator(8)
