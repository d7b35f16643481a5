"""Integer model of the dead-band classification of a window's spike count."""

import numpy as np


__all__ = ["ABOVE", "IN_BAND", "BELOW", "classify"]


#: Class of a count above ``target_count + margin``: the neuron is over-active.
ABOVE = 1
#: Class of a count within ``[target_count - margin, target_count + margin]``.
IN_BAND = 0
#: Class of a count below ``target_count - margin``: the neuron is under-active.
BELOW = -1


def classify(counts, config):
    """Classify window counts as :data:`ABOVE`, :data:`IN_BAND` or :data:`BELOW`.

    Returns an int8 array of the same shape as ``counts``.
    """
    counts = np.asarray(counts, dtype=np.int64)
    classes = np.zeros(counts.shape, dtype=np.int8)
    classes[counts > config.upper_bound] = ABOVE
    classes[counts < config.lower_bound] = BELOW
    return classes
