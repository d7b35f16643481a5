"""Float API of sleep consolidation: scheduled power-law weight decay and pruning."""

from dataclasses import dataclass, field

import numpy as np

from homeo_hw.config import (
    DECAY_FRAC_BITS, STRENGTH_FRAC_BITS, check_config, round_half_up,
)
from ._validation import as_float_array, check_fraction, check_int, check_real, result_dtype


__all__ = ["SleepConsolidation"]


@dataclass
class SleepConsolidation:
    """Sleep phases that weaken weak synapses more than strong ones and prune the weakest.

    Parameters
    ----------
    decay_exponent : float
        Exponent ``e`` of the power-law decay, not negative. 0 leaves weights unchanged.
    duration_fraction : float
        Fraction of training, in (0, 1], after which the first sleep happens.
    consolidation_strength : float
        Blend ``k`` in [0, 1] between no decay (0) and the full power law (1).
    n_sleeps : int
        Number of sleeps over training, at least 1.
    prune_threshold : float
        Fraction of a layer's largest magnitude, in [0, 1], below which a decayed weight is
        set to 0.

    Attributes
    ----------
    pruned_fraction : float
        Fraction of all synapses that :meth:`apply` set to zero in its last call: nonzero before,
        zero after. NaN before the first call.
    remaining_magnitude : float
        ``sum|w_new| / sum|w_old|`` over all layers of the last call, 1.0 when every weight was
        zero. NaN before the first call.

    Notes
    -----
    The synaptic homeostasis hypothesis states that waking strengthens synapses and sleep scales
    them back down, which saves energy and improves the signal-to-noise ratio of what was learned
    (Tononi and Cirelli, "Sleep and synaptic homeostasis: a hypothesis", Brain Research Bulletin
    62(2):143-150, 2003). Here a sleep multiplies each weight by
    ``(1 - k) + k * (|w| / max|w|) ** e``, so the largest weight of a layer is kept and smaller
    ones shrink more the smaller they are.

    The integer model (:func:`~.sleep_pruner.prune_weights`) computes the power law with a
    piecewise-linear log2, quantises ``e`` and ``k`` to sixteenths and rounds the prune threshold
    to a power of two, so it matches this model only approximately.

    Examples
    --------
    >>> sleep = SleepConsolidation()
    >>> sleep.schedule(100)
    [10, 32, 100]
    >>> [epoch for epoch in range(100) if sleep.should_sleep(epoch, total_epochs=100)]
    [9, 31, 99]
    """

    decay_exponent: float = 0.5
    duration_fraction: float = 0.1
    consolidation_strength: float = 0.8
    n_sleeps: int = 3
    prune_threshold: float = 1 / 16
    pruned_fraction: float = field(default=float("nan"), init=False)
    remaining_magnitude: float = field(default=float("nan"), init=False)

    def __post_init__(self):
        self.decay_exponent = check_real("decay_exponent", self.decay_exponent)
        if self.decay_exponent < 0:
            raise ValueError(f"decay_exponent must not be negative, not {self.decay_exponent}; "
                             f"a negative exponent would grow weak weights")
        self.duration_fraction = check_fraction("duration_fraction", self.duration_fraction,
                                                low_open=True)
        self.consolidation_strength = check_fraction("consolidation_strength",
                                                     self.consolidation_strength)
        self.n_sleeps = check_int("n_sleeps", self.n_sleeps, minimum=1)
        self.prune_threshold = check_fraction("prune_threshold", self.prune_threshold)

    @classmethod
    def from_config(cls, config, *, duration_fraction=0.1, n_sleeps=3):
        """Build the float sleep model with the exponent, strength and prune level of ``config``.

        The schedule is not part of a :class:`RegulatorConfig`, so it is given here.
        """
        check_config(config)
        return cls(decay_exponent=config.decay_exponent_raw / (1 << DECAY_FRAC_BITS),
                   duration_fraction=duration_fraction,
                   consolidation_strength=config.strength_raw / (1 << STRENGTH_FRAC_BITS),
                   n_sleeps=n_sleeps,
                   prune_threshold=2.0 ** -config.prune_shift)

    def schedule(self, total_epochs):
        """Return the numbers of completed epochs after which to sleep, in increasing order.

        The points are ``geomspace(duration_fraction * total_epochs, total_epochs, n_sleeps)``
        rounded half up, raised to at least 1, with repeats removed. So a short training run
        sleeps fewer than ``n_sleeps`` times, and the last sleep always follows the last epoch
        when ``n_sleeps`` is at least 2.
        """
        total_epochs = check_int("total_epochs", total_epochs, minimum=1)
        points = np.geomspace(self.duration_fraction * total_epochs, total_epochs, self.n_sleeps)
        completed = {max(1, round_half_up(float(point))) for point in points}
        return sorted(completed)

    def should_sleep(self, epoch, total_epochs):
        """Return whether to sleep after ``epoch``, counted from 0, of ``total_epochs`` epochs."""
        epoch = check_int("epoch", epoch, minimum=0)
        total_epochs = check_int("total_epochs", total_epochs, minimum=1)
        if epoch >= total_epochs:
            raise ValueError(f"epoch {epoch} is past the last epoch {total_epochs - 1} of "
                             f"total_epochs={total_epochs}; epochs are counted from 0")
        return epoch + 1 in self.schedule(total_epochs)

    def apply(self, weights):
        """Decay and prune weights, recording the pruned fraction and the remaining magnitude.

        Parameters
        ----------
        weights : array_like or list of array_like
            One layer of weights of any shape, or a list of layers. ``max|w|`` is taken per
            layer.

        Returns
        -------
        ndarray or list of ndarray
            The new weights in the structure given (a list for a list). A floating-point array
            keeps its dtype; other input gives float64. The input is not modified.

        Notes
        -----
        ``w_new = w * ((1 - k) + k * (|w| / max|w|) ** e)``, then every ``w_new`` with
        ``|w_new| < prune_threshold * max|w|`` becomes 0. Signs are kept and no magnitude grows.
        A layer whose weights are all zero is returned unchanged.
        """
        if isinstance(weights, (list, tuple)):
            if not weights:
                raise ValueError("weights is an empty list; give at least one layer")
            named = [(f"weights[{index}]", layer) for index, layer in enumerate(weights)]
        else:
            named = [("weights", weights)]
        layers = [(original, as_float_array(name, original)) for name, original in named]

        new_layers = []
        pruned = 0
        synapses = 0
        old_magnitude = 0.0
        new_magnitude = 0.0
        for original, layer in layers:
            new_layer = self._decay_and_prune(layer)
            pruned += int(np.count_nonzero((layer != 0) & (new_layer == 0)))
            synapses += layer.size
            old_magnitude += float(np.abs(layer).sum())
            new_magnitude += float(np.abs(new_layer).sum())
            new_layers.append(new_layer.astype(result_dtype(original), copy=False))

        self.pruned_fraction = pruned / synapses
        self.remaining_magnitude = new_magnitude / old_magnitude if old_magnitude else 1.0
        if isinstance(weights, (list, tuple)):
            return type(weights)(new_layers)
        return new_layers[0]

    def _decay_and_prune(self, layer):
        magnitudes = np.abs(layer)
        max_magnitude = magnitudes.max()
        if max_magnitude == 0:
            return layer.copy()
        k = self.consolidation_strength
        # Written as 1 - k * (1 - y) rather than (1 - k) + k * y, which can round above 1.
        factor = 1 - k * (1 - (magnitudes / max_magnitude) ** self.decay_exponent)
        decayed = layer * factor
        decayed[np.abs(decayed) < self.prune_threshold * max_magnitude] = 0.0
        return decayed
