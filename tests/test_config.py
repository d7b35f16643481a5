import math
import re

import pytest

from homeo_hw.config import (
    DEADBAND, PROPORTIONAL, RegulatorConfig, reference_dispersion, round_half_up,
)


# Each case: keyword arguments to RegulatorConfig, the exception, and a literal part of its message.
CONSTRUCTOR_ERRORS = [
    (dict(n_neurons=0), ValueError, "n_neurons must be at least 1, not 0"),
    (dict(n_neurons=1.5), TypeError, "n_neurons must be an integer, not 1.5"),
    (dict(n_neurons=True), TypeError, "n_neurons must be an integer, not True"),
    (dict(window=1), ValueError, "window must be at least 2, not 1"),
    (dict(window=48), ValueError, "window must be a power of two, not 48; use 32 or 64"),
    (dict(counter_width=0), ValueError, "counter_width must be at least 1, not 0"),
    (dict(counter_width=6), ValueError,
     ("counter_width 6 cannot count 64 spikes per window (at most 63); use counter_width=7 or "
     "more")),
    (dict(target_count=0), ValueError,
     ("target_count must be at least 1, not 0; a target of 0 spikes would only ever raise "
     "thresholds")),
    (dict(target_count=64), ValueError,
     "target_count must be less than the window of 64 timesteps, not 64"),
    (dict(margin=-1), ValueError, "margin must be at least 0, not -1"),
    (dict(margin=6), ValueError,
     "margin 6 must be less than target_count 6, or no count could fall below the band"),
    (dict(target_count=60, margin=4), ValueError,
     "target_count + margin = 64 must be less than the window of 64 timesteps"),
    (dict(threshold_width=1), ValueError, "threshold_width must be at least 2, not 1"),
    (dict(threshold_width=33), ValueError, "threshold_width must be at most 32, not 33"),
    (dict(threshold_frac_bits=-1), ValueError, "threshold_frac_bits must be at least 0, not -1"),
    (dict(threshold_frac_bits=13), ValueError, "threshold_frac_bits must be at most 12, not 13"),
    (dict(threshold_floor=-1), ValueError,
     "threshold_floor must be at least 0, not -1; a 12-bit threshold is unsigned"),
    (dict(threshold_ceiling=4096), ValueError,
     "threshold_ceiling must be at most 4095, not 4096; a 12-bit threshold is unsigned"),
    (dict(threshold_floor=100, threshold_ceiling=50), ValueError,
     "threshold_floor 100 is above threshold_ceiling 50; swap them"),
    (dict(threshold_init=5000), ValueError,
     "threshold_init must be at most 4095, not 5000 (it must lie between floor and ceiling)"),
    (dict(threshold_floor=300, threshold_init=256), ValueError,
     "threshold_init must be at least 300, not 256 (it must lie between floor and ceiling)"),
    (dict(threshold_step=0), ValueError,
     "threshold_step must be at least 1, not 0; the dead-band step is in raw threshold units"),
    (dict(threshold_ceiling=10, threshold_init=5, threshold_step=11), ValueError,
     "threshold_step must be at most 10, not 11"),
    (dict(proportional_shift=-13), ValueError, "proportional_shift must be at least -12, not -13"),
    (dict(proportional_shift=20), ValueError, "proportional_shift must be at most 19, not 20"),
    (dict(update_rule="pid"), ValueError,
     "update_rule must be one of 'deadband', 'proportional', not 'pid'"),
    (dict(weight_width=1), ValueError, "weight_width must be at least 2, not 1"),
    (dict(weight_width=17), ValueError, "weight_width must be at most 16, not 17"),
    (dict(scale_shift=0), ValueError,
     "scale_shift must be at least 1, not 0; a shift of s changes a weight by about 2**-s"),
    (dict(scale_shift=8), ValueError, "scale_shift must be at most 7, not 8"),
    (dict(lr_exponent_min=-16), ValueError, "lr_exponent_min must be at least -15, not -16"),
    (dict(lr_exponent_max=16), ValueError, "lr_exponent_max must be at most 15, not 16"),
    (dict(lr_exponent_min=1, lr_exponent_max=0), ValueError,
     "lr_exponent_min 1 is above lr_exponent_max 0; swap them"),
    (dict(lr_reference_dispersion=0), ValueError,
     "lr_reference_dispersion must be at least 1, not 0"),
    (dict(decay_exponent_raw=-1), ValueError, "decay_exponent_raw must be at least 0, not -1"),
    (dict(decay_exponent_raw=65), ValueError, "decay_exponent_raw must be at most 64, not 65"),
    (dict(strength_raw=17), ValueError, "strength_raw must be at most 16, not 17"),
    (dict(prune_shift=9), ValueError, "prune_shift must be at most 8, not 9"),
]

# Each case: keyword arguments to RegulatorConfig.from_float(64, ...), the exception and message.
FROM_FLOAT_ERRORS = [
    (dict(window=1), ValueError, "window must be at least 2, not 1"),
    (dict(window="64"), TypeError, "window must be an integer, not '64'"),
    (dict(target_rate="0.1"), TypeError, "target_rate must be a real number, not '0.1'"),
    (dict(target_rate=math.nan), ValueError, "target_rate must be finite, not nan"),
    (dict(target_rate=1.0), ValueError,
     "target_rate must be between 0 and 1 spikes per timestep, not 1.0"),
    (dict(margin_rate=-0.01), ValueError, "margin_rate must not be negative, not -0.01"),
    (dict(target_rate=0.001), ValueError,
     ("target_rate 0.001 rounds to 0 spikes in a 64-step window, so thresholds could only rise; "
     "use a window of at least 512 timesteps or a higher target rate")),
    (dict(threshold_range=(math.nan, None)), ValueError, "threshold floor must be finite, not nan"),
    (dict(threshold_range=(-1.0, None)), ValueError,
     "threshold floor must not be negative, not -1.0; thresholds are unsigned"),
    (dict(threshold_range=(0.0, math.inf)), ValueError,
     "threshold ceiling must be finite, not inf"),
    (dict(threshold_range=(2.0, 1.0)), ValueError,
     "threshold_range (2.0, 1.0) is out of order; give (floor, ceiling)"),
    (dict(threshold_range=(0.0, 20.0)), ValueError,
     ("threshold ceiling 20.0 does not fit a 12-bit threshold with 8 fractional bits (at most "
     "15.99609375); widen threshold_width or use fewer fractional bits")),
    (dict(threshold_init=-0.5), ValueError, "threshold_init must not be negative, not -0.5"),
    (dict(threshold_step=0), ValueError, "threshold_step must be positive, not 0"),
    (dict(threshold_step=0.001), ValueError,
     ("threshold_step 0.001 is below half of one threshold LSB (2**-8); use more "
     "threshold_frac_bits")),
    (dict(synaptic_scaling_step=1.0), ValueError,
     "synaptic_scaling_step must be between 0 and 1, not 1.0"),
    (dict(lr_scale_range=0.5), TypeError, "lr_scale_range must be a pair (min, max), not 0.5"),
    (dict(lr_scale_range=(math.nan, 2.0)), ValueError,
     "lr_scale_range minimum must be finite, not nan"),
    (dict(lr_scale_range=(0.5, math.inf)), ValueError,
     "lr_scale_range maximum must be finite, not inf"),
    (dict(lr_scale_range=(0, 2.0)), ValueError, "lr_scale_range minimum must be positive, not 0"),
    (dict(lr_scale_range=(2.0, 0.5)), ValueError,
     "lr_scale_range (2.0, 0.5) is out of order; give (min, max)"),
    (dict(lr_scale_range=(0.6, 0.9)), ValueError,
     "lr_scale_range (0.6, 0.9) contains no power of two"),
    (dict(lr_reference_std=math.nan), ValueError, "lr_reference_std must be finite, not nan"),
    (dict(lr_reference_std=0.0), ValueError, "lr_reference_std must be positive, not 0.0"),
    (dict(decay_exponent=-0.5), ValueError, "decay_exponent must not be negative, not -0.5"),
    (dict(consolidation_strength=1.5), ValueError,
     "consolidation_strength must be between 0 and 1, not 1.5"),
    (dict(prune_threshold=0.0), ValueError, "prune_threshold must be in (0, 1], not 0.0"),
    (dict(margin_rate=0.2), ValueError, "margin 13 must be less than target_count 6"),
]


@pytest.mark.parametrize("changes, exception, message", CONSTRUCTOR_ERRORS,
                         ids=[next(iter(case[0])) + "-" + str(index)
                              for index, case in enumerate(CONSTRUCTOR_ERRORS)])
def test_constructor_error_messages(changes, exception, message):
    with pytest.raises(exception, match=re.escape(message)):
        RegulatorConfig(**changes)


@pytest.mark.parametrize("changes, exception, message", FROM_FLOAT_ERRORS,
                         ids=[next(iter(case[0])) + "-" + str(index)
                              for index, case in enumerate(FROM_FLOAT_ERRORS)])
def test_from_float_error_messages(changes, exception, message):
    with pytest.raises(exception, match=re.escape(message)):
        RegulatorConfig.from_float(64, **changes)


def test_replace_validates_again():
    config = RegulatorConfig()
    with pytest.raises(ValueError, match="window must be a power of two, not 48"):
        config.replace(window=48)
    assert config.replace(n_neurons=3).n_neurons == 3


def test_replace_derives_reference_again():
    # The default reference dispersion scales with the population, so a copy for another
    # population size must not keep the old one.
    assert RegulatorConfig().replace(n_neurons=4096) == RegulatorConfig(n_neurons=4096)
    assert RegulatorConfig().replace(window=128, counter_width=8) == RegulatorConfig(
        window=128, counter_width=8)


def test_replace_keeps_given_reference():
    config = RegulatorConfig(lr_reference_dispersion=40)
    assert config.replace(n_neurons=4096).lr_reference_dispersion == 40
    assert RegulatorConfig().replace(lr_reference_dispersion=7).lr_reference_dispersion == 7


def test_round_half_up():
    assert round_half_up(6.4) == 6
    assert round_half_up(6.5) == 7
    assert round_half_up(2.5) == 3
    assert round_half_up(-2.5) == -2
    assert round_half_up(-2.6) == -3


def test_from_float_counts_round_half_up():
    config = RegulatorConfig.from_float(128, target_rate=0.1, margin_rate=0.02, window=64)
    assert config.target_count == 6, "0.1 * 64 = 6.4 must round to 6"
    assert config.margin == 1, "0.02 * 64 = 1.28 must round to 1"
    config = RegulatorConfig.from_float(128, target_rate=5 / 32, margin_rate=1 / 32, window=16)
    assert config.target_count == 3, "5/32 * 16 = 2.5 must round up to 3"
    assert config.margin == 1, "1/32 * 16 = 0.5 must round up to 1"


def test_from_float_threshold_conversion():
    config = RegulatorConfig.from_float(8, threshold_range=(0.5, 2.0), threshold_init=1.0,
                                        threshold_step=0.01, window=64)
    assert (config.threshold_floor, config.threshold_ceiling) == (128, 512)
    assert config.threshold_init == 256
    assert config.threshold_step == 3, "0.01 * 256 = 2.56 must round to 3 raw units"
    # Proportional gain 0.01 * 256 / 64 = 0.04 = 2**-4.64 raw units per spike, which rounds to
    # 2**-5 in the log2 domain.
    assert config.proportional_shift == 5
    config = RegulatorConfig.from_float(8, threshold_range=(0.0, None))
    assert config.threshold_ceiling == 4095, "a ceiling of None is the format's maximum"


def test_from_float_power_of_two_rounding():
    config = RegulatorConfig.from_float(8, lr_scale_range=(0.3, 3.0), synaptic_scaling_step=0.05,
                                        prune_threshold=0.1)
    # log2(0.3) = -1.74 rounds inwards to -1, log2(3) = 1.58 rounds inwards to 1.
    assert (config.lr_exponent_min, config.lr_exponent_max) == (-1, 1)
    assert config.scale_shift == 4, "-log2(0.05) = 4.32 must round to 4"
    assert config.prune_shift == 3, "-log2(0.1) = 3.32 must round to 3"
    config = RegulatorConfig.from_float(8, lr_scale_range=(0.25, 4.0))
    assert (config.lr_exponent_min, config.lr_exponent_max) == (-2, 2), "exact powers are kept"


def test_from_float_sleep_fields():
    config = RegulatorConfig.from_float(8, decay_exponent=0.5, consolidation_strength=0.8)
    assert config.decay_exponent_raw == 8, "0.5 * 16 = 8"
    assert config.strength_raw == 13, "0.8 * 16 = 12.8 must round to 13"


def test_reference_dispersion_default():
    # The sampling noise of a rate of 6/64 over 64 timesteps, as a summed absolute deviation of
    # counts: std * sqrt(2 / pi) * window * n_neurons.
    rate = 6 / 64
    std = math.sqrt(rate * (1 - rate) / 64)
    expected = math.floor(std * math.sqrt(2 / math.pi) * 64 * 8 + 0.5)
    assert RegulatorConfig().lr_reference_dispersion == expected
    assert reference_dispersion(1e-9, 2, 1) == 1, "the reference is at least 1"


def test_properties():
    config = RegulatorConfig(n_neurons=8, window=64, counter_width=7, target_count=6, margin=1,
                             threshold_frac_bits=8, weight_width=8, lr_exponent_min=-1,
                             lr_exponent_max=1)
    assert config.window_log2 == 6
    assert config.counter_max == 127
    assert (config.lower_bound, config.upper_bound) == (5, 7)
    assert config.threshold_scale == 256
    assert (config.weight_min, config.weight_max) == (-128, 127)
    assert config.magnitude_width == 8
    assert config.log_frac_bits == 7
    assert config.dispersion_width == 10, "8 * 127 = 1016 needs 10 bits"
    assert config.lr_exponent_width == 2, "-1..1 needs a sign bit and one magnitude bit"
    assert config.replace(lr_exponent_min=-15).lr_exponent_width == 5
    assert config.to_float_threshold(384) == 1.5


def test_field_names_and_rules():
    names = RegulatorConfig.field_names()
    assert names[0] == "n_neurons"
    assert "lr_reference_dispersion" in names
    assert len(names) == len(set(names))
    assert RegulatorConfig(update_rule=PROPORTIONAL).update_rule == PROPORTIONAL
    assert RegulatorConfig().update_rule == DEADBAND


def test_lr_exponent_init_clamps_zero():
    assert RegulatorConfig().lr_exponent_init == 0
    assert RegulatorConfig(lr_exponent_min=1, lr_exponent_max=3).lr_exponent_init == 1
    assert RegulatorConfig(lr_exponent_min=-3, lr_exponent_max=-2).lr_exponent_init == -2
