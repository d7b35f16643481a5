import doctest
import math
import pathlib
import re

import numpy as np
import pytest

from homeo_hw.golden import load_recording, raster_from_events, rates_from_raster
from homeo_hw.golden import rates as rates_module


DATA = pathlib.Path(__file__).parent / "data"
RECORDINGS = ["brunel_runaway", "brunel_balanced", "brunel_quiet"]


def naive_binning(indices, times, n_neurons, dt, timesteps):
    raster = np.zeros((timesteps, n_neurons), dtype=np.int64)
    for neuron, time in zip(indices, times, strict=True):
        # Round to 1e-6 of a timestep first, so float noise cannot move a spike off a bin edge.
        raster[math.floor(round(time / dt, 6)), neuron] += 1
    return raster


def test_rates_from_raster():
    raster = np.zeros((8, 3), dtype=bool)
    raster[::2, 0] = True
    raster[7, 2] = True
    rates = rates_from_raster(raster)
    assert rates.tolist() == [0.5, 0.0, 0.125]
    assert rates.dtype == np.float64


def test_raster_from_events_counts_per_bin():
    rng = np.random.default_rng(7)
    indices = rng.integers(0, 5, 300)
    times = rng.integers(0, 200, 300) * 1e-4   # on a 0.1 ms simulator grid
    raster = raster_from_events(indices, times, n_neurons=5, dt=1e-3, duration=0.02)
    expected = naive_binning(indices, times, 5, 1e-3, 20)
    assert raster.shape == (20, 5)
    assert raster.dtype == np.int64
    for (step, neuron), want in np.ndenumerate(expected):
        assert raster[step, neuron] == want, f"timestep {step}, neuron {neuron}"


def test_raster_edge_time_goes_to_later_bin():
    # 0.003 / 0.001 is 2.9999999999999996 in float64, but 3 ms starts timestep 3.
    raster = raster_from_events([0, 0, 1], [0.003, 0.001, 0.0029], n_neurons=2, dt=0.001)
    assert raster.shape == (4, 2)
    assert raster[3, 0] == 1, "a spike at 3 ms belongs to timestep 3"
    assert raster[1, 0] == 1, "a spike at 1 ms belongs to timestep 1"
    assert raster[2, 1] == 1, "a spike at 2.9 ms belongs to timestep 2"


def test_raster_length():
    raster = raster_from_events([1], [0.0045], n_neurons=2, dt=0.001)
    assert raster.shape == (5, 2), "without duration the raster ends with the last spike"
    raster = raster_from_events([], [], n_neurons=2, dt=0.001, duration=0.01)
    assert raster.shape == (10, 2)
    assert raster.sum() == 0
    raster = raster_from_events([0], [0.0], n_neurons=1, dt=0.001, duration=0.0105)
    assert raster.shape == (11, 1), "a partial last timestep is kept"


def test_raster_repeated_spikes_add():
    raster = raster_from_events([2, 2, 2], [0.0, 0.0002, 0.0009], n_neurons=3, dt=0.001)
    assert raster.tolist() == [[0, 0, 3]]


@pytest.mark.parametrize("name", RECORDINGS)
def test_load_recording_bins_every_spike(name):
    path = DATA / f"{name}.npz"
    raster = load_recording(path, dt=0.001)
    with np.load(path) as recording:
        n_spikes = recording["spike_indices"].size
        per_neuron = np.bincount(recording["spike_indices"], minlength=256)
    assert raster.shape == (1000, 256)
    assert raster.sum() == n_spikes, f"{name}: spikes lost or added in binning"
    assert np.array_equal(raster.sum(axis=0), per_neuron), f"{name}: spikes moved between neurons"
    assert raster.max() <= 1, f"{name}: two spikes of one neuron in one 1 ms bin"


def test_load_recording_default_dt_is_simulator_step():
    raster = load_recording(DATA / "brunel_quiet.npz")
    assert raster.shape == (10000, 256)


def test_load_recording_npy(tmp_path):
    raster = np.eye(4, dtype=np.int8)
    path = tmp_path / "raster.npy"
    np.save(path, raster)
    loaded = load_recording(path)
    assert np.array_equal(loaded, raster)
    with pytest.raises(ValueError, match=re.escape(
            "contains a raster that is already binned, so it cannot be binned at dt=0.001; "
            "leave dt as None")):
        load_recording(path, dt=0.001)


def test_load_recording_error_messages(tmp_path):
    text = tmp_path / "spikes.txt"
    text.write_text("0 0.1\n")
    with pytest.raises(ValueError, match=re.escape(
            "is neither an .npz event recording nor an .npy raster")):
        load_recording(text)
    partial = tmp_path / "partial.npz"
    np.savez(partial, spike_indices=np.array([0]), spike_times=np.array([0.0]))
    with pytest.raises(ValueError, match=re.escape(
            "lacks the arrays n_neurons, duration, dt; a recording needs spike_indices, "
            "spike_times, n_neurons, duration, dt")):
        load_recording(partial)
    flat = tmp_path / "flat.npy"
    np.save(flat, np.ones(3))
    with pytest.raises(ValueError, match="must have 2 dimensions, not shape"):
        load_recording(flat)


# Each case: arguments to raster_from_events, the exception and a literal part of its message.
EVENT_ERRORS = [
    (([0, 1], [0.0], 2, 0.001, None), ValueError,
     ("indices and times must be vectors of equal length, one entry per spike, not shapes (2,) "
     "and (1,)")),
    (([0.5], [0.0], 2, 0.001, None), TypeError, "indices must be integers (neuron numbers)"),
    (([0, 2], [0.0, 0.0], 2, 0.001, None), ValueError,
     "indices[1] is 2, outside the population of 2 neurons; indices must lie in [0, 2)"),
    (([-1], [0.0], 2, 0.001, None), ValueError, "indices[0] is -1, outside the population"),
    (([0], [-0.001], 2, 0.001, None), ValueError,
     "times[0] is -0.001; spike times must be finite and not negative"),
    (([0], [math.nan], 2, 0.001, None), ValueError, "times[0] is nan"),
    (([], [], 2, 0.001, None), ValueError,
     "there are no spikes, so the length of the raster is unknown; give duration"),
    (([0, 1], [0.0, 0.01], 2, 0.001, 0.01), ValueError,
     "times[1] is 0.01 s, at or after the end of the 0.01 s recording"),
    (([0], [0.0], 0, 0.001, None), ValueError, "n_neurons must be at least 1, not 0"),
    (([0], [0.0], 2, 0.0, None), ValueError, "dt must be positive, not 0.0"),
    (([0], [0.0], 2, 0.001, -1.0), ValueError, "duration must be positive, not -1.0"),
]


@pytest.mark.parametrize("arguments, exception, message", EVENT_ERRORS,
                         ids=[str(index) for index in range(len(EVENT_ERRORS))])
def test_raster_from_events_error_messages(arguments, exception, message):
    indices, times, n_neurons, dt, duration = arguments
    with pytest.raises(exception, match=re.escape(message)):
        raster_from_events(indices, times, n_neurons, dt, duration=duration)


def test_rates_from_raster_error_messages():
    with pytest.raises(ValueError, match=re.escape(
            "raster[1, 0] is -1.0; a raster contains spike counts, which cannot be negative")):
        rates_from_raster([[0, 1], [-1, 0]])
    with pytest.raises(ValueError,
                       match=re.escape("raster must have 2 dimensions, not shape (3,)")):
        rates_from_raster([0, 1, 0])
    with pytest.raises(ValueError, match=re.escape("raster is empty (shape (0, 4))")):
        rates_from_raster(np.zeros((0, 4)))


def test_docstring_examples():
    result = doctest.testmod(rates_module)
    assert result.failed == 0, f"{result.failed} docstring examples failed"
