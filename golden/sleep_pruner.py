"""Integer model of sleep consolidation: power-law decay and pruning without floating point.

The decay ``|w| * (|w| / M) ** e`` is computed in the log2 domain,
``log2|w'| = log2|w| + e * (log2|w| - log2 M)``, with Mitchell's piecewise-linear logarithm
(the leading-one position is the integer part, the bits below it the fraction) and its inverse.
Mitchell, "Computer multiplication and division using binary logarithms", IRE Transactions on
Electronic Computers, 1962.
"""

from dataclasses import dataclass

import numpy as np

from homeo_hw.config import DECAY_FRAC_BITS, STRENGTH_FRAC_BITS

from .weight_scaler import check_weights


__all__ = ["log2_fixed", "exp2_fixed", "decay_magnitudes", "PruneResult", "prune_weights"]


def log2_fixed(magnitudes, frac_bits):
    """Piecewise-linear log2 of positive integers, with ``frac_bits`` fractional bits.

    The integer part is the position of the leading one; the fraction is the bits below it,
    left-aligned. Exact at powers of two, and at most 0.086 below the true logarithm elsewhere.
    Every magnitude must be at least 1 and have at most ``frac_bits + 1`` bits.
    """
    magnitudes = np.asarray(magnitudes, dtype=np.int64)
    msb = _bit_length(magnitudes) - 1
    fraction = ((magnitudes << frac_bits) >> msb) & ((1 << frac_bits) - 1)
    return (msb << frac_bits) | fraction


def exp2_fixed(logs, frac_bits):
    """Inverse of :func:`log2_fixed`: ``floor((1 + f) * 2 ** i)`` for ``log = i + f``.

    Negative logs, which stand for values below 1, give 0.
    """
    logs = np.asarray(logs, dtype=np.int64)
    nonnegative = np.maximum(logs, 0)
    integer = nonnegative >> frac_bits
    fraction = nonnegative & ((1 << frac_bits) - 1)
    values = (((1 << frac_bits) + fraction) << integer) >> frac_bits
    return np.where(logs < 0, 0, values)


def decay_magnitudes(magnitudes, max_magnitude, config):
    """Apply the blended power-law decay to magnitudes, without pruning.

    With ``L = log2|w| - log2 M`` (never positive) and the exponent ``e`` in sixteenths,
    ``decayed = exp2(log2|w| + floor(e * L))``, and the blend with strength ``k`` in sixteenths is
    ``|w| - floor(k * (|w| - decayed))``. The result is never larger than ``|w|`` and never
    smaller than ``decayed``; zero stays zero.
    """
    magnitudes = np.asarray(magnitudes, dtype=np.int64)
    frac_bits = config.log_frac_bits
    safe = np.maximum(magnitudes, 1)
    log_w = log2_fixed(safe, frac_bits)
    log_max = int(log2_fixed(max(max_magnitude, 1), frac_bits))
    relative = log_w - log_max
    decayed = exp2_fixed(log_w + ((config.decay_exponent_raw * relative) >> DECAY_FRAC_BITS),
                         frac_bits)
    blended = magnitudes - ((config.strength_raw * (magnitudes - decayed)) >> STRENGTH_FRAC_BITS)
    return np.where(magnitudes == 0, 0, blended)


@dataclass(frozen=True)
class PruneResult:
    """Outcome of one sleep pass over a weight memory.

    Attributes
    ----------
    weights : ndarray of int64
        Weights after decay and pruning, in the shape given.
    max_magnitude : int
        ``max|w|`` found by the first pass.
    pruned : int
        Number of synapses that were nonzero before the pass and are zero after it.
    """

    weights: np.ndarray
    max_magnitude: int
    pruned: int


def prune_weights(weights, config):
    """Decay every weight by the power law and prune the weakest, as the sleep pruner does.

    A weight whose decayed magnitude is below ``max|w| >> prune_shift`` becomes 0. Signs are
    kept, and no magnitude grows. When every weight is 0 the weights are returned unchanged.
    """
    weights = check_weights(weights, config)
    magnitudes = np.abs(weights)
    max_magnitude = int(magnitudes.max()) if magnitudes.size else 0
    if max_magnitude == 0:
        return PruneResult(weights.copy(), 0, 0)
    decayed = decay_magnitudes(magnitudes, max_magnitude, config)
    decayed = np.where(decayed < (max_magnitude >> config.prune_shift), 0, decayed)
    pruned = int(np.count_nonzero((magnitudes != 0) & (decayed == 0)))
    return PruneResult(np.sign(weights) * decayed, max_magnitude, pruned)


def _bit_length(values):
    # Exact for the small integers here: frexp returns the exponent e with 2**(e-1) <= x < 2**e.
    return np.frexp(values.astype(np.float64))[1].astype(np.int64)
