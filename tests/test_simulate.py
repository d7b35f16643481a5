# amaranth: UnusedElaboratable=no
import os
from pathlib import Path

import numpy as np
import pytest
from amaranth.hdl import Fragment

from homeo_hw import cxxrtl
from homeo_hw.config import PROPORTIONAL, RegulatorConfig
from homeo_hw.cxxrtl import CxxrtlUnavailable
from homeo_hw.golden import IntegerRegulator
from homeo_hw.golden.rates import load_recording
from homeo_hw.simulate import (BackendUnavailable, RegulatorBench, WindowRecord, _compare,
                               check_spike_counts, default_backend, load_raster,
                               payload_integers, plot_simulation, simulate, simulate_regulator,
                               simulate_tdm_regulator, tdm_event_payloads)
from tests.sim import assert_array_equal, assert_value_equal


DATA = Path(__file__).parent / "data"

# A 16-step window: the 1000 timesteps of a recording binned at 1 ms give 62 windows.
CONFIG = RegulatorConfig(n_neurons=12, window=16, counter_width=5, target_count=2, margin=1,
                         threshold_step=5)

REGULATOR = RegulatorConfig(n_neurons=8, window=16, counter_width=5, target_count=4, margin=1,
                            threshold_init=256, threshold_step=5)

WINDOW_FIELDS = ("n_above", "n_below", "dispersion", "lr_exponent")

needs_cxxrtl = pytest.mark.skipif(not cxxrtl.available(),
                                  reason=f"CXXRTL unavailable: {cxxrtl.unavailable_reason()}")


def vcd_file(name):
    folder = os.environ.get("HOMEO_HW_VCD")
    return None if not folder else Path(folder, f"test_simulate_{name}.vcd")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cxxrtl_cache")


def assert_windows_equal(actual, expected):
    assert len(actual) == len(expected), f"{len(actual)} windows, expected {len(expected)}"
    for record, result in zip(actual, expected, strict=True):
        for field in ("counts", "thresholds"):
            got = np.asarray(getattr(record, field))
            want = np.asarray(getattr(result, field))
            for neuron in np.flatnonzero(got != want):
                raise AssertionError(f"window {record.window_index}, neuron {neuron}, {field}: "
                                     f"{got[neuron]}, expected {want[neuron]}")
        for field in ("n_above", "n_below", "dispersion", "lr_exponent"):
            assert getattr(record, field) == getattr(result, field), (
                f"window {record.window_index}, {field}: {getattr(record, field)}, expected "
                f"{getattr(result, field)}")


@pytest.mark.parametrize("recording, config", [
    ("brunel_balanced", CONFIG),
    ("brunel_runaway", CONFIG.replace(target_count=4)),
    ("brunel_quiet", CONFIG.replace(update_rule=PROPORTIONAL, proportional_shift=-2)),
])
def test_recording_matches_golden_model(recording, config):
    raster = load_raster(DATA / f"{recording}.npz")[:, :config.n_neurons]
    result = simulate(config, raster, backend="pysim", vcd_file=vcd_file(recording))
    assert result.backend == "pysim"
    assert result.matched, "\n".join(result.mismatches[:10])
    assert len(result.windows) == len(raster) // config.window == 62
    # Checked against a fresh run of the golden model, not only by simulate's own comparison.
    assert_windows_equal(result.windows, IntegerRegulator(config).run(raster > 0))


def test_neurons_beyond_64_bits_match():
    # Spike vectors wider than a NumPy int64 must reach every neuron of the gateware.
    config = CONFIG.replace(n_neurons=70)
    raster = np.random.default_rng(3).random((3 * config.window, 70)) < 0.2
    result = simulate(config, raster, backend="pysim")
    assert result.matched, "\n".join(result.mismatches[:10])
    assert_windows_equal(result.windows, IntegerRegulator(config).run(raster))


def test_window_done_follows_window_end():
    raster = np.ones((3 * CONFIG.window, CONFIG.n_neurons), dtype=np.int64)
    result = simulate(CONFIG, raster, backend="pysim")
    for record in result.windows:
        last_timestep = (record.window_index + 1) * CONFIG.window - 1
        assert record.done_cycle > last_timestep, record


def test_counts_above_one_clipped():
    raster = np.zeros((CONFIG.window, CONFIG.n_neurons), dtype=np.int64)
    raster[0, 0] = 3
    raster[5, 2] = 2
    raster[6, 2] = 1
    result = simulate(CONFIG, raster, backend="pysim")
    assert result.clipped_spikes == 3
    assert result.matched, "\n".join(result.mismatches)
    assert result.windows[0].counts[0] == 1
    assert result.windows[0].counts[2] == 2


def test_partial_window_not_compared():
    raster = np.ones((CONFIG.window + 5, CONFIG.n_neurons), dtype=np.int64)
    result = simulate(CONFIG, raster, backend="pysim")
    assert len(result.windows) == 1
    assert result.matched


def test_mismatch_names_window_neuron_and_field():
    golden = IntegerRegulator(CONFIG).run(np.ones((CONFIG.window, CONFIG.n_neurons), dtype=int))
    expected = golden[0]
    thresholds = expected.thresholds.copy()
    thresholds[3] += 1
    record = WindowRecord(window_index=0, done_cycle=18, counts=expected.counts,
                          thresholds=thresholds, n_above=expected.n_above,
                          n_below=expected.n_below, dispersion=expected.dispersion + 2,
                          lr_exponent=expected.lr_exponent)
    mismatches = _compare([record], golden)
    assert mismatches == [
        (f"window 0, neuron 3, thresholds: gateware {thresholds[3]}, golden model "
         f"{expected.thresholds[3]}"),
        (f"window 0, dispersion: gateware {expected.dispersion + 2}, golden model "
         f"{expected.dispersion}"),
    ]


def test_missing_window_is_mismatch():
    golden = IntegerRegulator(CONFIG).run(np.ones((CONFIG.window, CONFIG.n_neurons), dtype=int))
    assert _compare([], golden) == [
        "the gateware completed 0 windows, the golden model 1"]


def test_simulate_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"raster must have shape \(timesteps, 12\), not "
                                         r"\(16, 5\)"):
        simulate(CONFIG, np.zeros((16, 5)), backend="pysim")


def test_simulate_rejects_negative_counts():
    raster = np.zeros((16, CONFIG.n_neurons), dtype=int)
    raster[2, 2] = -1
    with pytest.raises(ValueError, match=r"raster contains negative spike counts, such as -1 "
                                         r"at timestep 2, neuron 2"):
        simulate(CONFIG, raster, backend="pysim")


def test_simulate_rejects_fractional_floats():
    raster = np.zeros((16, CONFIG.n_neurons))
    raster[3, 7] = 0.5
    with pytest.raises(ValueError, match=r"raster must contain spike counts, 0/1 or non-negative "
                                         r"integers, but contains 0.5, which is not a whole "
                                         r"number, at timestep 3, neuron 7"):
        simulate(CONFIG, raster, backend="pysim")


def test_simulate_accepts_whole_number_floats():
    raster = load_raster(DATA / "brunel_quiet.npz")[:32, :CONFIG.n_neurons]
    from_floats = simulate(CONFIG, raster.astype(np.float64), backend="pysim")
    from_integers = simulate(CONFIG, raster, backend="pysim")
    assert from_floats.matched, "\n".join(from_floats.mismatches[:10])
    assert_windows_equal(from_floats.windows, from_integers.windows)


@pytest.mark.parametrize("raster, message", [
    (np.array([[1.0, np.nan]]), r"contains nan, which is not a whole number, at timestep 0"),
    (np.array([[1.0, np.inf]]), r"contains inf, which is not a whole number"),
    (np.array([["1", "0"]]), r"r.npy must contain spike counts, 0/1 .* not values of type <U1"),
])
def test_check_spike_counts_rejects(raster, message):
    with pytest.raises(ValueError, match=message):
        check_spike_counts(raster, "the raster r.npy")


def test_check_spike_counts_accepts_counts():
    check_spike_counts(np.array([[0, 3], [1, 0]]))
    check_spike_counts(np.array([[True, False]]))
    check_spike_counts(np.array([[0.0, 2.0]]))


def test_simulate_rejects_unknown_backend():
    with pytest.raises(ValueError, match=r"unknown simulation back end 'verilator'; use one of "
                                         r"auto, pysim, cxxrtl"):
        simulate(CONFIG, np.zeros((16, CONFIG.n_neurons)), backend="verilator")


def test_simulate_rejects_non_config():
    with pytest.raises(TypeError, match=r"config must be a RegulatorConfig, not 12"):
        simulate(12, np.zeros((16, 12)))


def test_cxxrtl_backend_equals_pysim():
    reason = cxxrtl.unavailable_reason()
    if reason is not None:
        pytest.skip(f"CXXRTL unavailable: {reason}")
    raster = load_raster(DATA / "brunel_balanced.npz")[:320, :CONFIG.n_neurons]
    compiled = simulate(CONFIG, raster, backend="cxxrtl")
    reference = simulate(CONFIG, raster, backend="pysim")
    assert compiled.backend == "cxxrtl"
    assert compiled.matched, "\n".join(compiled.mismatches[:10])
    assert_windows_equal(compiled.windows, reference.windows)


def test_cxxrtl_without_compiler_rejected(monkeypatch):
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    with pytest.raises(BackendUnavailable, match=r"the cxxrtl back end is unavailable: C\+\+ "
                                                 r"compiler '/nonexistent/c\+\+' .* simulate "
                                                 r"with the pysim back end \(--backend pysim\)"):
        simulate(CONFIG, np.zeros((16, CONFIG.n_neurons)), backend="cxxrtl")


def test_auto_without_compiler_uses_pysim(monkeypatch):
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    assert default_backend() == "pysim"
    result = simulate(CONFIG, np.ones((CONFIG.window, CONFIG.n_neurons), dtype=int))
    assert result.backend == "pysim"
    assert result.matched


def test_vcd_written_on_request(tmp_path):
    raster = np.ones((CONFIG.window, CONFIG.n_neurons), dtype=int)
    simulate(CONFIG, raster, backend="pysim", vcd_file=tmp_path / "run.vcd")
    text = (tmp_path / "run.vcd").read_text()
    assert "window_done" in text
    assert "spikes_valid" in text


def test_plot_written(tmp_path):
    raster = load_raster(DATA / "brunel_quiet.npz")[:64, :CONFIG.n_neurons]
    result = simulate(CONFIG, raster, backend="pysim")
    plot_simulation(result, tmp_path / "sim.png")
    assert (tmp_path / "sim.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Without a suffix, the plot is a PNG under exactly the name given.
    plot_simulation(result, tmp_path / "noext")
    assert (tmp_path / "noext").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "noext.png").exists()


@pytest.mark.parametrize("name, content, message", [
    ("text.npy", b"hello", r"it is not a NumPy array file"),
    ("text.npz", b"hello", r"it is not a NumPy array file"),
    ("empty.npy", b"", r"the file is empty or truncated, not a NumPy array file"),
])
def test_load_raster_rejects_non_numpy_file(name, content, message, tmp_path):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"cannot read the raster .*{name}: {message}"):
        load_raster(path)


def test_load_raster_rejects_object_array(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([[1, None]], dtype=object))
    with pytest.raises(ValueError, match=r"objects.npy: it is not a NumPy array file"):
        load_raster(tmp_path / "objects.npy")


def test_load_raster_event_recording():
    raster = load_raster(DATA / "brunel_balanced.npz")
    assert raster.shape == (1000, 256)
    with np.load(DATA / "brunel_balanced.npz") as recording:
        # Every spike lands in some bin at 1 ms.
        assert raster.sum() == len(recording["spike_indices"])


def test_load_raster_event_recording_other_dt():
    assert load_raster(DATA / "brunel_quiet.npz", dt=0.002).shape == (500, 256)


def test_load_raster_npy(tmp_path):
    raster = np.eye(4, dtype=np.int64)
    np.save(tmp_path / "raster.npy", raster)
    np.testing.assert_array_equal(load_raster(tmp_path / "raster.npy"), raster)


def test_load_raster_npz_with_one_array(tmp_path):
    raster = np.eye(3, dtype=np.int64)
    np.savez(tmp_path / "one.npz", spikes=raster)
    np.testing.assert_array_equal(load_raster(tmp_path / "one.npz"), raster)


def test_load_raster_npz_named_raster(tmp_path):
    raster = np.eye(3, dtype=np.int64)
    np.savez(tmp_path / "two.npz", raster=raster, other=np.zeros((2, 2)))
    np.testing.assert_array_equal(load_raster(tmp_path / "two.npz"), raster)


def test_load_raster_npz_ambiguous(tmp_path):
    np.savez(tmp_path / "many.npz", a=np.zeros((2, 2)), b=np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"contains neither an event recording .* nor a single "
                                         r"2-D raster, but a, b; save the raster as the only"):
        load_raster(tmp_path / "many.npz")


def test_load_raster_unknown_suffix(tmp_path):
    path = tmp_path / "raster.csv"
    path.write_text("0,1\n")
    with pytest.raises(ValueError, match=r"is neither an .npz event recording nor an .npy "
                                         r"raster"):
        load_raster(path)


WINDOW_FIELDS = ("n_above", "n_below", "dispersion", "lr_exponent")


def check_against_golden(config, raster, simulation):
    expected = IntegerRegulator(config).run(raster)
    assert len(simulation.windows) == len(expected), (
        f"{simulation.backend} produced {len(simulation.windows)} windows, the golden model "
        f"{len(expected)}")
    for actual, result in zip(simulation.windows, expected, strict=True):
        context = f"{simulation.backend}, window {result.window_index}"
        assert_array_equal(actual.counts, result.counts, field="counts", context=context)
        assert_array_equal(actual.thresholds, result.thresholds, field="thresholds",
                           context=context)
        for field in WINDOW_FIELDS:
            assert_value_equal(getattr(actual, field), getattr(result, field), field=field,
                               context=context)


def assert_windows_identical(fast, slow):
    """Compare the window records of CXXRTL and pysim, including the cycle of each window_done."""
    for fast_window, slow_window in zip(fast, slow, strict=True):
        context = f"window {fast_window.window_index}"
        assert fast_window.done_cycle == slow_window.done_cycle, context
        assert_array_equal(fast_window.counts, slow_window.counts, field="counts",
                           context=context)
        assert_array_equal(fast_window.thresholds, slow_window.thresholds, field="thresholds",
                           context=context)
        for field in WINDOW_FIELDS:
            assert_value_equal(getattr(fast_window, field), getattr(slow_window, field),
                               field=field, context=context)


def random_raster(config, windows, rates, seed):
    rng = np.random.default_rng(seed)
    return rng.random((windows * config.window, config.n_neurons)) < np.asarray(rates)


@needs_cxxrtl
@pytest.mark.parametrize("case, rates", [
    ("mixed rates", np.linspace(0, 0.6, 8)),
    ("silent", np.zeros(8)),
    ("firing every timestep", np.ones(8)),
])
def test_regulator_matches_golden(cache_dir, case, rates):
    # Seven windows and a partial one, which must yield no record.
    raster = random_raster(REGULATOR, 7, rates, seed=8)[:-5]
    simulation = simulate_regulator(REGULATOR, raster, backend="cxxrtl", cache_dir=cache_dir,
                                    vcd_file=vcd_file(f"regulator_{case.replace(' ', '_')}"))
    assert simulation.backend == "cxxrtl"
    check_against_golden(REGULATOR, raster, simulation)


@needs_cxxrtl
def test_regulator_proportional_rule_matches_golden(cache_dir):
    config = REGULATOR.replace(update_rule=PROPORTIONAL, proportional_shift=-2,
                               threshold_init=40, threshold_floor=8)
    raster = random_raster(config, 10, np.linspace(0, 0.8, 8), seed=9)
    check_against_golden(config, raster,
                         simulate_regulator(config, raster, backend="cxxrtl", cache_dir=cache_dir))


@needs_cxxrtl
def test_regulator_recording_matches_golden(cache_dir):
    # 1 ms bins of a recorded network; a bin with two spikes of a neuron counts as one spike.
    raster = load_recording(DATA / "brunel_balanced.npz", dt=0.001)[:, :8] > 0
    check_against_golden(REGULATOR, raster,
                         simulate_regulator(REGULATOR, raster, backend="cxxrtl",
                                            cache_dir=cache_dir))


@needs_cxxrtl
@pytest.mark.parametrize("arch", ["parallel", "tdm"])
def test_cxxrtl_equals_pysim(cache_dir, arch):
    if arch == "parallel":
        config, run = REGULATOR, simulate_regulator
    else:
        config, run = TDM, simulate_tdm_regulator
    raster = random_raster(config, 5, np.linspace(0.05, 0.9, config.n_neurons), seed=10)
    fast = run(config, raster, backend="cxxrtl", cache_dir=cache_dir)
    slow = run(config, raster, backend="pysim")
    assert fast.cycles == slow.cycles
    assert len(fast.windows) == len(slow.windows) == 5
    assert_windows_identical(fast.windows, slow.windows)


@needs_cxxrtl
def test_regulator_back_pressure_cxxrtl_equals_pysim(cache_dir):
    # A window of 4 timesteps is shorter than the sweep of 12 neurons, and timesteps come in
    # every cycle, so every window's first timestep waits on spikes_ready. Both simulators must
    # stall it for the same cycles.
    config = RegulatorConfig(n_neurons=12, window=4, counter_width=3, target_count=2, margin=0,
                             threshold_step=3)
    raster = random_raster(config, 6, np.linspace(0, 1, 12), seed=13)
    fast = simulate_regulator(config, raster, backend="cxxrtl", cache_dir=cache_dir)
    slow = simulate_regulator(config, raster, backend="pysim")
    # A timestep is taken at the earliest sweep_cycles + 1 = n_neurons + 2 cycles after the
    # last timestep of the window before, and the bench runs window_latency + 1 = n_neurons + 3
    # cycles after the last timestep.
    waits = 5 * (config.n_neurons + 1)
    bench_cycles = len(raster) + waits + config.n_neurons + 3
    assert fast.cycles == slow.cycles == bench_cycles
    check_against_golden(config, raster, fast)
    assert_windows_identical(fast.windows, slow.windows)


def test_bench_payloads_mark_window_ends():
    config = RegulatorConfig(n_neurons=3, window=4, counter_width=3, target_count=2, margin=0)
    bench = RegulatorBench(config)
    raster = np.zeros((10, 3), dtype=int)
    raster[1, 2] = 1
    payloads = bench.payloads(raster)
    assert payloads.shape == (10, 4)
    assert np.flatnonzero(payloads[:, 3]).tolist() == [3, 7]
    assert payloads[1, :3].tolist() == [False, False, True]
    assert payload_integers(payloads)[:4].tolist() == [0, 4, 0, 8]
    Fragment.get(bench, None)


def test_payload_integers_beyond_64_bits():
    bits = np.zeros((2, 71), dtype=bool)
    bits[0, 70] = True
    bits[1, [0, 64]] = True
    assert payload_integers(bits).tolist() == [1 << 70, 1 | (1 << 64)]


# The time-multiplexed regulator, driven by a reactive event stream.

TDM = RegulatorConfig(n_neurons=13, window=8, counter_width=4, target_count=3, margin=1,
                      threshold_width=8, threshold_frac_bits=4, threshold_floor=10,
                      threshold_ceiling=40, threshold_init=25, threshold_step=4)


def test_tdm_event_payloads_encode_spikes_then_mark():
    raster = np.array([[0, 1, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1]])
    config = RegulatorConfig(n_neurons=4, window=2, counter_width=2, target_count=1, margin=0)
    # Two neuron bits, then the timestep_end bit.
    assert tdm_event_payloads(config, raster).tolist() == [1, 3, 4, 4, 0, 1, 2, 3, 4]


def test_tdm_event_payloads_reject_repeated_spikes():
    raster = np.zeros((4, 13), dtype=np.int64)
    raster[2, 5] = 2
    with pytest.raises(ValueError, match="at most one spike per neuron and timestep, but the "
                                         "raster has 2 at timestep 2, neuron 5"):
        tdm_event_payloads(TDM, raster)


def test_regulator_rejects_repeated_spikes():
    raster = np.zeros((16, 8), dtype=np.int64)
    raster[3, 2] = 2
    with pytest.raises(ValueError, match=r"the regulator takes at most one spike per neuron and "
                                         r"timestep, but the raster has 2 at timestep 3, neuron "
                                         r"2; clip the raster with \(raster > 0\) first"):
        simulate_regulator(REGULATOR, raster, backend="pysim")


def test_regulator_pysim_vcd_parses(tmp_path):
    # Every signal of the waveform has a name that a VCD reader accepts.
    from vcd.reader import tokenize
    vcd = tmp_path / "regulator.vcd"
    simulate_regulator(REGULATOR, np.ones((16, 8), dtype=np.int64), backend="pysim",
                       vcd_file=vcd)
    with open(vcd, "rb") as file:
        names = [token.var.reference for token in tokenize(file) if token.kind.name == "VAR"]
    assert "weight_read__addr" in names
    assert not [name for name in names if name.startswith("$")]


def test_tdm_event_payloads_reject_wrong_shape():
    with pytest.raises(ValueError,
                       match=r"raster must have shape \(timesteps, 13\), not \(8, 12\)"):
        tdm_event_payloads(TDM, np.zeros((8, 12), dtype=np.int64))


@pytest.mark.parametrize("case, rates", [
    ("mixed rates", np.linspace(0, 1, 13)),
    ("silent", np.zeros(13)),
    ("firing every timestep", np.ones(13)),
])
def test_tdm_regulator_matches_golden_in_pysim(case, rates):
    # Six windows and a partial one. Whole timesteps of spikes arrive during each sweep, so the
    # stream stalls on them.
    raster = random_raster(TDM, 6, rates, seed=12)[:-3]
    simulation = simulate_tdm_regulator(TDM, raster, backend="pysim")
    assert simulation.backend == "pysim"
    check_against_golden(TDM, raster, simulation)


@needs_cxxrtl
def test_tdm_regulator_32768_neurons_recording_matches_golden(cache_dir):
    # The 256 recorded neurons tiled 128 times, each copy shifted in time: 8 windows of 32
    # timesteps, about a million cycles of events and sweeps.
    config = RegulatorConfig.from_float(32768, target_rate=0.1, window=32)
    recording = load_recording(DATA / "brunel_balanced.npz", dt=0.001) > 0
    copies = [np.roll(recording, -37 * copy, axis=0) for copy in range(128)]
    raster = np.concatenate(copies, axis=1)[:8 * config.window]
    simulation = simulate_tdm_regulator(config, raster, backend="cxxrtl", cache_dir=cache_dir)
    assert simulation.cycles > 8 * config.n_neurons
    check_against_golden(config, raster, simulation)


def test_simulate_tdm_architecture(capsys):
    raster = random_raster(TDM, 3, np.linspace(0, 0.7, 13), seed=14)
    result = simulate(TDM, raster, backend="pysim", arch="tdm")
    assert result.matched
    assert len(result.windows) == 3


def test_simulate_unknown_architecture():
    with pytest.raises(ValueError, match="unknown architecture 'serial'; use one of parallel, tdm"):
        simulate(TDM, np.zeros((8, 13)), arch="serial")


def test_simulate_falls_back_to_pysim(monkeypatch):
    monkeypatch.setenv("CXX", "/nonexistent/bin/c++")
    raster = random_raster(REGULATOR, 3, np.linspace(0, 0.5, 8), seed=11)
    with pytest.warns(UserWarning, match=r"CXXRTL is unavailable: C\+\+ compiler "
                                         r"'/nonexistent/bin/c\+\+'"):
        simulation = simulate_regulator(REGULATOR, raster)
    assert simulation.backend == "pysim"
    check_against_golden(REGULATOR, raster, simulation)


def test_simulate_cxxrtl_backend_without_compiler(monkeypatch, tmp_path):
    monkeypatch.setenv("CXX", "/nonexistent/bin/c++")
    raster = np.zeros((16, 8), dtype=bool)
    with pytest.raises(CxxrtlUnavailable, match="CXX environment variable was not found"):
        simulate_regulator(REGULATOR, raster, backend="cxxrtl", cache_dir=tmp_path)


def test_simulate_config_type_rejected():
    with pytest.raises(TypeError, match="config must be a RegulatorConfig, not 8"):
        simulate_regulator(8, np.zeros((16, 8)))


def test_simulate_unknown_backend_rejected():
    with pytest.raises(ValueError,
                       match="backend must be 'auto', 'cxxrtl' or 'pysim', not 'vhdl'"):
        simulate_regulator(REGULATOR, np.zeros((16, 8)), backend="vhdl")


def test_bench_raster_shape_rejected():
    bench = RegulatorBench(REGULATOR)
    with pytest.raises(ValueError,
                       match=r"raster must have shape \(timesteps, 8\), not \(16, 7\)"):
        bench.payloads(np.zeros((16, 7)))
    # Elaborate the bench, so that Amaranth does not warn about unused submodules.
    Fragment.get(bench, None)


def test_bench_weights_shape_rejected():
    with pytest.raises(ValueError, match=r"weights must have shape \(n_pre, 8\), not \(8,\)"):
        RegulatorBench(REGULATOR, np.zeros(8))
