"""Integer model of multiplicative synaptic scaling by shifts."""

import numpy as np

from .margin_comparator import ABOVE, BELOW


__all__ = ["shift_toward_zero", "scale_weights"]


def shift_toward_zero(weights, shift):
    """Divide by ``2 ** shift``, rounding towards zero.

    Unlike an arithmetic shift, which rounds towards negative infinity, this keeps scaling odd:
    ``shift_toward_zero(-w, s) == -shift_toward_zero(w, s)``, so negative weights change exactly
    like positive ones.
    """
    weights = np.asarray(weights, dtype=np.int64)
    return np.sign(weights) * (np.abs(weights) >> shift)


def scale_weights(weights, classes, config):
    """Scale each post-synaptic neuron's incoming weights by its class.

    Parameters
    ----------
    weights : array_like of int, shape (n_pre, n_neurons)
        Signed weights; column ``j`` contains the synapses onto neuron ``j``.
    classes : array_like of int, shape (n_neurons,)
        Window classes from :func:`~.margin_comparator.classify`.

    Returns
    -------
    ndarray of int64
        Over-active neurons' weights become ``w - (w >> s)``, under-active ones' ``w + (w >> s)``,
        with the shift rounded towards zero and the sum saturated at the weight range. A weight
        never changes sign, and zero stays zero.
    """
    weights = np.asarray(weights, dtype=np.int64)
    classes = np.asarray(classes)
    step = shift_toward_zero(weights, config.scale_shift)
    direction = np.where(classes == ABOVE, -1, np.where(classes == BELOW, 1, 0))
    scaled = weights + direction[np.newaxis, :] * step
    return np.clip(scaled, config.weight_min, config.weight_max)
