"""Spike-recording helpers: rasters from event lists and files, and rates from rasters."""

import math
import os

import numpy as np

from ._validation import as_float_array, check_int, check_positive


__all__ = ["rates_from_raster", "raster_from_events", "load_recording"]


# A spike time t falls in bin floor(t / dt). Times recorded on a simulator grid land on bin edges
# up to float rounding (0.003 / 0.001 is 2.9999999999999996), so a quotient this close below an
# integer counts as that integer.
_EDGE_TOLERANCE = 1e-6

_RECORDING_KEYS = ("spike_indices", "spike_times", "n_neurons", "duration", "dt")


def rates_from_raster(raster):
    """Compute each neuron's firing rate in spikes per timestep from a raster.

    Parameters
    ----------
    raster : array_like, shape (timesteps, n_neurons)
        Spikes per timestep and neuron: 0/1 or booleans, or counts.

    Returns
    -------
    ndarray of float64, shape (n_neurons,)
        Mean over the timesteps. Counts above 1 give rates above 1, which
        :meth:`~.network_regulator.NetworkRegulator.regulate` rejects, so bin at a timestep no
        longer than the refractory period.

    Examples
    --------
    >>> rates_from_raster([[1, 0], [0, 0], [1, 0], [0, 1]]).tolist()
    [0.5, 0.25]
    """
    counts = as_float_array("raster", raster, ndim=2)
    if (counts < 0).any():
        step, neuron = np.argwhere(counts < 0)[0]
        raise ValueError(f"raster[{step}, {neuron}] is {counts[step, neuron]}; a raster contains "
                         f"spike counts, which cannot be negative")
    return counts.mean(axis=0)


def raster_from_events(indices, times, n_neurons, dt, duration=None):
    """Bin a list of spike events into a (timesteps, n_neurons) raster of spike counts.

    Parameters
    ----------
    indices : array_like of int
        Neuron of each spike, in ``[0, n_neurons)``.
    times : array_like of float
        Time of each spike in seconds, not negative; as long as ``indices``.
    n_neurons : int
        Population size.
    dt : float
        Timestep of the raster in seconds.
    duration : float or None
        Recorded time in seconds, which sets ``ceil(duration / dt)`` timesteps. By default the
        raster ends with the timestep of the last spike.

    Returns
    -------
    ndarray of int64, shape (timesteps, n_neurons)
        Number of spikes of each neuron in each timestep.

    Raises
    ------
    ValueError
        If an index is out of range, a time is negative, not finite or after ``duration``, the
        arrays differ in length, or the length of the raster cannot be known.

    Notes
    -----
    Timestep ``b`` covers the half-open interval ``[b * dt, (b + 1) * dt)``, so a spike exactly on
    an edge belongs to the timestep that starts there. Because ``t / dt`` picks up rounding
    errors, a spike less than ``1e-6 * dt`` before an edge also counts as on it.

    Examples
    --------
    >>> raster_from_events([0, 1, 0], [0.0, 0.0015, 0.002], n_neurons=2, dt=0.001).tolist()
    [[1, 0], [0, 1], [1, 0]]
    """
    n_neurons = check_int("n_neurons", n_neurons, minimum=1)
    dt = check_positive("dt", dt)
    indices = np.asarray(indices)
    times = np.asarray(times, dtype=np.float64)
    if indices.ndim != 1 or times.ndim != 1 or indices.shape != times.shape:
        raise ValueError(f"indices and times must be vectors of equal length, one entry per "
                         f"spike, not shapes {indices.shape} and {times.shape}")
    if indices.size and not np.issubdtype(indices.dtype, np.integer):
        raise TypeError(f"indices must be integers (neuron numbers), not {indices.dtype}")
    indices = indices.astype(np.int64)
    if indices.size and (indices.min() < 0 or indices.max() >= n_neurons):
        bad = np.flatnonzero((indices < 0) | (indices >= n_neurons))[0]
        raise ValueError(f"indices[{bad}] is {indices[bad]}, outside the population of "
                         f"{n_neurons} neurons; indices must lie in [0, {n_neurons})")
    if not np.isfinite(times).all() or (times < 0).any():
        bad = np.flatnonzero(~np.isfinite(times) | (times < 0))[0]
        raise ValueError(f"times[{bad}] is {times[bad]}; spike times must be finite and not "
                         f"negative, in seconds from the start of the recording")

    bins = np.floor(times / dt + _EDGE_TOLERANCE).astype(np.int64)
    if duration is None:
        if not bins.size:
            raise ValueError("there are no spikes, so the length of the raster is unknown; "
                             "give duration")
        timesteps = int(bins.max()) + 1
    else:
        duration = check_positive("duration", duration)
        timesteps = math.ceil(duration / dt - _EDGE_TOLERANCE)
        if bins.size and bins.max() >= timesteps:
            bad = int(np.argmax(bins))
            raise ValueError(f"times[{bad}] is {times[bad]} s, at or after the end of the "
                             f"{duration} s recording; check duration and the unit of times")
    flat = np.bincount(bins * n_neurons + indices, minlength=timesteps * n_neurons)
    return flat.reshape(timesteps, n_neurons).astype(np.int64, copy=False)


def load_recording(path, dt=None):
    """Load a spike recording as a (timesteps, n_neurons) raster of spike counts.

    Parameters
    ----------
    path : str or os.PathLike
        An ``.npz`` file with the arrays ``spike_indices`` (neuron of each spike),
        ``spike_times`` (seconds), ``n_neurons``, ``duration`` (seconds) and ``dt`` (simulator
        timestep, seconds), as a Brian2 ``SpikeMonitor`` records them. Or an ``.npy`` file with
        a raster that is already binned.
    dt : float or None
        Timestep of the raster in seconds, for an ``.npz`` file; by default the simulator's
        timestep. Must be None for an ``.npy`` raster.

    Returns
    -------
    ndarray, shape (timesteps, n_neurons)
        The raster, binned with :func:`raster_from_events` for an ``.npz`` file.

    Examples
    --------
    Bin a 1 s recording at 1 ms, so a rate of 100 Hz becomes 0.1 spikes per timestep:

    >>> raster = load_recording("tests/data/brunel_balanced.npz", dt=0.001)  # doctest: +SKIP
    >>> raster.shape  # doctest: +SKIP
    (1000, 256)
    """
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix == ".npy":
        if dt is not None:
            raise ValueError(f"{os.fspath(path)} contains a raster that is already binned, so it "
                             f"cannot be binned at dt={dt}; leave dt as None")
        raster = np.load(path, allow_pickle=False)
        as_float_array(f"raster in {os.fspath(path)}", raster, ndim=2)
        return raster
    if suffix != ".npz":
        raise ValueError(f"{os.fspath(path)} is neither an .npz event recording nor an .npy "
                         f"raster; give a file with one of those suffixes")
    with np.load(path, allow_pickle=False) as recording:
        missing = [key for key in _RECORDING_KEYS if key not in recording.files]
        if missing:
            raise ValueError(f"{os.fspath(path)} lacks the arrays {', '.join(missing)}; a "
                             f"recording needs {', '.join(_RECORDING_KEYS)}")
        arrays = {key: recording[key] for key in _RECORDING_KEYS}
    return raster_from_events(
        arrays["spike_indices"], arrays["spike_times"],
        n_neurons=int(arrays["n_neurons"]),
        dt=float(arrays["dt"]) if dt is None else dt,
        duration=float(arrays["duration"]))
