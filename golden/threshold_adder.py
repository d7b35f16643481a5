"""Integer model of the per-neuron threshold update."""

import numpy as np

from homeo_hw.config import DEADBAND
from .margin_comparator import classify


__all__ = ["proportional_delta", "update_thresholds"]


def proportional_delta(counts, config):
    """Compute the proportional rule's raw threshold change for each count.

    ``(count - target_count) / 2 ** proportional_shift``, rounded towards zero. An error of
    either sign smaller than ``2 ** proportional_shift`` changes nothing, so the rule has no bias
    towards lowering thresholds. An arithmetic shift, which rounds towards negative infinity,
    would lower the threshold of every neuron one spike below target. A negative shift is an
    exact left shift.
    """
    error = np.asarray(counts, dtype=np.int64) - config.target_count
    shift = config.proportional_shift
    if shift >= 0:
        return np.sign(error) * (np.abs(error) >> shift)
    return error << -shift


def update_thresholds(thresholds, counts, config):
    """Apply one window's threshold update and saturate at floor and ceiling.

    The dead-band rule adds ``threshold_step`` to thresholds of over-active neurons and subtracts
    it from those of under-active neurons; the proportional rule adds
    :func:`proportional_delta`. The sum is computed without overflow, then clamped to
    ``[threshold_floor, threshold_ceiling]``.
    """
    thresholds = np.asarray(thresholds, dtype=np.int64)
    if config.update_rule == DEADBAND:
        delta = classify(counts, config).astype(np.int64) * config.threshold_step
    else:
        delta = proportional_delta(counts, config)
    return np.clip(thresholds + delta, config.threshold_floor, config.threshold_ceiling)
