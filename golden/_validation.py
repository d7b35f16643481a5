"""Input checks shared by the float API of the golden model.

Every check raises :exc:`ValueError` (or :exc:`TypeError` for a value of the wrong kind) with a
message that names the value and how to fix it. Arrays may be anything NumPy can convert:
lists, NumPy arrays, or objects with an ``__array__`` method such as tensors moved to the CPU.
"""

import math
import numbers

import numpy as np


__all__ = [
    "check_real", "check_positive", "check_fraction", "check_int", "check_range",
    "as_float_array", "check_rates", "check_same_shape", "result_dtype",
]


def check_real(name, value):
    """Return ``value`` as a float, raising unless it is a finite real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, not {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, not {value!r}")
    return value


def check_positive(name, value):
    """Return ``value`` as a float, raising unless it is finite and above 0."""
    value = check_real(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be positive, not {value!r}")
    return value


def check_fraction(name, value, *, low_open=False, high_open=False):
    """Return ``value`` as a float, raising unless it lies in the interval from 0 to 1.

    ``low_open`` and ``high_open`` exclude the ends 0 and 1.
    """
    value = check_real(name, value)
    too_low = value <= 0 if low_open else value < 0
    too_high = value >= 1 if high_open else value > 1
    if too_low or too_high:
        opening = "(" if low_open else "["
        closing = ")" if high_open else "]"
        interval = f"{opening}0, 1{closing}"
        raise ValueError(f"{name} must be in {interval}, not {value!r}")
    return value


def check_int(name, value, *, minimum=None):
    """Return ``value`` as an int, raising unless it is an integer of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")
    return value


def check_range(name, pair, *, allow_none=False):
    """Return ``pair`` as a tuple ``(low, high)`` of floats, raising unless it is ordered.

    With ``allow_none`` either end may be None, which stands for no bound.
    """
    try:
        low, high = pair
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair (low, high), not {pair!r}") from None
    if not (allow_none and low is None):
        low = check_real(f"{name} low end", low)
    if not (allow_none and high is None):
        high = check_real(f"{name} high end", high)
    if low is not None and high is not None and low > high:
        raise ValueError(f"{name} ({low}, {high}) is out of order; give (low, high)")
    return low, high


def as_float_array(name, value, *, ndim=None, keep_float_dtype=False):
    """Convert an array-like to a float64 array, raising on empty, non-finite or ragged input.

    With ``keep_float_dtype`` a floating-point input keeps its dtype, which saves a copy of a
    large float32 array. The result may share memory with ``value``, so callers must not write
    to it.
    """
    try:
        array = np.asarray(value)
        if not (keep_float_dtype and np.issubdtype(array.dtype, np.floating)):
            array = array.astype(np.float64, copy=False)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be an array of real numbers, not {value!r} ({error})") \
            from None
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension{'s' if ndim != 1 else ''}, not "
                         f"shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); give at least one value")
    if not np.isfinite(array).all():
        bad = np.flatnonzero(~np.isfinite(array))[0]
        raise ValueError(
            f"{name} contains {array.flat[bad]} at flat index {bad}; every value must be finite, "
            f"so replace NaN and infinity in it")
    return array


def check_rates(name, value):
    """Convert firing rates in spikes per neuron per timestep to a float64 vector.

    Raises unless every rate lies between 0 and 1, because a neuron fires at most once per
    timestep.
    """
    rates = as_float_array(name, value, ndim=1)
    out_of_range = (rates < 0) | (rates > 1)
    if out_of_range.any():
        bad = np.flatnonzero(out_of_range)[0]
        raise ValueError(
            f"{name}[{bad}] is {rates[bad]}, but rates are spikes per timestep and must lie in "
            f"[0, 1]; divide spike counts by the number of timesteps, not by seconds")
    return rates


def check_same_shape(name, array, expected_name, expected_shape):
    """Raise unless ``array`` has ``expected_shape``, the shape of ``expected_name``."""
    if array.shape != tuple(expected_shape):
        raise ValueError(
            f"{name} has shape {array.shape}, but {expected_name} has shape "
            f"{tuple(expected_shape)}; give one value per neuron")


def result_dtype(value):
    """Choose the dtype of a result computed from ``value``.

    A floating-point NumPy array keeps its dtype, so float32 in gives float32 out; anything else
    gives float64.
    """
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        return value.dtype
    return np.dtype(np.float64)
