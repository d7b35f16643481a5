"""Integer model of the saturating per-neuron spike counter."""

import numpy as np


__all__ = ["count_spikes", "count_events"]


def count_spikes(counts, spikes, config):
    """Add one timestep of spikes to the counters, saturating at ``config.counter_max``.

    Parameters
    ----------
    counts : ndarray of int64, shape (n_neurons,)
        Counter values before the timestep.
    spikes : array_like of bool or int, shape (n_neurons,) or (timesteps, n_neurons)
        Spikes of one timestep, or of several timesteps summed per neuron.

    Returns
    -------
    ndarray of int64
        The new counter values. Saturation is applied once to the sum, which equals applying it
        after every spike because the counters only ever increase.
    """
    spikes = np.asarray(spikes)
    added = spikes.astype(np.int64)
    if added.ndim == 2:
        added = added.sum(axis=0)
    return np.minimum(counts + added, config.counter_max)


def count_events(counts, indices, config):
    """Add a list of address events (neuron indices, repeats allowed) to the counters.

    Each event adds one spike to its neuron, saturating at ``config.counter_max``.
    """
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size and (indices.min() < 0 or indices.max() >= config.n_neurons):
        bad = indices[(indices < 0) | (indices >= config.n_neurons)][0]
        raise ValueError(
            f"event for neuron {bad} is outside the population of {config.n_neurons} neurons")
    added = np.bincount(indices, minlength=config.n_neurons)
    return np.minimum(counts + added, config.counter_max)
