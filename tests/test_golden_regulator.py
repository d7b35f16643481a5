"""Input checks of the integer golden model, and the raster rules they enforce."""

import re

import numpy as np
import pytest

from homeo_hw.config import RegulatorConfig
from homeo_hw.golden import IntegerRegulator, prune_weights
from homeo_hw.golden.rate_counter import count_events


CONFIG = RegulatorConfig(n_neurons=3)


def test_config_type_rejected():
    with pytest.raises(TypeError, match="config must be a RegulatorConfig, not 3"):
        IntegerRegulator(3)


def test_step_shape_rejected():
    with pytest.raises(ValueError, match=re.escape(
            "spikes of one timestep must have shape (3,), not (4,)")):
        IntegerRegulator(CONFIG).step(np.zeros(4, dtype=bool))


def test_run_shape_rejected():
    with pytest.raises(ValueError, match=re.escape(
            "raster must have shape (timesteps, 3), not (64, 2)")):
        IntegerRegulator(CONFIG).run(np.zeros((64, 2), dtype=bool))


def test_run_rejects_two_spikes_in_one_timestep():
    # The gateware takes one spike bit per neuron and timestep, so the model must not count 2.
    raster = np.zeros((64, 3), dtype=np.int64)
    raster[5, 1] = 2
    with pytest.raises(ValueError, match=re.escape(
            "raster must contain only 0 and 1, one spike per neuron and timestep, but "
            "raster[5, 1] is 2; clip counts with raster > 0")):
        IntegerRegulator(CONFIG).run(raster)


def test_step_rejects_fractional_spike():
    with pytest.raises(ValueError, match=re.escape("but spikes[2] is 0.5")):
        IntegerRegulator(CONFIG).step(np.array([0.0, 1.0, 0.5]))


def test_run_accepts_zero_one_integers_and_bool():
    raster = np.random.default_rng(0).random((64, 3)) < 0.2
    from_bool = IntegerRegulator(CONFIG).run(raster)
    from_int = IntegerRegulator(CONFIG).run(raster.astype(np.int8))
    assert len(from_bool) == len(from_int) == 1
    assert np.array_equal(from_bool[0].thresholds, from_int[0].thresholds)


def test_scale_weights_shape_rejected():
    with pytest.raises(ValueError, match=re.escape(
            "weights must have shape (n_pre, 3), not (3,)")):
        IntegerRegulator(CONFIG).scale_weights(np.zeros(3, dtype=np.int64))


def test_event_outside_population_rejected():
    with pytest.raises(ValueError, match="event for neuron 3 is outside the population of 3"):
        count_events(np.zeros(3, dtype=np.int64), [0, 3], CONFIG)


def test_step_events_counts_repeats():
    model = IntegerRegulator(CONFIG)
    model.step_events([1, 1, 2])
    assert model.state.counts.tolist() == [0, 2, 1]


def test_prune_weights_out_of_range_rejected():
    with pytest.raises(ValueError, match=re.escape(
            "weights[0, 0] is -129, outside the range of 8-bit weights, [-128, 127]; scale "
            "the weights into that range or widen weight_width")):
        prune_weights(np.array([[-129, 0]]), CONFIG)


@pytest.mark.parametrize("weights, error, message", [
    ([[1000, 0]], ValueError, "weights[0, 0] is 1000, outside the range of 8-bit weights"),
    ([[0, -129.0]], ValueError, "weights[0, 1] is -129.0, outside the range of 8-bit weights"),
    ([[0, 0.7]], ValueError, ("weights[0, 1] is 0.7, not a whole number; the integer model "
                              "takes raw 8-bit weights")),
    ([[0, np.nan]], ValueError, "weights[0, 1] is nan, not a whole number"),
    ([[True, False]], TypeError, "weights must be integers, not an array of bool"),
    ([["1", "2"]], TypeError, "weights must be integers, not an array of <U1"),
])
def test_scale_weights_rejects_bad_weights(weights, error, message):
    model = IntegerRegulator(CONFIG.replace(n_neurons=2))
    with pytest.raises(error, match=re.escape(message)):
        model.scale_weights(np.array(weights))


def test_scale_weights_takes_whole_floats():
    config = CONFIG.replace(n_neurons=2)
    model = IntegerRegulator(config)
    model.run(np.ones((config.window, 2), dtype=bool))
    floats = model.scale_weights(np.array([[-128.0, 127.0]]))
    assert floats.dtype == np.int64
    assert floats.tolist() == model.scale_weights(np.array([[-128, 127]])).tolist()
