"""Integer model of the whole regulator, advanced timestep by timestep with an explicit state."""

from dataclasses import dataclass, replace

import numpy as np

from homeo_hw.config import check_config
from .margin_comparator import ABOVE, BELOW, classify
from .rate_counter import count_events, count_spikes
from .threshold_adder import update_thresholds
from .lr_scaler import dispersion, lr_exponent
from .weight_scaler import scale_weights


__all__ = ["RegulatorState", "WindowResult", "IntegerRegulator"]


@dataclass
class RegulatorState:
    """Everything the regulator remembers between timesteps.

    Attributes
    ----------
    counts : ndarray of int64
        Spike counts of the current window so far.
    thresholds : ndarray of int64
        Raw thresholds.
    timestep : int
        Timesteps already counted in the current window, from 0 to ``window - 1``.
    window_index : int
        Number of completed windows.
    classes : ndarray of int8
        Classes of the last completed window, which synaptic scaling uses. All in band at reset.
    lr_exponent : int
        Learning-rate exponent of the last completed window; 0 at reset, or the nearest end of the
        exponent range if 0 lies outside it.
    """

    counts: np.ndarray
    thresholds: np.ndarray
    timestep: int = 0
    window_index: int = 0
    classes: np.ndarray = None
    lr_exponent: int = 0

    @classmethod
    def reset(cls, config):
        """Build the state the gateware has after reset."""
        n = config.n_neurons
        return cls(
            counts=np.zeros(n, dtype=np.int64),
            thresholds=np.full(n, config.threshold_init, dtype=np.int64),
            classes=np.zeros(n, dtype=np.int8),
            lr_exponent=config.lr_exponent_init,
        )

    def copy(self):
        """Return an independent copy."""
        return replace(self, counts=self.counts.copy(), thresholds=self.thresholds.copy(),
                       classes=self.classes.copy())


@dataclass(frozen=True)
class WindowResult:
    """Results of one window, as the regulator computes them at its end.

    Attributes
    ----------
    window_index : int
        Index of the window, from 0.
    counts : ndarray of int64
        Final spike count of each neuron in the window.
    classes : ndarray of int8
        :data:`~.margin_comparator.ABOVE`, ``IN_BAND`` or ``BELOW`` per neuron.
    thresholds : ndarray of int64
        Raw thresholds after the update.
    n_above, n_below : int
        Number of neurons above and below the dead band.
    dispersion : int
        Summed absolute deviation of the counts from the target.
    lr_exponent : int
        Learning-rate exponent for the next window.
    """

    window_index: int
    counts: np.ndarray
    classes: np.ndarray
    thresholds: np.ndarray
    n_above: int
    n_below: int
    dispersion: int
    lr_exponent: int


class IntegerRegulator:
    """Bit-exact integer model of the regulator gateware.

    Spikes arrive one timestep at a time, either as a raster row (:meth:`step`) or as a list of
    address events (:meth:`step_events`). After ``window`` timesteps the regulator classifies each
    count, updates the thresholds, computes the population statistics and clears the counters.
    Because everything lives in :attr:`state`, running a recording in chunks gives the same
    results as running it at once.

    Parameters
    ----------
    config : RegulatorConfig
        Parameters shared with the gateware.
    state : RegulatorState or None
        State to resume from; by default the reset state.

    Examples
    --------
    >>> config = RegulatorConfig(n_neurons=4)
    >>> model = IntegerRegulator(config)
    >>> raster = np.zeros((64, 4), dtype=bool)
    >>> raster[::4, 0] = True          # neuron 0 fires 16 times in the window
    >>> [result] = model.run(raster)
    >>> result.classes.tolist(), result.thresholds.tolist()
    ([1, -1, -1, -1], [259, 253, 253, 253])
    """

    def __init__(self, config, state=None):
        check_config(config)
        self.config = config
        self.state = RegulatorState.reset(config) if state is None else state.copy()

    def step(self, spikes):
        """Count one timestep of spikes, a vector of 0 or 1 (or bool) with one entry per neuron.

        Returns the :class:`WindowResult` if this timestep ended a window, else None.
        """
        spikes = np.asarray(spikes)
        if spikes.shape != (self.config.n_neurons,):
            raise ValueError(
                f"spikes of one timestep must have shape ({self.config.n_neurons},), not "
                f"{spikes.shape}")
        _check_binary(spikes, "spikes")
        self.state.counts = count_spikes(self.state.counts, spikes, self.config)
        return self._end_timestep()

    def step_events(self, indices):
        """Count one timestep of address events, each a neuron index; repeats count again.

        Returns the :class:`WindowResult` if this timestep ended a window, else None.
        """
        self.state.counts = count_events(self.state.counts, indices, self.config)
        return self._end_timestep()

    def run(self, raster):
        """Run a (timesteps, n_neurons) raster and return the results of the windows it ends.

        The raster may start and end anywhere inside a window; a partial window stays in
        :attr:`state`.
        """
        raster = np.asarray(raster)
        if raster.ndim != 2 or raster.shape[1] != self.config.n_neurons:
            raise ValueError(
                f"raster must have shape (timesteps, {self.config.n_neurons}), not "
                f"{raster.shape}")
        _check_binary(raster, "raster")
        results = []
        start = 0
        while start < raster.shape[0]:
            remaining = self.config.window - self.state.timestep
            chunk = raster[start:start + remaining]
            self.state.counts = count_spikes(self.state.counts, chunk, self.config)
            self.state.timestep += chunk.shape[0] - 1
            result = self._end_timestep()
            if result is not None:
                results.append(result)
            start += chunk.shape[0]
        return results

    def scale_weights(self, weights):
        """Scale a (n_pre, n_neurons) weight matrix by the classes of the last window."""
        weights = np.asarray(weights)
        if weights.ndim != 2 or weights.shape[1] != self.config.n_neurons:
            raise ValueError(
                f"weights must have shape (n_pre, {self.config.n_neurons}), not {weights.shape}")
        return scale_weights(weights, self.state.classes, self.config)

    def _end_timestep(self):
        self.state.timestep += 1
        if self.state.timestep < self.config.window:
            return None
        return self._end_window()

    def _end_window(self):
        state, config = self.state, self.config
        counts = state.counts
        classes = classify(counts, config)
        state.thresholds = update_thresholds(state.thresholds, counts, config)
        total = dispersion(counts, config)
        state.lr_exponent = lr_exponent(total, config)
        state.classes = classes
        result = WindowResult(
            window_index=state.window_index,
            counts=counts.copy(),
            classes=classes,
            thresholds=state.thresholds.copy(),
            n_above=int(np.count_nonzero(classes == ABOVE)),
            n_below=int(np.count_nonzero(classes == BELOW)),
            dispersion=total,
            lr_exponent=state.lr_exponent,
        )
        state.counts = np.zeros_like(counts)
        state.timestep = 0
        state.window_index += 1
        return result


def _check_binary(spikes, name):
    # The gateware takes one spike bit per neuron and timestep, so a count of 2 in one timestep
    # has no meaning here. Several spikes per timestep go through step_events.
    if spikes.dtype == np.bool_:
        return
    invalid = (spikes != 0) & (spikes != 1)
    if invalid.any():
        index = tuple(int(i) for i in np.argwhere(invalid)[0])
        raise ValueError(
            f"{name} must contain only 0 and 1, one spike per neuron and timestep, but "
            f"{name}[{', '.join(map(str, index))}] is {spikes[index].item()!r}; clip counts with "
            f"raster > 0, or pass several spikes per timestep to step_events")
