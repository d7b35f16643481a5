"""The one parameter definition shared by the golden model and the gateware.

:class:`RegulatorConfig` contains every parameter in the integer form the hardware uses. Build it
directly from raw values, or with :meth:`RegulatorConfig.from_float` from the physical values that
people who train networks think in (rates per timestep, thresholds in model units).
"""

import math
from dataclasses import dataclass, fields, replace


__all__ = [
    "RegulatorConfig",
    "DEADBAND", "PROPORTIONAL", "UPDATE_RULES",
    "DECAY_FRAC_BITS", "STRENGTH_FRAC_BITS",
    "round_half_up", "reference_dispersion", "check_config", "check_n_pre",
]


DEADBAND = "deadband"
PROPORTIONAL = "proportional"
UPDATE_RULES = (DEADBAND, PROPORTIONAL)

#: Fractional bits of the sleep decay exponent: ``decay_exponent_raw = round(e * 16)``.
DECAY_FRAC_BITS = 4
#: Fractional bits of the sleep consolidation strength: ``strength_raw = round(k * 16)``.
STRENGTH_FRAC_BITS = 4

# The largest sleep decay exponent, 4.0: beyond it every weight but the largest decays to zero
# at 8-bit precision anyway.
_DECAY_EXPONENT_MAX_RAW = 4 << DECAY_FRAC_BITS


def check_config(config):
    """Raise :exc:`TypeError` unless ``config`` is a :class:`RegulatorConfig`."""
    if not isinstance(config, RegulatorConfig):
        raise TypeError(f"config must be a RegulatorConfig, not {config!r}")


def check_n_pre(n_pre):
    """Validate a count of pre-synaptic neurons, the rows of a weight matrix."""
    _check_int("n_pre", n_pre, minimum=1,
               fix="; it is the number of pre-synaptic neurons, the rows of the weight matrix")


def round_half_up(value):
    """Round a real number to the nearest integer, halves upwards (towards positive infinity).

    Every float-to-integer conversion in :meth:`RegulatorConfig.from_float` uses this rule, so
    ``0.1 * 64 = 6.4`` becomes 6 and ``6.5`` becomes 7.
    """
    return math.floor(value + 0.5)


def _check_int(name, value, *, minimum=None, maximum=None, fix=""):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}{fix}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, not {value}{fix}")


def _check_finite(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, not {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, not {value!r}")


@dataclass(frozen=True)
class RegulatorConfig:
    """Integer parameters of a homeostatic regulator.

    Every field is an integer in the units the hardware stores; the properties derive widths and
    limits from them. The constructor validates the whole set and raises :exc:`ValueError` that
    names the offending value and how to fix it.

    Parameters
    ----------
    n_neurons : int
        Number of regulated neurons.
    window : int
        Length of a rate-measurement window, in timesteps. A power of two, so that a count and a
        rate differ only by the position of the binary point.
    counter_width : int
        Width of each neuron's spike counter. The counter must hold ``window`` (a neuron that fires
        every timestep); it saturates at ``2 ** counter_width - 1`` and never wraps.
    target_count : int
        Target number of spikes per window.
    margin : int
        Half-width of the dead band, in spikes per window. A count above ``target_count + margin``
        is over-active; one below ``target_count - margin`` is under-active.
    threshold_width : int
        Width of an unsigned fixed-point threshold.
    threshold_frac_bits : int
        Fractional bits of a threshold: raw value ``r`` means ``r / 2 ** threshold_frac_bits``.
    threshold_floor, threshold_ceiling : int
        Raw bounds at which thresholds saturate.
    threshold_init : int
        Raw reset value of every threshold.
    threshold_step : int
        Raw change per window of the dead-band rule.
    proportional_shift : int
        Gain of the proportional rule: a threshold changes by ``(count - target_count) >> shift``
        raw units, rounded toward zero, or by ``(count - target_count) << -shift`` when negative.
    update_rule : str
        ``"deadband"`` or ``"proportional"``.
    weight_width : int
        Width of a signed two's complement synaptic weight.
    scale_shift : int
        Synaptic scaling moves a weight by ``w >> scale_shift``, rounded toward zero.
    lr_exponent_min, lr_exponent_max : int
        Range of the learning-rate scale exponent: the learning rate is multiplied by
        ``2 ** exponent``.
    lr_reference_dispersion : int or None
        Total absolute deviation of the counts from ``target_count``, summed over the population,
        at which the learning-rate exponent is 0. None stands for the sampling noise of neurons
        that fire at the target rate, see :func:`reference_dispersion`.
    decay_exponent_raw : int
        Sleep power-law exponent with :data:`DECAY_FRAC_BITS` fractional bits.
    strength_raw : int
        Sleep consolidation strength with :data:`STRENGTH_FRAC_BITS` fractional bits, from 0 (no
        decay) to ``2 ** STRENGTH_FRAC_BITS`` (the full power law).
    prune_shift : int
        Sleep prunes a weight whose decayed magnitude is below ``max|w| >> prune_shift``.
    """

    n_neurons: int = 8
    window: int = 64
    counter_width: int = 7
    target_count: int = 6
    margin: int = 1
    threshold_width: int = 12
    threshold_frac_bits: int = 8
    threshold_floor: int = 0
    threshold_ceiling: int = 4095
    threshold_init: int = 256
    threshold_step: int = 3
    proportional_shift: int = 0
    update_rule: str = DEADBAND
    weight_width: int = 8
    scale_shift: int = 4
    lr_exponent_min: int = -1
    lr_exponent_max: int = 1
    lr_reference_dispersion: int | None = None
    decay_exponent_raw: int = 8
    strength_raw: int = 13
    prune_shift: int = 4

    def __post_init__(self):
        _check_int("n_neurons", self.n_neurons, minimum=1)
        _check_int("window", self.window, minimum=2)
        if self.window & (self.window - 1):
            lower = 1 << (self.window.bit_length() - 1)
            raise ValueError(
                f"window must be a power of two, not {self.window}; use {lower} or {lower * 2}")
        _check_int("counter_width", self.counter_width, minimum=1)
        if self.counter_max < self.window:
            raise ValueError(
                f"counter_width {self.counter_width} cannot count {self.window} spikes per window "
                f"(at most {self.counter_max}); use counter_width={self.window.bit_length()} or "
                f"more")
        _check_int("target_count", self.target_count, minimum=1,
                   fix="; a target of 0 spikes would only ever raise thresholds, so use a higher "
                       "target rate or a longer window")
        if self.target_count >= self.window:
            raise ValueError(
                f"target_count must be less than the window of {self.window} timesteps, not "
                f"{self.target_count}; a neuron cannot fire more than once per timestep")
        _check_int("margin", self.margin, minimum=0)
        if self.margin >= self.target_count:
            raise ValueError(
                f"margin {self.margin} must be less than target_count {self.target_count}, or no "
                f"count could fall below the band and thresholds could only rise; use a margin of "
                f"at most {self.target_count - 1}")
        if self.target_count + self.margin >= self.window:
            raise ValueError(
                f"target_count + margin = {self.target_count + self.margin} must be less than the "
                f"window of {self.window} timesteps, or no neuron could ever be above the band")

        _check_int("threshold_width", self.threshold_width, minimum=2, maximum=32)
        _check_int("threshold_frac_bits", self.threshold_frac_bits, minimum=0,
                   maximum=self.threshold_width)
        raw_max = (1 << self.threshold_width) - 1
        _check_int("threshold_floor", self.threshold_floor, minimum=0, maximum=raw_max,
                   fix=f"; a {self.threshold_width}-bit threshold is unsigned")
        _check_int("threshold_ceiling", self.threshold_ceiling, minimum=0, maximum=raw_max,
                   fix=f"; a {self.threshold_width}-bit threshold is unsigned")
        if self.threshold_floor > self.threshold_ceiling:
            raise ValueError(
                f"threshold_floor {self.threshold_floor} is above threshold_ceiling "
                f"{self.threshold_ceiling}; swap them")
        _check_int("threshold_init", self.threshold_init, minimum=self.threshold_floor,
                   maximum=self.threshold_ceiling, fix=" (it must lie between floor and ceiling)")
        _check_int("threshold_step", self.threshold_step, minimum=1,
                   maximum=self.threshold_ceiling - self.threshold_floor or 1,
                   fix="; the dead-band step is in raw threshold units")
        _check_int("proportional_shift", self.proportional_shift,
                   minimum=-self.threshold_width, maximum=self.threshold_width + self.counter_width)
        if self.update_rule not in UPDATE_RULES:
            raise ValueError(
                f"update_rule must be one of {', '.join(map(repr, UPDATE_RULES))}, not "
                f"{self.update_rule!r}")

        _check_int("weight_width", self.weight_width, minimum=2, maximum=16)
        _check_int("scale_shift", self.scale_shift, minimum=1, maximum=self.weight_width - 1,
                   fix="; a shift of s changes a weight by about 2**-s of its value")
        _check_int("lr_exponent_min", self.lr_exponent_min, minimum=-15, maximum=15)
        _check_int("lr_exponent_max", self.lr_exponent_max, minimum=-15, maximum=15)
        if self.lr_exponent_min > self.lr_exponent_max:
            raise ValueError(
                f"lr_exponent_min {self.lr_exponent_min} is above lr_exponent_max "
                f"{self.lr_exponent_max}; swap them")
        # A derived reference depends on n_neurons, window and target_count, so replace()
        # derives it again instead of copying it.
        object.__setattr__(self, "_lr_reference_derived", self.lr_reference_dispersion is None)
        if self.lr_reference_dispersion is None:
            rate = self.target_count / self.window
            std = math.sqrt(rate * (1 - rate) / self.window)
            object.__setattr__(self, "lr_reference_dispersion",
                               reference_dispersion(std, self.window, self.n_neurons))
        _check_int("lr_reference_dispersion", self.lr_reference_dispersion, minimum=1)
        _check_int("decay_exponent_raw", self.decay_exponent_raw, minimum=0,
                   maximum=_DECAY_EXPONENT_MAX_RAW)
        _check_int("strength_raw", self.strength_raw, minimum=0, maximum=1 << STRENGTH_FRAC_BITS)
        _check_int("prune_shift", self.prune_shift, minimum=0, maximum=self.weight_width)

    # Derived facts. The gateware and the golden model both read these, so they cannot disagree.

    @property
    def window_log2(self):
        """Base-2 logarithm of the window length."""
        return self.window.bit_length() - 1

    @property
    def counter_max(self):
        """Saturation value of a spike counter."""
        return (1 << self.counter_width) - 1

    @property
    def upper_bound(self):
        """Largest count that is still in band: ``target_count + margin``."""
        return self.target_count + self.margin

    @property
    def lower_bound(self):
        """Smallest count that is still in band: ``target_count - margin``."""
        return self.target_count - self.margin

    @property
    def threshold_scale(self):
        """Raw threshold units per model unit, ``2 ** threshold_frac_bits``."""
        return 1 << self.threshold_frac_bits

    @property
    def weight_min(self):
        """Most negative weight."""
        return -(1 << (self.weight_width - 1))

    @property
    def weight_max(self):
        """Most positive weight."""
        return (1 << (self.weight_width - 1)) - 1

    @property
    def magnitude_width(self):
        """Width of an unsigned weight magnitude, wide enough for ``|weight_min|``."""
        return self.weight_width

    @property
    def log_frac_bits(self):
        """Fractional bits of the sleep pruner's log2 values.

        As many as a magnitude has bits below its leading one, so that the piecewise-linear log2
        and its inverse reproduce every magnitude exactly when the decay exponent is 0.
        """
        return self.weight_width - 1

    @property
    def dispersion_width(self):
        """Width of the population dispersion accumulator, wide enough for ``n * counter_max``."""
        return (self.n_neurons * self.counter_max).bit_length()

    @property
    def lr_exponent_init(self):
        """Learning-rate exponent after reset: 0 clamped to the exponent range."""
        return min(max(0, self.lr_exponent_min), self.lr_exponent_max)

    @property
    def lr_exponent_width(self):
        """Width of the signed learning-rate exponent."""
        return max(abs(self.lr_exponent_min), abs(self.lr_exponent_max)).bit_length() + 1

    def to_float_threshold(self, raw):
        """Convert raw thresholds to model units."""
        return raw / self.threshold_scale

    def replace(self, **changes):
        """Return a copy with some fields changed, validated again.

        A ``lr_reference_dispersion`` that was derived (given as None) is derived again for the
        new fields unless ``changes`` sets it.
        """
        if self._lr_reference_derived:
            changes.setdefault("lr_reference_dispersion", None)
        return replace(self, **changes)

    @classmethod
    def field_names(cls):
        """Names of the configuration's fields, in declaration order."""
        return [f.name for f in fields(cls)]

    @classmethod
    def from_float(cls, n_neurons, *, target_rate=0.1, margin_rate=0.02, window=64,
                   counter_width=None, threshold_width=12, threshold_frac_bits=8,
                   threshold_range=(0.0, None), threshold_init=1.0, threshold_step=0.01,
                   update_rule=DEADBAND, weight_width=8, synaptic_scaling_step=1 / 16,
                   lr_scale_range=(0.5, 2.0), lr_reference_std=None, decay_exponent=0.5,
                   consolidation_strength=0.8, prune_threshold=1 / 16):
        """Build a configuration from physical parameters.

        Every conversion rounds to the nearest representable value, halves upwards (see
        :func:`round_half_up`); powers of two are rounded in the log2 domain. A value that rounds
        to something unusable raises :exc:`ValueError`.

        Parameters
        ----------
        n_neurons : int
            Number of regulated neurons.
        target_rate : float
            Target spikes per neuron per timestep; ``target_count = round(target_rate * window)``.
        margin_rate : float
            Half-width of the dead band in spikes per timestep;
            ``margin = round(margin_rate * window)``.
        window : int
            Window length in timesteps, a power of two.
        counter_width : int or None
            Counter width; by default just wide enough to count ``window`` spikes.
        threshold_width, threshold_frac_bits : int
            Unsigned fixed-point threshold format.
        threshold_range : (float, float or None)
            Floor and ceiling in model units; a ceiling of None is the format's largest value.
        threshold_init : float
            Initial threshold in model units.
        threshold_step : float
            Threshold change per window in model units. The dead-band rule moves by
            ``round(step * 2 ** threshold_frac_bits)`` raw units. The proportional rule
            ``threshold += step * (rate - target)`` has a raw gain of
            ``step * 2 ** threshold_frac_bits / window`` per spike, rounded to the nearest power of
            two and applied as a shift.
        update_rule : str
            ``"deadband"`` or ``"proportional"``.
        weight_width : int
            Width of a signed weight.
        synaptic_scaling_step : float
            Relative weight change of synaptic scaling per window, rounded to a power of two.
        lr_scale_range : (float, float)
            Learning-rate scale range; each end is rounded inwards to a power of two.
        lr_reference_std : float or None
            Standard deviation of the rates at which the learning rate is unscaled. By default the
            sampling noise of a neuron firing at the target rate,
            ``sqrt(target_rate * (1 - target_rate) / window)``.
        decay_exponent : float
            Sleep power-law exponent, in steps of 1/16.
        consolidation_strength : float
            Sleep blend between no decay (0) and the full power law (1), in steps of 1/16.
        prune_threshold : float
            Sleep prunes weights below this fraction of max|w|, rounded to a power of two.

        Examples
        --------
        >>> config = RegulatorConfig.from_float(128, target_rate=0.1, window=64)
        >>> config.target_count, config.margin
        (6, 1)
        """
        _check_int("window", window, minimum=2)
        for name, value in (("target_rate", target_rate), ("margin_rate", margin_rate),
                            ("threshold_init", threshold_init), ("threshold_step", threshold_step),
                            ("synaptic_scaling_step", synaptic_scaling_step),
                            ("decay_exponent", decay_exponent),
                            ("consolidation_strength", consolidation_strength),
                            ("prune_threshold", prune_threshold)):
            _check_finite(name, value)
        if not 0 < target_rate < 1:
            raise ValueError(
                f"target_rate must be between 0 and 1 spikes per timestep, not {target_rate}")
        if margin_rate < 0:
            raise ValueError(f"margin_rate must not be negative, not {margin_rate}")
        target_count = round_half_up(target_rate * window)
        if target_count == 0:
            raise ValueError(
                f"target_rate {target_rate} rounds to 0 spikes in a {window}-step window, so "
                f"thresholds could only rise; use a window of at least "
                f"{_next_power_of_two(0.5 / target_rate)} timesteps or a higher target rate")
        margin = round_half_up(margin_rate * window)

        if counter_width is None:
            counter_width = window.bit_length()

        scale = 1 << threshold_frac_bits
        floor, ceiling = threshold_range
        _check_finite("threshold floor", floor)
        if floor < 0:
            raise ValueError(f"threshold floor must not be negative, not {floor}; thresholds "
                             f"are unsigned")
        raw_max = (1 << threshold_width) - 1
        floor_raw = round_half_up(floor * scale)
        if ceiling is None:
            ceiling_raw = raw_max
        else:
            _check_finite("threshold ceiling", ceiling)
            if ceiling < floor:
                raise ValueError(
                    f"threshold_range ({floor}, {ceiling}) is out of order; give (floor, ceiling)")
            ceiling_raw = round_half_up(ceiling * scale)
            if ceiling_raw > raw_max:
                raise ValueError(
                    f"threshold ceiling {ceiling} does not fit a {threshold_width}-bit threshold "
                    f"with {threshold_frac_bits} fractional bits (at most {raw_max / scale}); "
                    f"widen threshold_width or use fewer fractional bits")
        if threshold_init < 0:
            raise ValueError(f"threshold_init must not be negative, not {threshold_init}")
        init_raw = round_half_up(threshold_init * scale)

        if threshold_step <= 0:
            raise ValueError(f"threshold_step must be positive, not {threshold_step}")
        step_raw = round_half_up(threshold_step * scale)
        if step_raw == 0:
            raise ValueError(
                f"threshold_step {threshold_step} is below half of one threshold LSB "
                f"(2**-{threshold_frac_bits}); use more threshold_frac_bits")
        gain = threshold_step * scale / window
        proportional_shift = -round_half_up(math.log2(gain))

        if not 0 < synaptic_scaling_step < 1:
            raise ValueError(
                f"synaptic_scaling_step must be between 0 and 1, not {synaptic_scaling_step}")
        scale_shift = round_half_up(-math.log2(synaptic_scaling_step))

        lr_min, lr_max = _check_lr_scale_range(lr_scale_range)
        lr_exponent_min = math.ceil(math.log2(lr_min) - 1e-9)
        lr_exponent_max = math.floor(math.log2(lr_max) + 1e-9)
        if lr_exponent_min > lr_exponent_max:
            raise ValueError(
                f"lr_scale_range {tuple(lr_scale_range)} contains no power of two; the hardware "
                f"scales the learning rate by 2**k, so widen the range to include one")

        if lr_reference_std is None:
            lr_reference_std = math.sqrt(target_rate * (1 - target_rate) / window)
        _check_finite("lr_reference_std", lr_reference_std)
        if lr_reference_std <= 0:
            raise ValueError(f"lr_reference_std must be positive, not {lr_reference_std}")
        lr_reference_dispersion = reference_dispersion(lr_reference_std, window, n_neurons)

        if decay_exponent < 0:
            raise ValueError(f"decay_exponent must not be negative, not {decay_exponent}")
        if not 0 <= consolidation_strength <= 1:
            raise ValueError(
                f"consolidation_strength must be between 0 and 1, not {consolidation_strength}")
        if not 0 < prune_threshold <= 1:
            raise ValueError(f"prune_threshold must be in (0, 1], not {prune_threshold}")
        prune_shift = round_half_up(-math.log2(prune_threshold))

        return cls(
            n_neurons=n_neurons, window=window, counter_width=counter_width,
            target_count=target_count, margin=margin,
            threshold_width=threshold_width, threshold_frac_bits=threshold_frac_bits,
            threshold_floor=floor_raw, threshold_ceiling=ceiling_raw, threshold_init=init_raw,
            threshold_step=step_raw, proportional_shift=proportional_shift,
            update_rule=update_rule, weight_width=weight_width, scale_shift=scale_shift,
            lr_exponent_min=lr_exponent_min, lr_exponent_max=lr_exponent_max,
            lr_reference_dispersion=lr_reference_dispersion,
            decay_exponent_raw=round_half_up(decay_exponent * (1 << DECAY_FRAC_BITS)),
            strength_raw=round_half_up(consolidation_strength * (1 << STRENGTH_FRAC_BITS)),
            prune_shift=prune_shift,
        )


def reference_dispersion(rate_std, window, n_neurons):
    """Convert a standard deviation of rates to the hardware's summed absolute count deviation.

    The mean absolute deviation of a normal distribution is ``sqrt(2 / pi)`` times its standard
    deviation; the result is rounded half up and is at least 1.
    """
    reference = rate_std * math.sqrt(2 / math.pi) * window * n_neurons
    return max(1, round_half_up(reference))


def _check_lr_scale_range(lr_scale_range):
    try:
        lr_min, lr_max = lr_scale_range
    except (TypeError, ValueError):
        raise TypeError(
            f"lr_scale_range must be a pair (min, max), not {lr_scale_range!r}") from None
    _check_finite("lr_scale_range minimum", lr_min)
    _check_finite("lr_scale_range maximum", lr_max)
    if lr_min <= 0:
        raise ValueError(f"lr_scale_range minimum must be positive, not {lr_min}")
    if lr_min > lr_max:
        raise ValueError(
            f"lr_scale_range ({lr_min}, {lr_max}) is out of order; give (min, max)")
    return lr_min, lr_max


def _next_power_of_two(value):
    return 1 << max(1, math.ceil(math.log2(value)))
