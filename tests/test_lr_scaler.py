# amaranth: UnusedElaboratable=no
import numpy as np
import pytest
from amaranth.hdl import Fragment

from homeo_hw.config import RegulatorConfig
from homeo_hw.golden.lr_scaler import lr_exponent
from homeo_hw.lr_scaler import LearningRateScaler
from tests.sim import CLOCK_PERIOD, assert_array_equal, run_simulation


CONFIGS = {
    "default": RegulatorConfig(),
    "wide range": RegulatorConfig(n_neurons=16, lr_exponent_min=-4, lr_exponent_max=3),
    "negative range": RegulatorConfig(n_neurons=4, lr_exponent_min=-3, lr_exponent_max=-1),
    "positive range": RegulatorConfig(n_neurons=4, lr_exponent_min=2, lr_exponent_max=5,
                                      lr_reference_dispersion=100),
    "single exponent": RegulatorConfig(n_neurons=4, lr_exponent_min=0, lr_exponent_max=0),
    "reference one": RegulatorConfig(n_neurons=4, lr_reference_dispersion=1,
                                     lr_exponent_min=-2, lr_exponent_max=2),
    "extreme exponents": RegulatorConfig(n_neurons=2, lr_exponent_min=-15, lr_exponent_max=15),
}


def simulate_exponents(config, dispersions):
    dut = LearningRateScaler(config)
    exponents = []

    async def testbench(ctx):
        for dispersion in dispersions:
            ctx.set(dut.dispersion, int(dispersion))
            exponents.append(ctx.get(dut.exponent))
            await ctx.delay(CLOCK_PERIOD)

    run_simulation(dut, testbench, clocked=False)
    return np.array(exponents)


@pytest.mark.parametrize("name", CONFIGS)
def test_lr_scaler_every_dispersion(name):
    config = CONFIGS[name]
    # Every value the accumulator can hold, from all counts at target to all saturated.
    dispersions = np.arange(1 << config.dispersion_width)
    expected = [lr_exponent(int(d), config) for d in dispersions]
    assert_array_equal(simulate_exponents(config, dispersions), expected,
                       field="lr_exponent", context=name, axes=("dispersion",))


def test_lr_scaler_exponent_width_fits_range():
    config = CONFIGS["extreme exponents"]
    dut = LearningRateScaler(config)
    Fragment.get(dut, platform=None)
    assert dut.exponent.shape().signed
    assert dut.exponent.shape().width == config.lr_exponent_width


def test_lr_scaler_rejects_non_config():
    with pytest.raises(TypeError, match=r"config must be a RegulatorConfig, not None"):
        LearningRateScaler(None)
