import doctest
import math
import re

import numpy as np
import pytest

from homeo_hw.config import RegulatorConfig
from homeo_hw.golden import NetworkRegulator, RegulationMetrics, SleepConsolidation
from homeo_hw.golden import metrics as metrics_module
from homeo_hw.golden import network_regulator as network_regulator_module


class TensorLike:
    """A minimal stand-in for a tensor: NumPy reads it only through ``__array__``."""

    def __init__(self, values):
        self._values = list(values)

    def __array__(self, dtype=None, copy=None):
        return np.array(self._values, dtype=dtype)


def naive_proportional(rates, thresholds, target, step):
    pairs = zip(rates, thresholds, strict=True)
    return [threshold + step * (rate - target) for rate, threshold in pairs]


def test_proportional_rule_matches_loop():
    rng = np.random.default_rng(1)
    rates = rng.random(50) * 0.4
    thresholds = rng.random(50) + 0.5
    reg = NetworkRegulator(target_rate=0.1, threshold_step=0.05)
    new_thresholds, _, _ = reg.regulate(rates, thresholds, 0.01)
    expected = naive_proportional(rates, thresholds, 0.1, 0.05)
    for neuron, (got, want) in enumerate(zip(new_thresholds, expected, strict=True)):
        assert got == pytest.approx(want, abs=1e-15), f"neuron {neuron}: threshold"


def test_proportional_is_default_rule():
    assert NetworkRegulator().update_rule == "proportional"


def test_deadband_band_edges_hold():
    # Dyadic values, so the band edges 0.0625 and 0.1875 are exact in binary.
    reg = NetworkRegulator(target_rate=0.125, margin=0.0625, threshold_step=0.5,
                           update_rule="deadband")
    rates = [0.1875, 0.25, 0.0625, 0.0, 0.125]
    new_thresholds, _, metrics = reg.regulate(rates, [1.0] * 5, 0.1)
    assert new_thresholds[0] == 1.0, "rate on the upper edge is in band"
    assert new_thresholds[1] == 1.5, "rate above the band raises by one step"
    assert new_thresholds[2] == 1.0, "rate on the lower edge is in band"
    assert new_thresholds[3] == 0.5, "rate below the band lowers by one step"
    assert new_thresholds[4] == 1.0, "rate at the target holds"
    assert (metrics.n_raised, metrics.n_lowered) == (1, 1)


def test_threshold_floor_and_ceiling_clip():
    reg = NetworkRegulator(target_rate=0.5, threshold_step=1.0, threshold_range=(0.2, 1.3))
    new_thresholds, _, metrics = reg.regulate([1.0, 0.0, 0.5], [1.0, 0.5, 2.0], 0.1)
    assert new_thresholds.tolist() == [1.3, 0.2, 1.3]
    # The mean change is taken after clipping: +0.3, -0.3 and -0.7.
    assert metrics.mean_threshold_change == pytest.approx(-0.7 / 3)


def test_threshold_one_sided_range():
    reg = NetworkRegulator(target_rate=0.5, threshold_step=1.0, threshold_range=(None, 1.2))
    new_thresholds, _, _ = reg.regulate([1.0, 0.0], [1.0, 0.0], 0.1)
    assert new_thresholds.tolist() == [1.2, -0.5], "no floor, ceiling 1.2"
    reg = NetworkRegulator(target_rate=0.5, threshold_step=1.0, threshold_range=(0.0, None))
    new_thresholds, _, _ = reg.regulate([1.0, 0.0], [1.0, 0.25], 0.1)
    assert new_thresholds.tolist() == [1.5, 0.0], "floor 0, no ceiling"


def test_threshold_dtype():
    reg = NetworkRegulator()
    new_thresholds, _, _ = reg.regulate([0.1, 0.2], np.ones(2, dtype=np.float32), 0.1)
    assert new_thresholds.dtype == np.float32
    new_thresholds, _, _ = reg.regulate([0.1, 0.2], [1, 1], 0.1)
    assert new_thresholds.dtype == np.float64


def test_inputs_not_modified():
    rates = np.array([0.3, 0.0, 0.1])
    thresholds = np.ones(3)
    weights = [np.ones((2, 3)), np.full((4, 3), -2.0)]
    copies = [rates.copy(), thresholds.copy()] + [w.copy() for w in weights]
    NetworkRegulator().regulate(rates, thresholds, 0.1, weights=weights)
    names = ["rates", "thresholds", "weights[0]", "weights[1]"]
    for name, before, after in zip(names, copies, [rates, thresholds] + weights, strict=True):
        assert np.array_equal(before, after), f"{name} was modified"


def test_above_below_counts_are_strict():
    reg = NetworkRegulator(target_rate=0.25)
    _, _, metrics = reg.regulate([0.25, 0.5, 0.0, 0.25], [1.0] * 4, 0.1)
    assert (metrics.n_above, metrics.n_below, metrics.n_neurons) == (1, 1, 4)
    assert (metrics.fraction_above, metrics.fraction_below) == (0.25, 0.25)
    assert metrics.mean_rate == 0.25


def test_lr_scale_follows_std():
    rng = np.random.default_rng(2)
    rates = 0.1 + rng.normal(0, 0.02, 100).clip(-0.1, 0.1)
    reg = NetworkRegulator(target_rate=0.1, lr_scale_range=(0.1, 10.0), lr_reference_std=0.03)
    _, new_lr, metrics = reg.regulate(rates, np.ones(100), 0.5)
    expected_scale = 0.03 / np.sqrt(np.mean((rates - rates.mean()) ** 2))
    assert metrics.lr_scale == pytest.approx(expected_scale, rel=1e-12)
    assert new_lr == pytest.approx(0.5 * expected_scale, rel=1e-12)
    assert metrics.lr_reason.startswith("increased to speed up learning")


def test_lr_scale_clipped_at_range():
    reg = NetworkRegulator(target_rate=0.1, lr_scale_range=(0.5, 2.0), lr_reference_std=0.01)
    _, new_lr, metrics = reg.regulate([0.0, 0.4], [1.0, 1.0], 0.1)
    assert metrics.lr_scale == 0.5, "0.01 / 0.2 = 0.05 is clipped to 0.5"
    assert new_lr == pytest.approx(0.05)
    assert metrics.lr_reason == ("reduced to slow weight changes: rate std 0.2 is above the "
                                 "reference 0.01, limited to the minimum 0.5")


def test_lr_scale_zero_std_gives_maximum():
    reg = NetworkRegulator(lr_scale_range=(0.5, 2.0))
    _, new_lr, metrics = reg.regulate([0.1, 0.1, 0.1], [1.0] * 3, 0.1)
    assert metrics.lr_scale == 2.0
    assert new_lr == pytest.approx(0.2)
    assert metrics.rate_std == 0.0
    assert "every neuron fires at the same rate" in metrics.lr_reason


def test_lr_scale_unchanged_when_std_equals_reference():
    reg = NetworkRegulator(lr_reference_std=0.25)
    _, _, metrics = reg.regulate([0.0, 0.5], [1.0, 1.0], 0.1)
    assert metrics.lr_scale == 1.0
    assert metrics.lr_reason == "unchanged: rate std 0.25 is equal to the reference 0.25"


def test_default_reference_std():
    reg = NetworkRegulator(target_rate=0.2, window=32)
    assert reg.reference_std == math.sqrt(0.2 * 0.8 / 32)
    assert NetworkRegulator(lr_reference_std=0.5).reference_std == 0.5


def test_synaptic_scaling_factors():
    reg = NetworkRegulator(target_rate=0.1, synaptic_scaling_step=0.25)
    rates = [0.0, 0.05, 0.1, 0.11, 0.4]
    factors = reg.scaling_factors(rates)
    # Silent neuron 1 + s, 0.1 / 0.05 = 2 clipped to 1.25, at target 1, 0.1 / 0.11 inside the
    # limits, 0.1 / 0.4 = 0.25 clipped to 0.75.
    expected = [1.25, 1.25, 1.0, 0.1 / 0.11, 0.75]
    for neuron, (got, want) in enumerate(zip(factors, expected, strict=True)):
        assert got == pytest.approx(want, rel=1e-15), f"neuron {neuron}: scaling factor"


def test_synaptic_scaling_list_in_list_out():
    rng = np.random.default_rng(3)
    reg = NetworkRegulator(target_rate=0.1)
    rates = rng.random(6) * 0.3
    weights = [rng.standard_normal((4, 6)).astype(np.float32),
               rng.standard_normal((2, 6))]
    _, _, metrics = reg.regulate(rates, np.ones(6), 0.1, weights=weights)
    scaled = metrics.scaled_weights
    assert isinstance(scaled, list)
    assert len(scaled) == 2
    factors = reg.scaling_factors(rates)
    for layer, (before, after) in enumerate(zip(weights, scaled, strict=True)):
        assert after.dtype == before.dtype, f"weights[{layer}]: dtype"
        assert after is not before
        expected = before.astype(np.float64) * factors
        np.testing.assert_allclose(after, expected, rtol=1e-6,
                                   err_msg=f"weights[{layer}] after scaling")


def test_synaptic_scaling_single_array_and_none():
    reg = NetworkRegulator(target_rate=0.1)
    weights = np.ones((3, 2))
    _, _, metrics = reg.regulate([0.0, 0.1], [1.0, 1.0], 0.1, weights=weights)
    assert isinstance(metrics.scaled_weights, np.ndarray)
    assert metrics.scaled_weights.tolist() == [[1.0625, 1.0]] * 3
    _, _, metrics = reg.regulate([0.0, 0.1], [1.0, 1.0], 0.1)
    assert metrics.scaled_weights is None


def test_synaptic_scaling_keeps_column_ratios():
    rng = np.random.default_rng(4)
    weights = rng.standard_normal((5, 3))
    _, _, metrics = NetworkRegulator().regulate([0.3, 0.0, 0.12], [1.0] * 3, 0.1, weights=weights)
    scaled = metrics.scaled_weights
    for column in range(3):
        np.testing.assert_allclose(scaled[:, column] / scaled[0, column],
                                   weights[:, column] / weights[0, column], rtol=1e-12,
                                   err_msg=f"column {column} ratios")


def test_array_likes_accepted():
    reg = NetworkRegulator()
    new_thresholds, _, metrics = reg.regulate(TensorLike([0.2, 0.0]), TensorLike([1.0, 1.0]), 0.1,
                                              weights=[TensorLike([[1.0, 1.0]])])
    expected, _, _ = reg.regulate(np.array([0.2, 0.0]), np.ones(2), 0.1)
    assert new_thresholds.tolist() == expected.tolist()
    assert metrics.scaled_weights[0].shape == (1, 2)


def test_summary_reports_computed_values():
    reg = NetworkRegulator(target_rate=0.25, threshold_step=0.5, lr_reference_std=0.125,
                           lr_scale_range=(0.25, 4.0))
    _, _, metrics = reg.regulate([0.5, 0.5, 0.0, 0.25], [1.0] * 4, 0.1)
    lines = metrics.summary().splitlines()
    assert lines[0] == "Mean rate: 0.312 (target: 0.250)"
    assert lines[1] == "Neurons above target: 2/4 (50%)"
    assert lines[2] == "Neurons below target: 1/4 (25%)"
    # Changes +0.125, +0.125, -0.125, 0: mean +0.03125.
    assert lines[3] == "Threshold adjustment: +0.03125 mean (raising to reduce activity)"
    # std = sqrt(mean([0.1875**2, 0.1875**2, 0.3125**2, 0.0625**2])) = 0.2073; 0.125 / 0.2073.
    assert lines[4].startswith("LR scale: 0.603 (reduced to slow weight changes: rate std 0.207")


@pytest.mark.parametrize("rates, direction", [
    ([0.0, 0.0], "lowering to raise activity"),
    ([0.1, 0.1], "unchanged"),
    ([0.5, 0.5], "raising to reduce activity"),
])
def test_summary_threshold_direction(rates, direction):
    _, _, metrics = NetworkRegulator(target_rate=0.1).regulate(rates, [1.0, 1.0], 0.1)
    assert f"mean ({direction})" in metrics.summary()


def test_summary_does_not_print(capsys):
    _, _, metrics = NetworkRegulator().regulate([0.1], [1.0], 0.1)
    assert isinstance(metrics, RegulationMetrics)
    metrics.summary()
    assert capsys.readouterr().out == ""


# Each case: arguments to regulate(rates, thresholds, learning_rate, weights), the exception and
# a literal part of its message.
REGULATE_ERRORS = [
    (([0.1, math.nan], [1.0, 1.0], 0.1, None), ValueError,
     "firing_rates contains nan at flat index 1; every value must be finite"),
    (([0.1, 0.1], [1.0, math.inf], 0.1, None), ValueError,
     "thresholds contains inf at flat index 1; every value must be finite"),
    (([0.1, -0.1], [1.0, 1.0], 0.1, None), ValueError,
     "firing_rates[1] is -0.1, but rates are spikes per timestep and must lie in [0, 1]"),
    (([0.1, 12.0], [1.0, 1.0], 0.1, None), ValueError,
     ("firing_rates[1] is 12.0, but rates are spikes per timestep and must lie in [0, 1]; divide "
     "spike counts by the number of timesteps, not by seconds")),
    (([], [], 0.1, None), ValueError,
     "firing_rates is empty (shape (0,)); give at least one value"),
    (([[0.1]], [1.0], 0.1, None), ValueError,
     "firing_rates must have 1 dimension, not shape (1, 1)"),
    ((["fast"], [1.0], 0.1, None), TypeError, "firing_rates must be an array of real numbers"),
    (([0.1, 0.1], [1.0, 1.0, 1.0], 0.1, None), ValueError,
     "thresholds has shape (3,), but firing_rates has shape (2,); give one value per neuron"),
    (([0.1], [1.0], -0.1, None), ValueError, "learning_rate must not be negative, not -0.1"),
    (([0.1], [1.0], math.nan, None), ValueError, "learning_rate must be finite, not nan"),
    (([0.1], [1.0], "0.1", None), TypeError, "learning_rate must be a real number, not '0.1'"),
    (([0.1], [1.0], 0.1, []), ValueError,
     ("weights is an empty list; give at least one (n_pre, n_neurons) matrix, or None to skip "
     "synaptic scaling")),
    (([0.1, 0.1], [1.0, 1.0], 0.1, np.ones((2, 3))), ValueError,
     ("weights has shape (2, 3), but synaptic scaling needs shape (n_pre, 2) with one column per "
     "neuron; transpose it if its rows are the post-synaptic neurons")),
    (([0.1, 0.1], [1.0, 1.0], 0.1, [np.ones((4, 2)), np.ones((2, 4))]), ValueError,
     "weights[1] has shape (2, 4), but synaptic scaling needs shape (n_pre, 2)"),
    (([0.1, 0.1], [1.0, 1.0], 0.1, [np.ones(2)]), ValueError,
     "weights[0] must have 2 dimensions, not shape (2,)"),
    (([0.1, 0.1], [1.0, 1.0], 0.1, np.array([[1.0, math.nan]])), ValueError,
     "weights contains nan at flat index 1"),
]


@pytest.mark.parametrize("arguments, exception, message", REGULATE_ERRORS,
                         ids=[str(index) for index in range(len(REGULATE_ERRORS))])
def test_regulate_error_messages(arguments, exception, message):
    rates, thresholds, learning_rate, weights = arguments
    with pytest.raises(exception, match=re.escape(message)):
        NetworkRegulator().regulate(rates, thresholds, learning_rate, weights=weights)


def test_scaling_factors_reject_bad_rates():
    with pytest.raises(ValueError, match=re.escape("firing_rates[0] is 2.0")):
        NetworkRegulator().scaling_factors([2.0])


# Each case: keyword arguments to NetworkRegulator, the exception and a literal part of its message.
PARAMETER_ERRORS = [
    (dict(target_rate=0.0), ValueError, "target_rate must be in (0, 1), not 0.0"),
    (dict(target_rate=1), ValueError, "target_rate must be in (0, 1), not 1.0"),
    (dict(target_rate="0.1"), TypeError, "target_rate must be a real number, not '0.1'"),
    (dict(target_rate=math.nan), ValueError, "target_rate must be finite, not nan"),
    (dict(threshold_step=0), ValueError, "threshold_step must be positive, not 0.0"),
    (dict(lr_scale_range=2.0), TypeError, "lr_scale_range must be a pair (low, high), not 2.0"),
    (dict(lr_scale_range=(2.0, 0.5)), ValueError,
     "lr_scale_range (2.0, 0.5) is out of order; give (low, high)"),
    (dict(lr_scale_range=(None, 2.0)), TypeError,
     "lr_scale_range low end must be a real number, not None"),
    (dict(lr_scale_range=(0.0, 2.0)), ValueError,
     ("lr_scale_range low end must be positive, not 0.0; the learning rate is multiplied by the "
     "scale")),
    (dict(lr_scale_range=(0.5, math.inf)), ValueError,
     "lr_scale_range high end must be finite, not inf"),
    (dict(margin=-0.01), ValueError, "margin must not be negative, not -0.01"),
    (dict(update_rule="pid"), ValueError,
     "update_rule must be one of 'deadband', 'proportional', not 'pid'"),
    (dict(threshold_range=(2.0, 1.0)), ValueError,
     "threshold_range (2.0, 1.0) is out of order; give (low, high)"),
    (dict(threshold_range=None), TypeError, "threshold_range must be a pair (low, high), not None"),
    (dict(synaptic_scaling_step=1.0), ValueError,
     "synaptic_scaling_step must be in (0, 1), not 1.0"),
    (dict(synaptic_scaling_step=0.0), ValueError,
     "synaptic_scaling_step must be in (0, 1), not 0.0"),
    (dict(lr_reference_std=0.0), ValueError, "lr_reference_std must be positive, not 0.0"),
    (dict(window=0), ValueError, "window must be at least 1, not 0"),
    (dict(window=1.5), TypeError, "window must be an integer, not 1.5"),
]


@pytest.mark.parametrize("changes, exception, message", PARAMETER_ERRORS,
                         ids=[next(iter(case[0])) + "-" + str(index)
                              for index, case in enumerate(PARAMETER_ERRORS)])
def test_parameter_error_messages(changes, exception, message):
    with pytest.raises(exception, match=re.escape(message)):
        NetworkRegulator(**changes)


@pytest.mark.parametrize("update_rule", ["deadband", "proportional"])
def test_config_round_trip(update_rule):
    config = RegulatorConfig.from_float(32, target_rate=0.1, window=64, threshold_step=0.02,
                                        threshold_range=(0.25, 8.0), threshold_init=1.5,
                                        update_rule=update_rule, lr_scale_range=(0.25, 2.0),
                                        synaptic_scaling_step=1 / 8)
    reg = NetworkRegulator.from_config(config)
    assert reg.target_rate == config.target_count / config.window
    assert reg.margin == config.margin / config.window
    assert reg.update_rule == update_rule
    sleep = SleepConsolidation.from_config(config)
    again = reg.to_config(32, threshold_init=1.5, sleep=sleep)
    # The float regulator has one step, so only the field of the configuration's own rule
    # survives the round trip; the other is derived from it.
    rule_field = "threshold_step" if update_rule == "deadband" else "proportional_shift"
    other_field = "proportional_shift" if update_rule == "deadband" else "threshold_step"
    for name in RegulatorConfig.field_names():
        if name != other_field:
            assert getattr(again, name) == getattr(config, name), f"field {name}"
    assert getattr(again, rule_field) == getattr(config, rule_field)


def test_to_config_open_range():
    config = NetworkRegulator(threshold_range=(None, None)).to_config(16)
    assert config.threshold_floor == 0, "a floor of None becomes 0 for unsigned thresholds"
    assert config.threshold_ceiling == (1 << config.threshold_width) - 1
    assert config.n_neurons == 16


def test_to_config_rejects_negative_floor():
    with pytest.raises(ValueError, match="threshold floor must not be negative, not -1.0"):
        NetworkRegulator(threshold_range=(-1.0, 1.0)).to_config(16)


def test_from_config_rejects_other_types():
    with pytest.raises(TypeError, match="config must be a RegulatorConfig, not 'deadband'"):
        NetworkRegulator.from_config("deadband")


@pytest.mark.parametrize("module", [network_regulator_module, metrics_module])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring examples of {module.__name__} failed"
