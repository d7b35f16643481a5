"""Statistics of one regulation step of the float API, and their text summary."""

from dataclasses import dataclass


__all__ = ["RegulationMetrics"]


@dataclass(frozen=True)
class RegulationMetrics:
    """Statistics that :meth:`~.network_regulator.NetworkRegulator.regulate` measured and changed.

    Attributes
    ----------
    mean_rate : float
        Population mean firing rate, in spikes per neuron per timestep.
    target_rate : float
        Target rate of the regulator.
    n_neurons : int
        Number of regulated neurons.
    n_above, n_below : int
        Neurons whose rate is strictly above or strictly below the target. Neurons exactly at
        the target are in neither count.
    fraction_above, fraction_below : float
        ``n_above / n_neurons`` and ``n_below / n_neurons``.
    update_rule : str
        ``"proportional"`` or ``"deadband"``.
    mean_threshold_change : float
        Mean over neurons of the threshold change, after clipping at the floor and ceiling.
    n_raised, n_lowered : int
        Neurons whose threshold rose or fell.
    rate_std : float
        Population standard deviation of the rates (``ddof=0``).
    reference_std : float
        Rate standard deviation at which the learning rate is left unscaled.
    lr_scale : float
        Factor applied to the learning rate.
    lr_reason : str
        Why the learning rate was scaled, in words.
    scaled_weights : ndarray, list of ndarray, or None
        Weights after synaptic scaling, in the structure given to ``regulate``; None when no
        weights were given.
    """

    mean_rate: float
    target_rate: float
    n_neurons: int
    n_above: int
    n_below: int
    fraction_above: float
    fraction_below: float
    update_rule: str
    mean_threshold_change: float
    n_raised: int
    n_lowered: int
    rate_std: float
    reference_std: float
    lr_scale: float
    lr_reason: str
    scaled_weights: object = None

    @property
    def threshold_direction(self):
        """Direction of the mean threshold change, in words."""
        if self.mean_threshold_change > 0:
            return "raising to reduce activity"
        if self.mean_threshold_change < 0:
            return "lowering to raise activity"
        return "unchanged"

    def summary(self):
        """Return a multi-line text summary of the step; nothing is printed."""
        above = f"{self.n_above}/{self.n_neurons} ({self.fraction_above:.0%})"
        below = f"{self.n_below}/{self.n_neurons} ({self.fraction_below:.0%})"
        change = f"{self.mean_threshold_change:+.4g} mean ({self.threshold_direction})"
        lines = [
            f"Mean rate: {self.mean_rate:.3f} (target: {self.target_rate:.3f})",
            f"Neurons above target: {above}",
            f"Neurons below target: {below}",
            f"Threshold adjustment: {change}",
            f"LR scale: {self.lr_scale:.3g} ({self.lr_reason})",
        ]
        return "\n".join(lines)
