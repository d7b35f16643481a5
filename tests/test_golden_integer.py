"""Property tests of the integer golden model, over random configurations and inputs."""

import itertools

import numpy as np
from hypothesis import given, settings, strategies as st

from homeo_hw.config import DEADBAND, PROPORTIONAL, RegulatorConfig
from homeo_hw.golden import ABOVE, BELOW, IntegerRegulator, SleepConsolidation, prune_weights
from homeo_hw.golden.lr_scaler import lr_exponent
from homeo_hw.golden.sleep_pruner import exp2_fixed, log2_fixed
from homeo_hw.golden.weight_scaler import scale_weights


# Modest example counts keep the file to a few seconds.
FEW = settings(max_examples=40, deadline=None)


@st.composite
def configs(draw):
    """Draw a valid configuration, covering both update rules and edge-sized formats."""
    window_log2 = draw(st.integers(2, 6))
    window = 1 << window_log2
    counter_width = draw(st.integers(window_log2 + 1, window_log2 + 3))
    target_count = draw(st.integers(1, window - 2))
    margin = draw(st.integers(0, min(target_count - 1, window - target_count - 1)))

    threshold_width = draw(st.integers(4, 12))
    raw_max = (1 << threshold_width) - 1
    floor = draw(st.integers(0, raw_max))
    ceiling = draw(st.integers(floor, raw_max))

    weight_width = draw(st.integers(4, 10))
    lr_low, lr_high = sorted(draw(st.lists(st.integers(-3, 3), min_size=2, max_size=2)))

    return RegulatorConfig(
        n_neurons=draw(st.integers(1, 8)),
        window=window,
        counter_width=counter_width,
        target_count=target_count,
        margin=margin,
        threshold_width=threshold_width,
        threshold_frac_bits=draw(st.integers(0, threshold_width)),
        threshold_floor=floor,
        threshold_ceiling=ceiling,
        threshold_init=draw(st.integers(floor, ceiling)),
        threshold_step=draw(st.integers(1, max(1, ceiling - floor))),
        proportional_shift=draw(st.integers(-threshold_width, threshold_width + counter_width)),
        update_rule=draw(st.sampled_from([DEADBAND, PROPORTIONAL])),
        weight_width=weight_width,
        scale_shift=draw(st.integers(1, weight_width - 1)),
        lr_exponent_min=lr_low,
        lr_exponent_max=lr_high,
        decay_exponent_raw=draw(st.integers(0, 64)),
        strength_raw=draw(st.integers(0, 16)),
        prune_shift=draw(st.integers(0, weight_width)),
    )


@st.composite
def config_and_raster(draw, max_windows=3):
    config = draw(configs())
    timesteps = draw(st.integers(1, max_windows * config.window))
    density = draw(st.sampled_from([0.0, 0.05, 0.3, 1.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    raster = np.random.default_rng(seed).random((timesteps, config.n_neurons)) < density
    return config, raster


@st.composite
def config_and_weights(draw):
    config = draw(configs())
    n_pre = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    weights = rng.integers(config.weight_min, config.weight_max + 1, (n_pre, config.n_neurons))
    classes = rng.integers(-1, 2, config.n_neurons)
    return config, weights, classes


@FEW
@given(config_and_raster())
def test_thresholds_stay_within_floor_and_ceiling(case):
    config, raster = case
    model = IntegerRegulator(config)
    for result in model.run(raster):
        low = int(result.thresholds.min())
        high = int(result.thresholds.max())
        assert config.threshold_floor <= low, f"window {result.window_index}: threshold {low}"
        assert high <= config.threshold_ceiling, f"window {result.window_index}: threshold {high}"


@FEW
@given(configs(), st.integers(0, 2**32 - 1))
def test_event_counters_saturate_without_wrapping(config, seed):
    # Up to three times the counter's capacity of events per timestep, repeats included.
    rng = np.random.default_rng(seed)
    model = IntegerRegulator(config)
    true_counts = np.zeros(config.n_neurons, dtype=np.int64)
    for timestep in range(config.window):
        events = rng.integers(0, config.n_neurons, rng.integers(0, 3 * config.counter_max + 1))
        true_counts += np.bincount(events, minlength=config.n_neurons)
        result = model.step_events(events)
        counts = model.state.counts if result is None else result.counts
        expected = np.minimum(true_counts, config.counter_max)
        for neuron in range(config.n_neurons):
            assert counts[neuron] == expected[neuron], (
                f"timestep {timestep}, neuron {neuron}: count {counts[neuron]}, expected "
                f"min({true_counts[neuron]}, {config.counter_max})")
    assert result is not None, "the last timestep of a window returns its result"


@FEW
@given(config_and_weights())
def test_synaptic_scaling_keeps_sign_and_ratios(case):
    config, weights, classes = case
    scaled = scale_weights(weights, classes, config)
    factor = np.where(classes == ABOVE, 1 - 2.0 ** -config.scale_shift,
                      np.where(classes == BELOW, 1 + 2.0 ** -config.scale_shift, 1.0))
    ideal = weights * factor[np.newaxis, :]

    assert np.array_equal(np.sign(scaled), np.sign(weights)), "a weight changed sign"

    # Below the weight range's limits the only error is the shift's rounding towards zero, less
    # than one LSB. Beyond them the result saturates at the limit.
    inside = (ideal >= config.weight_min) & (ideal <= config.weight_max)
    error = np.abs(scaled - ideal)
    for row, column in zip(*np.nonzero(inside), strict=True):
        assert error[row, column] < 1, (
            f"weight ({row}, {column}) = {weights[row, column]}: scaled to "
            f"{scaled[row, column]}, ideal {ideal[row, column]}")
    assert (scaled[ideal > config.weight_max] == config.weight_max).all()
    assert (scaled[ideal < config.weight_min] == config.weight_min).all()

    # So for two unsaturated weights a, b of one column, scaled to f*a + e_a and f*b + e_b with
    # |e| < 1: |a' * b - b' * a| = |e_a * b - e_b * a| <= |a| + |b|. Ratios are kept up to that.
    for column in range(config.n_neurons):
        rows = np.nonzero(inside[:, column])[0]
        a = weights[rows, column][:, np.newaxis]
        b = weights[rows, column][np.newaxis, :]
        a_scaled = scaled[rows, column][:, np.newaxis]
        b_scaled = scaled[rows, column][np.newaxis, :]
        cross = np.abs(a_scaled * b - b_scaled * a)
        assert (cross <= np.abs(a) + np.abs(b)).all(), f"column {column}: ratio not kept"


@FEW
@given(config_and_weights())
def test_pruning_keeps_sign_and_never_grows(case):
    config, weights, _ = case
    result = prune_weights(weights, config)
    kept = result.weights != 0
    assert np.array_equal(np.sign(result.weights[kept]), np.sign(weights[kept])), "sign flipped"
    assert (np.abs(result.weights) <= np.abs(weights)).all(), "a magnitude grew"
    assert result.max_magnitude == int(np.abs(weights).max())
    assert result.pruned == int(np.count_nonzero((weights != 0) & (result.weights == 0)))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 15), st.data())
def test_log2_exp2_round_trip(frac_bits, data):
    magnitude = data.draw(st.integers(1, (1 << (frac_bits + 1)) - 1))
    log = log2_fixed(magnitude, frac_bits)
    assert exp2_fixed(log, frac_bits) == magnitude
    power = 1 << (magnitude.bit_length() - 1)
    assert log2_fixed(power, frac_bits) == (magnitude.bit_length() - 1) << frac_bits, \
        "log2 is exact at powers of two"


@FEW
@given(config_and_raster(max_windows=4), st.lists(st.floats(0, 1), max_size=4))
def test_chunked_run_equals_one_run(case, cut_fractions):
    config, raster = case
    cuts = sorted({int(fraction * raster.shape[0]) for fraction in cut_fractions})
    whole = IntegerRegulator(config)
    expected = whole.run(raster)

    chunked = IntegerRegulator(config)
    results = []
    for chunk in np.split(raster, cuts):
        results += chunked.run(chunk)

    assert len(results) == len(expected)
    for got, want in zip(results, expected, strict=True):
        for name in ("counts", "classes", "thresholds"):
            assert np.array_equal(getattr(got, name), getattr(want, name)), \
                f"window {want.window_index}: {name}"
        for name in ("window_index", "n_above", "n_below", "dispersion", "lr_exponent"):
            assert getattr(got, name) == getattr(want, name), f"window {want.window_index}: {name}"
    assert np.array_equal(chunked.state.counts, whole.state.counts), "partial window counts"
    assert np.array_equal(chunked.state.thresholds, whole.state.thresholds)
    assert chunked.state.timestep == whole.state.timestep


@FEW
@given(configs(), st.integers(0, 5000), st.integers(0, 5000))
def test_lr_exponent_monotone_in_dispersion(config, first, second):
    low, high = sorted((first, second))
    low_exponent = lr_exponent(low, config)
    high_exponent = lr_exponent(high, config)
    assert low_exponent >= high_exponent, (
        f"dispersion {low} gives exponent {low_exponent}, larger dispersion {high} gives "
        f"{high_exponent}")
    for exponent in (low_exponent, high_exponent):
        assert config.lr_exponent_min <= exponent <= config.lr_exponent_max


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 10**6), st.floats(1e-6, 1.0), st.integers(1, 12))
def test_sleep_schedule_strictly_increasing(total, fraction, n_sleeps):
    sleep = SleepConsolidation(duration_fraction=fraction, n_sleeps=n_sleeps)
    schedule = sleep.schedule(total)
    assert all(a < b for a, b in itertools.pairwise(schedule)), f"schedule {schedule}"
    assert schedule[0] >= 1
    assert schedule[-1] <= total
    assert 1 <= len(schedule) <= n_sleeps
    if n_sleeps >= 2:
        assert schedule[-1] == total, "the last sleep follows the last epoch"
