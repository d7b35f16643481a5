# amaranth: UnusedElaboratable=no
import numpy as np
import pytest

from homeo_hw.config import RegulatorConfig
from homeo_hw.golden.margin_comparator import ABOVE, BELOW, IN_BAND
from homeo_hw.golden.weight_scaler import scale_weights
from homeo_hw.weight_scaler import WeightScaler
from tests.sim import run_simulation


# Scale shifts from 1 to weight_width - 1, at three weight widths. The prune shift only has to
# be valid for the width.
CONFIGS = {
    f"width {width} shift {shift}": RegulatorConfig(weight_width=width, scale_shift=shift,
                                                    prune_shift=min(width, 4))
    for width, shifts in [(2, [1]), (4, [1, 2, 3]), (8, [1, 2, 4, 7])]
    for shift in shifts
}

# The three window classes and the (up, down) inputs that stand for them.
CLASSES = {ABOVE: (0, 1), IN_BAND: (0, 0), BELOW: (1, 0)}


def every_weight(config):
    return np.arange(config.weight_min, config.weight_max + 1)


def simulate_scaling(config, weights, up, down):
    """Return the scaler's output for each weight with fixed ``up`` and ``down`` inputs."""
    dut = WeightScaler(config)
    results = []

    async def testbench(ctx):
        ctx.set(dut.up, up)
        ctx.set(dut.down, down)
        for weight in weights:
            ctx.set(dut.weight, int(weight))
            results.append(ctx.get(dut.scaled))

    run_simulation(dut, testbench, clocked=False)
    return np.array(results, dtype=np.int64)


def mismatches(weights, actual, expected):
    return [f"weight {weights[i]}: gateware {actual[i]}, golden {expected[i]}"
            for i in np.flatnonzero(actual != expected)]


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("window_class", CLASSES, ids=["above", "in band", "below"])
def test_weight_scaler_every_weight(name, window_class):
    config = CONFIGS[name]
    weights = every_weight(config)
    up, down = CLASSES[window_class]
    expected = scale_weights(weights[:, np.newaxis], [window_class], config)[:, 0]
    actual = simulate_scaling(config, weights, up, down)
    differences = mismatches(weights, actual, expected)
    assert not differences, (
        f"{name}, up={up} down={down}: scaled differs for " + "; ".join(differences[:8]))


@pytest.mark.parametrize("name", ["width 4 shift 1", "width 8 shift 2"])
def test_weight_scaler_up_and_down_hold(name):
    # The margin comparator never raises both, and the documented contract is that they cancel.
    config = CONFIGS[name]
    weights = every_weight(config)
    actual = simulate_scaling(config, weights, up=1, down=1)
    differences = mismatches(weights, actual, weights)
    assert not differences, (
        f"{name}, up=1 down=1: scaled differs from the weight for " + "; ".join(differences[:8]))


def test_weight_scaler_latency():
    assert WeightScaler(RegulatorConfig()).latency == 0


def test_weight_scaler_rejects_non_config():
    with pytest.raises(TypeError, match=r"config must be a RegulatorConfig, not 8"):
        WeightScaler(8)
