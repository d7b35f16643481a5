"""The float regulator against the integer model on recorded spikes.

Each recording is binned at 1 ms, so 1 s gives 1000 timesteps and a window of 16 timesteps gives
62 complete windows. The float model receives the rates ``count / window`` of each window and the
integer model the raster itself. Both are built from one configuration, and every bound below is
derived where it is asserted.
"""

import pathlib

import numpy as np
import pytest

from homeo_hw.config import RegulatorConfig
from homeo_hw.golden import IntegerRegulator, NetworkRegulator, load_recording


DATA = pathlib.Path(__file__).parent / "data"
WINDOW = 16
N_NEURONS = 256
# The runaway and balanced networks fire 1 or 2 spikes in nearly every 16 ms window, and the
# quiet one mostly none. A target of 1 spike per window with no dead band makes thresholds rise
# to the ceiling in the first two and fall to the floor in the third, so clipping is exercised.
TARGET_RATE = 1 / 16
CEILING = 1.25

# (recording, initial threshold): the quiet network starts low so that it reaches the floor.
CASES = [("brunel_runaway", 1.0), ("brunel_balanced", 1.0), ("brunel_quiet", 0.25)]


def run_both(name, regulator, config):
    """Run both models over a recording; return float and integer thresholds per window."""
    raster = load_recording(DATA / f"{name}.npz", dt=0.001)
    results = IntegerRegulator(config).run(raster)
    assert len(results) == raster.shape[0] // WINDOW >= 50

    thresholds = np.full(N_NEURONS, config.to_float_threshold(config.threshold_init))
    float_thresholds = []
    counts = []
    for window in range(len(results)):
        window_counts = raster[window * WINDOW:(window + 1) * WINDOW].sum(axis=0)
        thresholds, _, _ = regulator.regulate(window_counts / WINDOW, thresholds, 1.0)
        float_thresholds.append(thresholds)
        counts.append(window_counts)
    integer_thresholds = [result.thresholds for result in results]
    for window, (result, window_counts) in enumerate(zip(results, counts, strict=True)):
        assert np.array_equal(result.counts, window_counts), f"window {window}: counts differ"
    return np.array(float_thresholds), np.array(integer_thresholds), np.array(counts)


def assert_within(float_thresholds, integer_thresholds, bound, config):
    """Assert |float - integer| <= bound, all in raw threshold units, window by window."""
    difference = np.abs(float_thresholds * config.threshold_scale - integer_thresholds)
    bound = np.broadcast_to(bound, difference.shape)
    for window in range(difference.shape[0]):
        excess = difference[window] - bound[window]
        neuron = int(np.argmax(excess))
        assert excess[neuron] <= 0, (
            f"window {window}, neuron {neuron}: threshold differs by {difference[window, neuron]} "
            f"raw units, bound {bound[window, neuron]} (float "
            f"{float_thresholds[window, neuron]}, integer {integer_thresholds[window, neuron]})")


def deadband_config(threshold_init):
    return RegulatorConfig.from_float(
        N_NEURONS, target_rate=TARGET_RATE, margin_rate=0.0, window=WINDOW, threshold_step=0.01,
        threshold_range=(0.0, CEILING), threshold_init=threshold_init, update_rule="deadband")


@pytest.mark.parametrize("name, threshold_init", CASES)
def test_deadband_same_config_is_exact(name, threshold_init):
    config = deadband_config(threshold_init)
    regulator = NetworkRegulator.from_config(config)
    float_thresholds, integer_thresholds, _ = run_both(name, regulator, config)
    # from_config gives the float model the dyadic values of the configuration: rates count/16,
    # band edges 1/16, step 3/256 and the bounds 0 and 320/256. The comparisons are then
    # the integer comparisons, and every threshold is a multiple of 2**-8 below 16, which float64
    # represents exactly. So the derived bound is 0.
    assert_within(float_thresholds, integer_thresholds, 0, config)
    limit = config.threshold_floor if name == "brunel_quiet" else config.threshold_ceiling
    assert (integer_thresholds[-1] == limit).mean() > 0.5, f"{name}: few thresholds at {limit}"


@pytest.mark.parametrize("name, threshold_init", CASES)
def test_deadband_step_rounding_bound(name, threshold_init):
    # Physical parameters whose target and band edges are exact counts of a 16-step window, so
    # both models classify every count alike and differ only by the step: 0.01 in the float
    # model and round(0.01 * 256) / 256 = 3/256 in the integer model.
    regulator = NetworkRegulator(target_rate=TARGET_RATE, margin=0.0, threshold_step=0.01,
                                 update_rule="deadband", threshold_range=(0.0, CEILING),
                                 window=WINDOW)
    config = regulator.to_config(N_NEURONS, threshold_init=threshold_init)
    assert config.threshold_step == 3
    float_thresholds, integer_thresholds, _ = run_both(name, regulator, config)
    # Both thresholds move in the same direction each window, and clipping never increases a
    # difference, so after k windows they differ by at most k * |0.01 * 256 - 3| raw units. The
    # 1e-9 covers float64 rounding of sums of 0.01.
    step_error = abs(0.01 * config.threshold_scale - config.threshold_step)
    windows = np.arange(1, float_thresholds.shape[0] + 1)[:, np.newaxis]
    assert_within(float_thresholds, integer_thresholds, windows * step_error + 1e-9, config)


@pytest.mark.parametrize("name, threshold_init", CASES)
def test_proportional_same_config_rounding_bound(name, threshold_init):
    config = RegulatorConfig.from_float(
        N_NEURONS, target_rate=TARGET_RATE, window=WINDOW, threshold_step=0.01,
        threshold_range=(0.0, CEILING), threshold_init=threshold_init,
        update_rule="proportional")
    # Gain 0.01 * 256 / 16 = 0.16 raw units per spike rounds to 2**-3.
    assert config.proportional_shift == 3
    regulator = NetworkRegulator.from_config(config)
    float_thresholds, integer_thresholds, _ = run_both(name, regulator, config)
    # Per window the float model adds (count - 1) / 8 raw units exactly and the integer model
    # the same quotient rounded towards zero, so the difference changes by less than 1. Clipping
    # never increases a difference, so after k windows |float - integer| < k.
    windows = np.arange(1, float_thresholds.shape[0] + 1)[:, np.newaxis]
    assert_within(float_thresholds, integer_thresholds, windows - 1e-12, config)


@pytest.mark.parametrize("name, threshold_init", CASES)
def test_proportional_power_of_two_gain_bound(name, threshold_init):
    regulator = NetworkRegulator(target_rate=TARGET_RATE, threshold_step=0.01,
                                 update_rule="proportional", threshold_range=(0.0, CEILING),
                                 window=WINDOW)
    config = regulator.to_config(N_NEURONS, threshold_init=threshold_init)
    float_thresholds, integer_thresholds, counts = run_both(name, regulator, config)
    # The float gain is 0.01 * 256 / 16 = 0.16 raw units per spike, the integer gain
    # 2**-shift = 0.125. In one window the two changes differ by at most
    # |0.16 - 0.125| * |count - target| for the gain, plus 1 for the rounding towards zero. Clipping
    # never increases a difference, so the bound of each neuron is the running sum of those.
    gain_error = abs(0.01 * config.threshold_scale / WINDOW - 2.0 ** -config.proportional_shift)
    per_window = gain_error * np.abs(counts - config.target_count) + 1
    assert_within(float_thresholds, integer_thresholds, np.cumsum(per_window, axis=0) + 1e-9,
                  config)
