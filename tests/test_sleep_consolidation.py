import doctest
import math
import re

import numpy as np
import pytest

from homeo_hw.config import RegulatorConfig
from homeo_hw.golden import SleepConsolidation
from homeo_hw.golden import sleep_consolidation as sleep_consolidation_module


def naive_sleep(layer, exponent, strength, prune_threshold):
    """Apply the sleep rule element by element."""
    flat = [float(w) for w in np.ravel(layer)]
    largest = max(abs(w) for w in flat)
    if largest == 0:
        return np.array(flat).reshape(np.shape(layer))
    result = []
    for w in flat:
        new = w * ((1 - strength) + strength * (abs(w) / largest) ** exponent)
        result.append(0.0 if abs(new) < prune_threshold * largest else new)
    return np.array(result).reshape(np.shape(layer))


def test_schedule_hundred_epochs():
    # geomspace(10, 100, 3) = 10, 31.62, 100.
    sleep = SleepConsolidation(duration_fraction=0.1, n_sleeps=3)
    assert sleep.schedule(100) == [10, 32, 100]
    sleep_epochs = [epoch for epoch in range(100) if sleep.should_sleep(epoch, total_epochs=100)]
    assert sleep_epochs == [9, 31, 99]


@pytest.mark.parametrize("total, n_sleeps, expected", [
    (1, 3, [1]),           # 0.1, 0.32, 1: the first two are raised to 1 and merge
    (2, 3, [1, 2]),        # 0.2, 0.63, 2
    (5, 3, [1, 2, 5]),     # 0.5 rounds half up to 1, 1.58, 5
    (100, 1, [10]),        # a single point is the start of the range
    (1000, 4, [100, 215, 464, 1000]),
])
def test_schedule_short_and_long_runs(total, n_sleeps, expected):
    assert SleepConsolidation(n_sleeps=n_sleeps).schedule(total) == expected


def test_apply_matches_elementwise_rule():
    rng = np.random.default_rng(5)
    layer = rng.standard_normal((6, 7))
    sleep = SleepConsolidation(decay_exponent=0.75, consolidation_strength=0.6,
                               prune_threshold=0.1)
    result = sleep.apply(layer)
    expected = naive_sleep(layer, 0.75, 0.6, 0.1)
    for (row, column), want in np.ndenumerate(expected):
        assert result[row, column] == pytest.approx(want, rel=1e-12, abs=1e-15), \
            f"weight ({row}, {column})"


def test_apply_statistics():
    layers = [np.array([[1.0, -0.5], [0.05, 0.0]]), np.array([2.0, 0.01, -2.0])]
    sleep = SleepConsolidation(decay_exponent=1.0, consolidation_strength=1.0,
                               prune_threshold=0.1)
    result = sleep.apply(layers)
    expected = [naive_sleep(layer, 1.0, 1.0, 0.1) for layer in layers]
    # Layer 0: 0.05 -> 0.0025 is pruned (below 0.1), -0.5 -> -0.25 stays; layer 1: 0.01 pruned.
    was_nonzero_now_zero = sum(int(((a != 0) & (b == 0)).sum())
                               for a, b in zip(layers, expected, strict=True))
    assert was_nonzero_now_zero == 2
    assert sleep.pruned_fraction == 2 / 7
    old = sum(np.abs(layer).sum() for layer in layers)
    new = sum(np.abs(layer).sum() for layer in expected)
    assert sleep.remaining_magnitude == pytest.approx(new / old, rel=1e-12)
    for index, (got, want) in enumerate(zip(result, expected, strict=True)):
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=f"layer {index}")


def test_apply_structure_and_dtype():
    sleep = SleepConsolidation()
    layer32 = np.array([[1.0, 0.5]], dtype=np.float32)
    result = sleep.apply([layer32, [[2, 1]]])
    assert isinstance(result, list)
    assert len(result) == 2
    assert result[0].dtype == np.float32
    assert result[1].dtype == np.float64, "integer input gives float64"
    single = sleep.apply(layer32)
    assert isinstance(single, np.ndarray)
    assert single.shape == (1, 2)


def test_apply_does_not_modify_input():
    layer = np.array([[1.0, -0.01, 0.3]])
    before = layer.copy()
    SleepConsolidation().apply([layer])
    assert np.array_equal(layer, before)


def test_apply_keeps_sign_and_never_grows():
    rng = np.random.default_rng(6)
    layer = rng.standard_normal((32, 32)) * rng.random((32, 32))
    for strength in (0.0, 0.3, 0.8, 1.0):
        sleep = SleepConsolidation(consolidation_strength=strength, decay_exponent=0.5)
        result = sleep.apply(layer)
        nonzero = result != 0
        assert np.array_equal(np.sign(result[nonzero]), np.sign(layer[nonzero])), \
            f"strength {strength}: a sign flipped"
        assert (np.abs(result) <= np.abs(layer)).all(), f"strength {strength}: a magnitude grew"
        largest = np.unravel_index(np.argmax(np.abs(layer)), layer.shape)
        assert result[largest] == layer[largest], f"strength {strength}: max|w| changed"


def test_apply_all_zero_layer_unchanged():
    sleep = SleepConsolidation()
    zeros = np.zeros((3, 3))
    result = sleep.apply(zeros)
    assert np.array_equal(result, zeros)
    assert result is not zeros
    assert sleep.pruned_fraction == 0.0
    assert sleep.remaining_magnitude == 1.0


def test_apply_zero_exponent_and_no_pruning_is_identity():
    layer = np.array([[0.001, -1.0, 0.5]])
    result = SleepConsolidation(decay_exponent=0.0, prune_threshold=0.0).apply(layer)
    assert np.array_equal(result, layer)


def test_statistics_before_first_apply():
    sleep = SleepConsolidation()
    assert math.isnan(sleep.pruned_fraction)
    assert math.isnan(sleep.remaining_magnitude)


def test_from_config():
    config = RegulatorConfig(decay_exponent_raw=12, strength_raw=8, prune_shift=3)
    sleep = SleepConsolidation.from_config(config, n_sleeps=2)
    assert sleep.decay_exponent == 12 / 16
    assert sleep.consolidation_strength == 8 / 16
    assert sleep.prune_threshold == 1 / 8
    assert sleep.n_sleeps == 2
    with pytest.raises(TypeError, match="config must be a RegulatorConfig, not None"):
        SleepConsolidation.from_config(None)


PARAMETER_ERRORS = [
    (dict(decay_exponent=-0.5), ValueError,
     ("decay_exponent must not be negative, not -0.5; a negative exponent would grow weak "
     "weights")),
    (dict(decay_exponent="0.5"), TypeError, "decay_exponent must be a real number, not '0.5'"),
    (dict(duration_fraction=0.0), ValueError, "duration_fraction must be in (0, 1], not 0.0"),
    (dict(duration_fraction=1.5), ValueError, "duration_fraction must be in (0, 1], not 1.5"),
    (dict(consolidation_strength=1.5), ValueError,
     "consolidation_strength must be in [0, 1], not 1.5"),
    (dict(n_sleeps=0), ValueError, "n_sleeps must be at least 1, not 0"),
    (dict(n_sleeps=2.0), TypeError, "n_sleeps must be an integer, not 2.0"),
    (dict(prune_threshold=-0.1), ValueError, "prune_threshold must be in [0, 1], not -0.1"),
]


@pytest.mark.parametrize("changes, exception, message", PARAMETER_ERRORS,
                         ids=[next(iter(case[0])) + "-" + str(index)
                              for index, case in enumerate(PARAMETER_ERRORS)])
def test_parameter_error_messages(changes, exception, message):
    with pytest.raises(exception, match=re.escape(message)):
        SleepConsolidation(**changes)


def test_schedule_error_messages():
    sleep = SleepConsolidation()
    with pytest.raises(ValueError, match="total_epochs must be at least 1, not 0"):
        sleep.schedule(0)
    with pytest.raises(ValueError, match="epoch must be at least 0, not -1"):
        sleep.should_sleep(-1, 10)
    with pytest.raises(TypeError, match="epoch must be an integer, not 1.5"):
        sleep.should_sleep(1.5, 10)
    with pytest.raises(ValueError, match=re.escape(
            "epoch 10 is past the last epoch 9 of total_epochs=10; epochs are counted from 0")):
        sleep.should_sleep(10, 10)


def test_apply_error_messages():
    sleep = SleepConsolidation()
    with pytest.raises(ValueError, match="weights is an empty list; give at least one layer"):
        sleep.apply([])
    with pytest.raises(ValueError, match=re.escape("weights[1] contains nan at flat index 0")):
        sleep.apply([np.ones(2), np.array([math.nan])])
    with pytest.raises(ValueError, match=re.escape("weights is empty (shape (0, 3))")):
        sleep.apply(np.zeros((0, 3)))


def test_docstring_examples():
    result = doctest.testmod(sleep_consolidation_module)
    assert result.failed == 0, f"{result.failed} docstring examples failed"
