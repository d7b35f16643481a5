"""Integer model of the learning-rate scale exponent."""

import numpy as np


__all__ = ["dispersion", "lr_exponent"]


def dispersion(counts, config):
    """Sum the absolute deviations of the counts from ``target_count``.

    This spread measure needs only a subtractor and an accumulator, no multiplier.
    """
    counts = np.asarray(counts, dtype=np.int64)
    return int(np.abs(counts - config.target_count).sum())


def lr_exponent(total_dispersion, config):
    """Choose the learning-rate exponent ``k`` for a population's dispersion ``D``.

    ``k`` is the largest integer in ``[lr_exponent_min, lr_exponent_max]`` with
    ``D * 2**k <= lr_reference_dispersion``, and ``lr_exponent_min`` if there is none. So
    ``k = floor(log2(D_ref / D))`` clipped to the range, and a population whose every count
    equals the target (``D = 0``) gets ``lr_exponent_max``. The exponent falls monotonically as
    the dispersion grows. The gateware compares ``D`` with the constants ``D_ref >> k`` (floor)
    or ``D_ref << -k``, which is the same test for integer ``D``.
    """
    reference = config.lr_reference_dispersion
    for exponent in range(config.lr_exponent_max, config.lr_exponent_min - 1, -1):
        limit = reference >> exponent if exponent >= 0 else reference << -exponent
        if total_dispersion <= limit:
            return exponent
    return config.lr_exponent_min
