# amaranth: UnusedElaboratable=no
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import homeo_hw.build
from homeo_hw.boards import BOARDS
from homeo_hw.boards.top import DEVICES
from homeo_hw.build import BuildResult, DesignDoesNotFit
from homeo_hw.cli import main
from homeo_hw.report import DesignReport, parse_nextpnr_report, parse_yosys_stat
from homeo_hw.toolchain import ToolchainError, toolchain_env


DATA = Path(__file__).parent / "data"


def load(name):
    return json.loads((DATA / name).read_text())


def recorded_report(n_neurons, logic_cells):
    """A report from the saved iCEstick build, with its logic cells replaced."""
    report = DesignReport.from_tool_output(
        board="icestick", device="iCE40HX1K", arch="parallel", n_neurons=n_neurons, seed=1,
        nextpnr=parse_nextpnr_report(load("icestick_n4.report.json")),
        stat=parse_yosys_stat(load("icestick_n4.stat.json")), modules=None,
        resources=DEVICES["iCE40HX1K"])
    report.utilisation["ICESTORM_LC"] = [logic_cells, 1280]
    return report


@pytest.fixture
def fake_build(monkeypatch, tmp_path):
    """Replace the tool runs with recorded reports: 100 + 200 * n logic cells, 8 does not fit."""
    calls = []

    def build(board, n_neurons, **options):
        calls.append((board, n_neurons, options))
        if n_neurons >= 8:
            raise DesignDoesNotFit("design does not fit", resource="ICESTORM_LC",
                                   needed=1700, available=1280)
        directory = tmp_path / f"{board}-{n_neurons}"
        return BuildResult(directory=directory, cached=n_neurons == 2,
                           report=recorded_report(n_neurons, 100 + 200 * n_neurons),
                           bitstream=directory / "top.bin")

    monkeypatch.setattr(homeo_hw.build, "build", build)
    return calls


def test_boards_lists_every_board(capsys):
    assert main(["boards"]) == 0
    output = capsys.readouterr().out
    for board in BOARDS.values():
        assert f"{board.name}: {board.title}, {board.device}" in output
    assert "1280 logic cells, 16 block RAMs" in output
    assert "5280 logic cells, 30 block RAMs, 4 SPRAM, 8 DSP" in output


def test_build_unknown_board(capsys):
    assert main(["build", "--board", "icestorm", "--neurons", "4"]) == 1
    error = capsys.readouterr().err
    assert ("homeo-hw: error: unknown board 'icestorm'; known boards: ice40_hx8k_b_evn, "
            "icebreaker, icestick, tinyfpga_bx, upduino_v3") in error


@pytest.mark.parametrize("count, message", [
    ("0", "neuron count must be at least 1, not 0"),
    ("many", "neuron count must be a positive integer, not 'many'"),
    ("3.5", "neuron count must be a positive integer, not '3.5'"),
])
def test_build_bad_neuron_count(count, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["build", "--board", "icestick", "--neurons", count])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("command", ["build", "report"])
@pytest.mark.parametrize("arguments, message", [
    (["--n-pre", "0"], ("--n-pre 0 leaves out the weight memory, which --arch parallel needs; "
                        "use --n-pre 1 or more, or --arch tdm")),
    (["--arch", "tdm", "--n-pre", "-1"], "--n-pre must be 0 or more, not -1"),
])
def test_build_bad_n_pre(command, arguments, message, tmp_path, capsys):
    assert main([command, "--board", "icestick", "--neurons", "4", "--build-dir",
                 str(tmp_path), *arguments]) == 1
    assert f"homeo-hw: error: {message}" in capsys.readouterr().err
    assert not any(tmp_path.iterdir()), "a build folder was written"


def test_export_parallel_without_weights(tmp_path, capsys):
    output = tmp_path / "regulator.v"
    assert main(["export", "--neurons", "2", "--n-pre", "0", "-o", str(output)]) == 1
    assert ("homeo-hw: error: --n-pre 0 leaves out the weight memory, which --arch parallel "
            "needs") in capsys.readouterr().err
    assert not output.exists()


def test_report_bad_neuron_list(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--board", "icestick", "--neurons", "4,-8"])
    assert "neuron count must be at least 1, not -8" in capsys.readouterr().err


def test_build_missing_tool(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("NEXTPNR_ICE40", "/nonexistent/nextpnr-ice40")
    assert main(["build", "--board", "icestick", "--neurons", "2",
                 "--build-dir", str(tmp_path)]) == 1
    assert ("nextpnr-ice40 not found: the NEXTPNR_ICE40 environment variable names "
            "'/nonexistent/nextpnr-ice40'") in capsys.readouterr().err


def test_build_prints_figures(fake_build, capsys):
    assert main(["build", "--board", "icestick", "--neurons", "2", "--seed", "3",
                 "--window", "16"]) == 0
    output = capsys.readouterr().out
    assert "reused cached build" in output
    assert ("logic cells: 500 of 1280 (250.0 per neuron, all logic over 2 neurons; `homeo-hw "
            "report` over several sizes gives the cost of each added neuron)") in output
    assert "Fmax cd_sync.clk: 74.3 MHz, target 12.0 MHz, timing met" in output
    [(board, n_neurons, options)] = fake_build
    assert (board, n_neurons, options["seed"]) == ("icestick", 2, 3)
    assert options["config"].window == 16
    assert options["config"].counter_width >= 5


def test_report_writes_outputs(fake_build, tmp_path, capsys):
    output = tmp_path / "out"
    assert main(["report", "--board", "icestick", "--neurons", "8,2,4,1",
                 "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert [call[1] for call in fake_build] == [1, 2, 4, 8]
    assert "[4/4] icestick, 8 neurons ..." in printed
    assert "does not fit: design does not fit" in printed
    assert "Least-squares fit of logic cells: 200.0 per neuron plus 100 fixed" in printed
    assert "8 neurons do not fit: 1700 ICESTORM_LC needed, 1280 available." in printed
    assert "nextpnr seed 1." in printed

    summary = json.loads((output / "report.json").read_text())
    assert [row["n_neurons"] for row in summary["sizes"]] == [1, 2, 4]
    # 200 * n + 100 <= 1280 holds up to n = 5.
    assert summary["max_neurons"] == 5
    assert summary["did_not_fit"] == [{"n_neurons": 8, "resource": "ICESTORM_LC",
                                       "needed": 1700, "available": 1280}]
    assert set(summary["tools"]) == {"yosys", "nextpnr-ice40", "icepack"}
    assert summary["command"] == ("homeo-hw report --board icestick --neurons 8,2,4,1 "
                                  f"--output {output}")
    assert "| 2 | 500 | 250.0 |" in (output / "report.md").read_text()
    assert (output / "report.png").read_bytes()[:4] == b"\x89PNG"


def test_report_nothing_fits(fake_build, tmp_path, capsys):
    assert main(["report", "--board", "icestick", "--neurons", "8,16",
                 "--output", str(tmp_path)]) == 1
    assert "no size fits the device" in capsys.readouterr().err


def test_sim_recording_matches(tmp_path, capsys):
    plot = tmp_path / "sim.png"
    vcd = tmp_path / "sim.vcd"
    assert main(["sim", "--raster", str(DATA / "brunel_balanced.npz"), "--neurons", "8",
                 "--window", "16", "--target-count", "2", "--backend", "pysim",
                 "--plot", str(plot), "--vcd", str(vcd)]) == 0
    output = capsys.readouterr().out
    assert "simulated 1000 timesteps of 8 neurons" in output
    assert "back end pysim" in output
    assert "all 62 windows match the golden model" in output
    assert ("the last 8 timesteps do not complete a window of 16, so they are simulated but not "
            "compared") in output
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert "window_done" in vcd.read_text()


def test_sim_tdm_recording_matches(capsys):
    assert main(["sim", "--raster", str(DATA / "brunel_runaway.npz"), "--neurons", "20",
                 "--window", "16", "--target-count", "2", "--backend", "pysim",
                 "--arch", "tdm"]) == 0
    output = capsys.readouterr().out
    assert "simulated 1000 timesteps of 20 neurons" in output
    assert "architecture tdm, back end pysim" in output
    assert "all 62 windows match the golden model" in output


def test_sim_too_many_neurons(capsys):
    assert main(["sim", "--raster", str(DATA / "brunel_quiet.npz"), "--neurons", "300",
                 "--backend", "pysim"]) == 1
    assert ("has 256 neurons, fewer than the 300 requested; use --neurons 256 or less"
            in capsys.readouterr().err)


def test_sim_raster_shorter_than_window(tmp_path, capsys):
    import numpy as np
    np.save(tmp_path / "short.npy", np.zeros((10, 4), dtype=np.int64))
    assert main(["sim", "--raster", str(tmp_path / "short.npy"), "--neurons", "4",
                 "--window", "16", "--target-count", "2", "--backend", "pysim"]) == 1
    assert "has 10 timesteps, less than one window of 16" in capsys.readouterr().err


def test_sim_missing_file(tmp_path, capsys):
    assert main(["sim", "--raster", str(tmp_path / "absent.npy"), "--neurons", "4"]) == 1
    assert "cannot read the raster" in capsys.readouterr().err


def test_sim_bad_config(capsys):
    assert main(["sim", "--raster", str(DATA / "brunel_quiet.npz"), "--neurons", "4",
                 "--window", "24"]) == 1
    assert "window must be a power of two, not 24" in capsys.readouterr().err


def test_sim_cxxrtl_without_compiler(monkeypatch, capsys):
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    assert main(["sim", "--raster", str(DATA / "brunel_quiet.npz"), "--neurons", "4",
                 "--window", "16", "--target-count", "2", "--backend", "cxxrtl"]) == 1
    assert "the cxxrtl back end is unavailable" in capsys.readouterr().err


def test_export_writes_verilog(tmp_path, capsys):
    try:
        toolchain_env()
    except ToolchainError as error:
        pytest.skip(f"Yosys not installed: {error}")
    output = tmp_path / "regulator.v"
    assert main(["export", "--neurons", "2", "--output", str(output)]) == 0
    assert "module regulator(" in output.read_text()
    assert f"wrote {output}" in capsys.readouterr().out


def small_raster(tmp_path, name="raster.npy", dtype=np.int64):
    """Save 64 timesteps of 2 neurons, spiking on alternate timesteps, and return the path."""
    raster = np.zeros((64, 2), dtype=dtype)
    raster[::2, 0] = 1
    raster[1::4, 1] = 1
    path = tmp_path / name
    np.save(path, raster)
    return path


def sim_args(raster, *extra):
    return ["sim", "--raster", str(raster), "--neurons", "2", "--window", "16",
            "--target-count", "2", "--backend", "pysim", *extra]


def one_error_line(capsys):
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("homeo-hw: error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0], captured.out


@pytest.mark.parametrize("option", ["--vcd", "--plot"])
def test_sim_output_in_missing_folder(option, tmp_path, capsys):
    target = tmp_path / "absent" / "out.file"
    assert main(sim_args(small_raster(tmp_path), option, str(target))) == 1
    error, output = one_error_line(capsys)
    assert (f"{option} {target} cannot be written because the folder {target.parent} does not "
            f"exist; create it first") in error
    # Checked before the simulation, so nothing ran.
    assert "simulated" not in output


@pytest.mark.parametrize("option", ["--vcd", "--plot"])
def test_sim_output_that_is_a_folder(option, tmp_path, capsys):
    assert main(sim_args(small_raster(tmp_path), option, str(tmp_path))) == 1
    error, output = one_error_line(capsys)
    assert f"{option} {tmp_path} is a folder; give a file name" in error
    assert "simulated" not in output


def test_sim_unknown_plot_format_rejected_before_run(tmp_path, capsys):
    plot = tmp_path / "rates.xyz"
    assert main(sim_args(small_raster(tmp_path), "--plot", str(plot))) == 1
    error, output = one_error_line(capsys)
    assert f"--plot {plot}: matplotlib cannot write .xyz images; use a suffix of" in error
    assert "svg" in error
    assert "simulated" not in output


def test_sim_same_file_for_vcd_and_plot_rejected(tmp_path, capsys):
    same = tmp_path / "out"
    assert main(sim_args(small_raster(tmp_path), "--plot", str(same), "--vcd", str(same))) == 1
    error, output = one_error_line(capsys)
    assert f"--vcd and --plot both name {same}; give them different files" in error
    assert "simulated" not in output


def test_sim_compiler_failing_version_falls_back(monkeypatch, tmp_path, capsys):
    false = shutil.which("false")
    if false is None:
        pytest.skip("no `false` program on PATH")
    monkeypatch.setenv("CXX", false)
    raster = small_raster(tmp_path)
    args = ["sim", "--raster", str(raster), "--neurons", "2", "--window", "16",
            "--target-count", "2", "--arch", "tdm"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "back end pysim" in captured.out
    assert "failed to report its version" in captured.err
    assert main([*args, "--backend", "cxxrtl"]) == 1
    error, _ = one_error_line(capsys)
    assert "the cxxrtl back end is unavailable" in error


def test_export_output_in_missing_folder(tmp_path, capsys):
    target = tmp_path / "absent" / "r.v"
    assert main(["export", "--neurons", "2", "-o", str(target)]) == 1
    error, _ = one_error_line(capsys)
    assert f"--output {target} cannot be written because the folder" in error
    assert "does not exist" in error


def test_export_output_that_is_a_folder(tmp_path, capsys):
    assert main(["export", "--neurons", "2", "-o", str(tmp_path)]) == 1
    error, _ = one_error_line(capsys)
    assert f"--output {tmp_path} is a folder; give a file name" in error


def test_build_dir_that_is_a_file(fake_build, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("")
    assert main(["build", "--board", "icestick", "--neurons", "2",
                 "--build-dir", str(afile)]) == 1
    error, _ = one_error_line(capsys)
    assert f"--build-dir {afile} is a file, not a folder; give a folder path" in error
    assert fake_build == []


@pytest.mark.parametrize("option", ["--output", "--build-dir"])
def test_report_file_as_folder_checked_first(option, fake_build, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("")
    assert main(["report", "--board", "icestick", "--neurons", "1,2", option, str(afile)]) == 1
    error, _ = one_error_line(capsys)
    assert f"{option} {afile} is a file, not a folder" in error
    # Checked before any size is built.
    assert fake_build == []


def test_sim_fractional_float_raster_rejected(tmp_path, capsys):
    path = tmp_path / "rates.npy"
    np.save(path, np.full((64, 2), 0.25))
    assert main(sim_args(path)) == 1
    error, output = one_error_line(capsys)
    assert (f"the raster {path} must contain spike counts, 0/1 or non-negative integers, but "
            f"contains 0.25, which is not a whole number, at timestep 0, neuron 0") in error
    assert "simulated" not in output


def test_sim_negative_counts_name_file(tmp_path, capsys):
    path = tmp_path / "negative.npy"
    raster = np.zeros((64, 2), dtype=np.int64)
    raster[5, 1] = -1
    np.save(path, raster)
    assert main(sim_args(path)) == 1
    error, _ = one_error_line(capsys)
    assert (f"the raster {path} contains negative spike counts, such as -1 at timestep 5, "
            f"neuron 1") in error


def test_sim_whole_float_raster_accepted(tmp_path, capsys):
    assert main(sim_args(small_raster(tmp_path, "int.npy"))) == 0
    integer_output = capsys.readouterr().out
    assert main(sim_args(small_raster(tmp_path, "float.npy", dtype=np.float64))) == 0
    float_output = capsys.readouterr().out
    assert "all 4 windows match the golden model" in float_output
    assert float_output == integer_output


@pytest.mark.parametrize("name", ["text.npy", "text.npz"])
def test_sim_file_that_is_not_numpy(name, tmp_path, capsys):
    path = tmp_path / name
    path.write_text("hello")
    assert main(sim_args(path)) == 1
    error, _ = one_error_line(capsys)
    assert f"cannot read the raster {path}: it is not a NumPy array file" in error
    assert "pickle" not in error


def test_sim_plot_without_suffix(tmp_path, capsys):
    plot = tmp_path / "noext"
    assert main(sim_args(small_raster(tmp_path), "--plot", str(plot))) == 0
    output = capsys.readouterr().out
    assert f"wrote {plot}\n" in output
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "noext.png").exists()
