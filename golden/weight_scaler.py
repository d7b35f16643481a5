"""Integer model of multiplicative synaptic scaling by shifts."""

import numpy as np

from .margin_comparator import ABOVE, BELOW


__all__ = ["check_weights", "shift_toward_zero", "scale_weights"]


def check_weights(weights, config, name="weights"):
    """Return ``weights`` as an int64 array after checking that each is a raw weight.

    Raises :exc:`ValueError` that names the first entry that is not a whole number, or that lies
    outside ``[weight_min, weight_max]``, and :exc:`TypeError` for an array that is not numeric.
    Floats with whole values are accepted, so that weights loaded as floats need no cast.
    """
    array = np.asarray(weights)
    if array.dtype == np.bool_ or not (np.issubdtype(array.dtype, np.integer)
                                       or np.issubdtype(array.dtype, np.floating)):
        raise TypeError(f"{name} must be integers, not an array of {array.dtype}")
    if np.issubdtype(array.dtype, np.floating):
        fractional = ~np.isfinite(array) | (array != np.round(array))
        if fractional.any():
            index = tuple(np.argwhere(fractional)[0])
            raise ValueError(
                f"{name}{_position(index)} is {array[index]}, not a whole number; the integer "
                f"model takes raw {config.weight_width}-bit weights")
    outside = (array < config.weight_min) | (array > config.weight_max)
    if outside.any():
        index = tuple(np.argwhere(outside)[0])
        raise ValueError(
            f"{name}{_position(index)} is {array[index]}, outside the range of "
            f"{config.weight_width}-bit weights, [{config.weight_min}, {config.weight_max}]; "
            f"scale the weights into that range or widen weight_width")
    return array.astype(np.int64)


def _position(index):
    return "[" + ", ".join(str(int(i)) for i in index) + "]" if len(index) else ""


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
        Signed raw weights in ``[weight_min, weight_max]``, checked by :func:`check_weights`.
        Column ``j`` contains the synapses onto neuron ``j``.
    classes : array_like of int, shape (n_neurons,)
        Window classes from :func:`~.margin_comparator.classify`.

    Returns
    -------
    ndarray of int64
        Over-active neurons' weights become ``w - (w >> s)``, under-active ones' ``w + (w >> s)``,
        with the shift rounded towards zero and the sum saturated at the weight range. A weight
        never changes sign, and zero stays zero.
    """
    weights = check_weights(weights, config)
    classes = np.asarray(classes)
    step = shift_toward_zero(weights, config.scale_shift)
    direction = np.where(classes == ABOVE, -1, np.where(classes == BELOW, 1, 0))
    scaled = weights + direction[np.newaxis, :] * step
    return np.clip(scaled, config.weight_min, config.weight_max)
