"""Float API of homeostatic regulation: thresholds, learning rate and synaptic scaling.

This is the model people use while training a network in floating point. The integer golden model
(:class:`~.regulator.IntegerRegulator`) computes what the gateware computes; both are built from one
:class:`~homeo_hw.config.RegulatorConfig` through :meth:`NetworkRegulator.from_config` and
:meth:`NetworkRegulator.to_config`.
"""

import math
from dataclasses import dataclass

import numpy as np

from homeo_hw.config import DEADBAND, PROPORTIONAL, RegulatorConfig, UPDATE_RULES, check_config
from ._validation import (
    as_float_array, check_fraction, check_int, check_positive, check_range, check_rates,
    check_real, check_same_shape, result_dtype,
)
from .metrics import RegulationMetrics


__all__ = ["NetworkRegulator"]


@dataclass(frozen=True)
class NetworkRegulator:
    """Homeostatic regulator of a population's firing rates, in floating point.

    Each call of :meth:`regulate` moves every neuron's threshold towards the value that brings its
    rate to the target, scales the learning rate by how dispersed the rates are, and optionally
    scales the synaptic weights onto each neuron.

    Parameters
    ----------
    target_rate : float
        Target firing rate in spikes per neuron per timestep, in (0, 1).
    threshold_step : float
        Gain of the threshold update, in threshold units. The proportional rule adds
        ``threshold_step * (rate - target_rate)``; the dead-band rule adds or subtracts
        ``threshold_step``.
    lr_scale_range : (float, float)
        Smallest and largest learning-rate scale; the smallest must be positive.
    margin : float
        Half-width of the dead band in spikes per timestep. Only the dead-band rule uses it.
    update_rule : {"proportional", "deadband"}
        Threshold update rule.
    threshold_range : (float or None, float or None)
        Floor and ceiling at which new thresholds are clipped; None leaves that side open.
    synaptic_scaling_step : float
        Largest relative weight change of synaptic scaling per call, in (0, 1).
    lr_reference_std : float or None
        Standard deviation of the rates at which the learning rate is unscaled. None selects
        ``sqrt(target_rate * (1 - target_rate) / window)``, the sampling noise of the rate of a
        neuron that fires at the target rate, measured over ``window`` timesteps.
    window : int
        Number of timesteps over which the rates are measured. Only the default
        ``lr_reference_std`` and :meth:`to_config` use it.

    Raises
    ------
    TypeError
        If a parameter has the wrong type.
    ValueError
        If a parameter is out of range; the message names it and its allowed range.

    Notes
    -----
    Threshold homeostasis raises the threshold of a neuron that fires above the target and lowers
    it for one below, a negative feedback loop on each neuron's activity. Synaptic scaling
    multiplies all weights onto a neuron by one factor, which keeps their ratios and so the
    information they store (Turrigiano, "The self-tuning neuron: synaptic scaling of excitatory
    synapses", Cell 135(3):422-435, 2008).

    The learning-rate scale is ``clip(reference_std / std(rates), *lr_scale_range)``, with the
    standard deviation taken about the population mean (``ddof=0``). A population whose rates are
    all equal gets the largest scale. Dispersed rates mean the network is far from equilibrium, so
    weight changes slow down.

    The integer model differs in two places. Its learning-rate scale is a power of two chosen from
    the summed absolute deviation of the spike counts from the target, a proxy that needs no
    multiplier (see :func:`~.lr_scaler.lr_exponent` and
    :meth:`~homeo_hw.config.RegulatorConfig.from_float`). Its synaptic scaling moves a weight by
    ``2 ** -scale_shift`` of itself in the direction of the dead-band class, where this model uses
    the continuous factor ``clip(target_rate / rate, 1 - s, 1 + s)``.

    Examples
    --------
    >>> reg = NetworkRegulator(target_rate=0.1, threshold_step=0.5)
    >>> new_thresholds, new_lr, metrics = reg.regulate([0.3, 0.1, 0.0], [1.0, 1.0, 1.0], 0.01)
    >>> new_thresholds.round(3).tolist()
    [1.1, 1.0, 0.95]
    >>> metrics.n_above, metrics.n_below
    (1, 1)
    """

    target_rate: float = 0.1
    threshold_step: float = 0.01
    lr_scale_range: tuple = (0.5, 2.0)
    margin: float = 0.02
    update_rule: str = PROPORTIONAL
    threshold_range: tuple = (None, None)
    synaptic_scaling_step: float = 1 / 16
    lr_reference_std: float | None = None
    window: int = 64

    def __post_init__(self):
        set_field = object.__setattr__
        set_field(self, "target_rate",
                  check_fraction("target_rate", self.target_rate, low_open=True, high_open=True))
        set_field(self, "threshold_step", check_positive("threshold_step", self.threshold_step))
        low, high = check_range("lr_scale_range", self.lr_scale_range)
        if low <= 0:
            raise ValueError(f"lr_scale_range low end must be positive, not {low}; the learning "
                             f"rate is multiplied by the scale")
        set_field(self, "lr_scale_range", (low, high))
        margin = check_real("margin", self.margin)
        if margin < 0:
            raise ValueError(f"margin must not be negative, not {margin}")
        set_field(self, "margin", margin)
        if self.update_rule not in UPDATE_RULES:
            raise ValueError(
                f"update_rule must be one of {', '.join(map(repr, UPDATE_RULES))}, not "
                f"{self.update_rule!r}")
        set_field(self, "threshold_range",
                  check_range("threshold_range", self.threshold_range, allow_none=True))
        set_field(self, "synaptic_scaling_step",
                  check_fraction("synaptic_scaling_step", self.synaptic_scaling_step,
                                 low_open=True, high_open=True))
        if self.lr_reference_std is not None:
            set_field(self, "lr_reference_std",
                      check_positive("lr_reference_std", self.lr_reference_std))
        set_field(self, "window", check_int("window", self.window, minimum=1))

    @property
    def reference_std(self):
        """Rate standard deviation at which the learning rate is unscaled."""
        if self.lr_reference_std is not None:
            return self.lr_reference_std
        return math.sqrt(self.target_rate * (1 - self.target_rate) / self.window)

    @classmethod
    def from_config(cls, config):
        """Build the float regulator that a :class:`RegulatorConfig` describes.

        Every parameter takes the exact value the integer model uses: the target rate is
        ``target_count / window``, the floor and ceiling are the raw bounds in threshold units,
        and the learning-rate range is ``2 ** lr_exponent_min`` to ``2 ** lr_exponent_max``. The
        threshold step is the one of the configuration's update rule: ``threshold_step`` raw
        units for the dead-band rule, and ``2 ** -proportional_shift * window`` raw units for the
        proportional rule, whose integer gain is ``2 ** -proportional_shift`` raw units per spike.
        """
        check_config(config)
        scale = config.threshold_scale
        if config.update_rule == DEADBAND:
            step = config.threshold_step / scale
        else:
            step = 2.0 ** -config.proportional_shift * config.window / scale
        reference_std = config.lr_reference_dispersion / (
            math.sqrt(2 / math.pi) * config.window * config.n_neurons)
        return cls(
            target_rate=config.target_count / config.window,
            threshold_step=step,
            lr_scale_range=(2.0 ** config.lr_exponent_min, 2.0 ** config.lr_exponent_max),
            margin=config.margin / config.window,
            update_rule=config.update_rule,
            threshold_range=(config.threshold_floor / scale, config.threshold_ceiling / scale),
            synaptic_scaling_step=2.0 ** -config.scale_shift,
            lr_reference_std=reference_std,
            window=config.window,
        )

    def to_config(self, n_neurons, *, threshold_init=1.0, threshold_width=12,
                  threshold_frac_bits=8, counter_width=None, weight_width=8, sleep=None):
        """Build the integer :class:`RegulatorConfig` of this regulator for ``n_neurons``.

        Calls :meth:`RegulatorConfig.from_float`, which rounds every parameter to what the
        hardware can represent. A floor of None becomes 0, because hardware thresholds are
        unsigned; a ceiling of None becomes the largest threshold of the format. The dead-band
        step and the proportional gain both follow from ``threshold_step``.

        Parameters
        ----------
        n_neurons : int
            Number of regulated neurons.
        threshold_init : float
            Reset value of the hardware thresholds, in threshold units.
        threshold_width, threshold_frac_bits, counter_width, weight_width : int
            Hardware formats, as in :meth:`RegulatorConfig.from_float`.
        sleep : SleepConsolidation or None
            Source of the sleep parameters; by default those of ``SleepConsolidation()``.
        """
        sleep_parameters = {}
        if sleep is not None:
            sleep_parameters = dict(decay_exponent=sleep.decay_exponent,
                                    consolidation_strength=sleep.consolidation_strength,
                                    prune_threshold=sleep.prune_threshold)
        floor, ceiling = self.threshold_range
        return RegulatorConfig.from_float(
            n_neurons, target_rate=self.target_rate, margin_rate=self.margin,
            window=self.window, counter_width=counter_width, threshold_width=threshold_width,
            threshold_frac_bits=threshold_frac_bits,
            threshold_range=(0.0 if floor is None else floor, ceiling),
            threshold_init=threshold_init, threshold_step=self.threshold_step,
            update_rule=self.update_rule, weight_width=weight_width,
            synaptic_scaling_step=self.synaptic_scaling_step,
            lr_scale_range=self.lr_scale_range, lr_reference_std=self.lr_reference_std,
            **sleep_parameters)

    def regulate(self, firing_rates, thresholds, learning_rate, weights=None):
        """Compute one regulation step from the firing rates of a population.

        Parameters
        ----------
        firing_rates : array_like, shape (n_neurons,)
            Rate of each neuron in spikes per timestep, each in [0, 1].
        thresholds : array_like, shape (n_neurons,)
            Current thresholds.
        learning_rate : float
            Current learning rate, not negative.
        weights : array_like or list of array_like, optional
            One weight matrix of shape (n_pre, n_neurons), or a list of such matrices. Column
            ``j`` contains the synapses onto neuron ``j``. A list is always read as a list of
            matrices.

        Returns
        -------
        new_thresholds : ndarray, shape (n_neurons,)
            Updated thresholds, clipped to ``threshold_range``. A floating-point array keeps its
            dtype; other input gives float64.
        new_lr : float
            ``learning_rate * metrics.lr_scale``.
        metrics : RegulationMetrics
            Statistics of the step. ``metrics.scaled_weights`` contains the weights after
            synaptic scaling in the structure given (a list for a list), or None.

        Raises
        ------
        ValueError
            If a rate is outside [0, 1], an input is empty or not finite, or shapes disagree.

        Notes
        -----
        No argument is modified. Synaptic scaling multiplies column ``j`` by
        ``clip(target_rate / rate_j, 1 - s, 1 + s)`` with ``s = synaptic_scaling_step``; a silent
        neuron gets ``1 + s``.
        """
        rates = check_rates("firing_rates", firing_rates)
        old_thresholds = as_float_array("thresholds", thresholds, ndim=1)
        check_same_shape("thresholds", old_thresholds, "firing_rates", rates.shape)
        learning_rate = check_real("learning_rate", learning_rate)
        if learning_rate < 0:
            raise ValueError(f"learning_rate must not be negative, not {learning_rate}")
        layers = None if weights is None else _weight_layers(weights, rates.shape[0])

        new_thresholds = old_thresholds + self._threshold_delta(rates)
        floor, ceiling = self.threshold_range
        if floor is not None or ceiling is not None:
            new_thresholds = np.clip(new_thresholds, floor, ceiling)
        change = new_thresholds - old_thresholds

        # Equal rates have a standard deviation of exactly 0, which rates.std() can miss by a
        # rounding error of the mean.
        rate_std = 0.0 if rates.min() == rates.max() else float(rates.std())
        lr_scale, lr_reason = self._lr_scale(rate_std)

        scaled_weights = None
        if layers is not None:
            factors = self._scaling_factors(rates)
            # The product is computed in the result's dtype: float32 weights stay float32.
            scaled = []
            for original, layer in layers:
                dtype = result_dtype(original)
                scaled.append(layer.astype(dtype, copy=False) * factors.astype(dtype))
            if isinstance(weights, (list, tuple)):
                scaled_weights = type(weights)(scaled)
            else:
                scaled_weights = scaled[0]

        n_neurons = rates.shape[0]
        n_above = int(np.count_nonzero(rates > self.target_rate))
        n_below = int(np.count_nonzero(rates < self.target_rate))
        metrics = RegulationMetrics(
            mean_rate=float(rates.mean()),
            target_rate=self.target_rate,
            n_neurons=n_neurons,
            n_above=n_above,
            n_below=n_below,
            fraction_above=n_above / n_neurons,
            fraction_below=n_below / n_neurons,
            update_rule=self.update_rule,
            mean_threshold_change=float(change.mean()),
            n_raised=int(np.count_nonzero(change > 0)),
            n_lowered=int(np.count_nonzero(change < 0)),
            rate_std=rate_std,
            reference_std=self.reference_std,
            lr_scale=lr_scale,
            lr_reason=lr_reason,
            scaled_weights=scaled_weights,
        )
        return new_thresholds.astype(result_dtype(thresholds)), learning_rate * lr_scale, metrics

    def scaling_factors(self, firing_rates):
        """Compute the synaptic scaling factor of each neuron from its rate.

        ``clip(target_rate / rate, 1 - s, 1 + s)`` with ``s = synaptic_scaling_step``; a rate of
        0 gives ``1 + s``.
        """
        return self._scaling_factors(check_rates("firing_rates", firing_rates))

    def _scaling_factors(self, rates):
        s = self.synaptic_scaling_step
        ratio = np.divide(self.target_rate, rates, out=np.full_like(rates, np.inf),
                          where=rates > 0)
        return np.clip(ratio, 1 - s, 1 + s)

    def _threshold_delta(self, rates):
        if self.update_rule == PROPORTIONAL:
            return self.threshold_step * (rates - self.target_rate)
        above = rates > self.target_rate + self.margin
        below = rates < self.target_rate - self.margin
        return self.threshold_step * (above.astype(np.float64) - below.astype(np.float64))

    def _lr_scale(self, rate_std):
        reference = self.reference_std
        low, high = self.lr_scale_range
        if rate_std == 0:
            unclipped = math.inf
            cause = "every neuron fires at the same rate"
        else:
            unclipped = reference / rate_std
            relation = ("above" if rate_std > reference else
                        "below" if rate_std < reference else "equal to")
            cause = f"rate std {rate_std:.3g} is {relation} the reference {reference:.3g}"
        scale = min(max(unclipped, low), high)

        if scale < 1:
            effect = "reduced to slow weight changes"
        elif scale > 1:
            effect = "increased to speed up learning"
        else:
            effect = "unchanged"
        if unclipped < low:
            cause += f", limited to the minimum {low:g}"
        elif unclipped > high:
            cause += f", limited to the maximum {high:g}"
        return scale, f"{effect}: {cause}"


def _weight_layers(weights, n_neurons):
    # Validate every matrix before any work, and pair each original with its array form.
    if isinstance(weights, (list, tuple)):
        if not weights:
            raise ValueError("weights is an empty list; give at least one (n_pre, n_neurons) "
                             "matrix, or None to skip synaptic scaling")
        named = [(f"weights[{index}]", layer) for index, layer in enumerate(weights)]
    else:
        named = [("weights", weights)]
    layers = []
    for name, original in named:
        layer = as_float_array(name, original, ndim=2, keep_float_dtype=True)
        if layer.shape[1] != n_neurons:
            raise ValueError(
                f"{name} has shape {layer.shape}, but synaptic scaling needs shape "
                f"(n_pre, {n_neurons}) with one column per neuron; transpose it if its rows are "
                f"the post-synaptic neurons")
        layers.append((original, layer))
    return layers
