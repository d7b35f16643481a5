# amaranth: UnusedElaboratable=no
"""Tests of the build flow, with real YoWASP tools where a test needs them.

The real builds run in pytest's temporary folders under /tmp, where the YoWASP tools cannot open
absolute paths. They pass only because the flow runs every tool from the build folder with
relative paths.
"""

import logging
import os
import stat

import pytest

from homeo_hw.boards.top import DEVICES, DeviceResources
from amaranth.build.run import BuildPlan

from homeo_hw.build import (BuildError, DesignDoesNotFit, _hash_plan, build, build_dir_name,
                            check_neuron_count)
from homeo_hw.toolchain import TOOLS, Tool, ToolchainError, find_tool, toolchain_env


def tools_missing():
    try:
        toolchain_env()
    except ToolchainError as error:
        return str(error)
    return None


needs_tools = pytest.mark.skipif(tools_missing() is not None,
                                 reason=f"iCE40 tools not installed: {tools_missing()}")


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    # The one complete build of the suite: two neurons on the iCEstick's HX1K.
    if tools_missing() is not None:
        pytest.skip(f"iCE40 tools not installed: {tools_missing()}")
    root = tmp_path_factory.mktemp("builds")
    return root, build("icestick", 2, root=root, verilog=True)


def write_script(path, body):
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@needs_tools
def test_real_build_writes_bitstream(small_build):
    root, result = small_build
    assert not result.cached
    assert result.directory == (root / build_dir_name("icestick", "parallel", 2, 1)).absolute()
    assert result.bitstream.stat().st_size > 0
    for name in ("top.report.json", "top.stat.json", "top.regulator.stat.json",
                 "top.stimulus.stat.json", "homeo_report.json"):
        assert (result.directory / name).exists(), name


@needs_tools
def test_real_build_figures_sane(small_build):
    _, result = small_build
    report = result.report
    assert 0 < report.logic_cells <= 1280
    assert report.utilisation["ICESTORM_LC"][1] == 1280
    assert report.clocks, "no clock in nextpnr's report"
    for clock in report.clocks:
        assert clock["achieved_mhz"] > 0, clock
        assert clock["constraint_mhz"] == pytest.approx(12.0, abs=0.01), clock
    regulator = report.module_cells("regulator")
    stimulus = report.module_cells("stimulus")
    assert regulator.luts > 0
    assert regulator.flip_flops > 0
    assert stimulus.luts > 0
    assert stimulus.flip_flops > 0


@needs_tools
def test_real_build_writes_verilog(small_build):
    _, result = small_build
    assert "module top(" in result.verilog.read_text()


@needs_tools
def test_cached_rebuild_reused(small_build, caplog):
    root, first = small_build
    with caplog.at_level(logging.INFO, logger="homeo_hw.build"):
        again = build("icestick", 2, root=root, verilog=True)
    assert again.cached
    assert again.report == first.report
    assert "reusing the cached build" in caplog.text
    assert "running synthesis" not in caplog.text


@needs_tools
def test_program_uses_platform_programmer(small_build, tmp_path, monkeypatch):
    # The iCEstick platform runs $ICEPROG with the bitstream; a stand-in records its argument.
    root, first = small_build
    log = tmp_path / "iceprog.log"
    iceprog = write_script(tmp_path / "iceprog", f'wc -c < "$1" > "{log}"')
    monkeypatch.setenv("ICEPROG", str(iceprog))
    result = build("icestick", 2, root=root, verilog=True, program=True)
    assert result.cached
    assert int(log.read_text()) == first.bitstream.stat().st_size


@needs_tools
def test_program_without_programmer(small_build, monkeypatch):
    root, _ = small_build
    monkeypatch.setenv("ICEPROG", "/nonexistent/iceprog")
    with pytest.raises(ToolchainError, match=r"programming failed: /nonexistent/iceprog not "
                                             r"found; install the board's programmer"):
        build("icestick", 2, root=root, verilog=True, program=True)


@needs_tools
def test_too_many_neurons_fail_in_place(tmp_path):
    # Thirty-two neurons fit the HX1K's LUT and flip-flop counts but not its logic cells once
    # nextpnr packs them.
    with pytest.raises(DesignDoesNotFit, match=r"design does not fit the iCE40HX1K of the "
                                               r"iCEstick: it needs \d+ ICESTORM_LC cells, and "
                                               r"the device has 1280") as info:
        build("icestick", 32, root=tmp_path, module_stat=False)
    assert info.value.resource == "ICESTORM_LC"
    assert info.value.needed > info.value.available == 1280


@needs_tools
def test_too_many_neurons_fail_before_place(tmp_path, monkeypatch):
    # With a device of 200 logic cells the check after synthesis stops the build before nextpnr.
    monkeypatch.setitem(DEVICES, "iCE40HX1K", DeviceResources(logic_cells=200, bram=16))
    with pytest.raises(DesignDoesNotFit, match=r"its (\d+) SB_\w+ cells need at least \1 logic "
                                               r"cells \(ICESTORM_LC\), and the device has 200"
                       ) as info:
        build("icestick", 2, root=tmp_path, module_stat=False)
    assert info.value.resource == "ICESTORM_LC"
    assert info.value.available == 200
    directory = tmp_path / build_dir_name("icestick", "parallel", 2, 1)
    assert not (directory / "top.asc").exists(), "nextpnr ran although synthesis found no fit"


def plan_with(rtlil):
    plan = BuildPlan(script="build_top")
    plan.add_file("top.il", rtlil)
    return plan


def test_cache_key_ignores_source_locations():
    first = 'module \\top\n  attribute \\src "top.py:10"\n  wire width 2 \\x\nend\n'
    moved = 'module \\top\n  attribute \\src "top.py:12"\n  wire width 2 \\x\nend\n'
    changed = 'module \\top\n  attribute \\src "top.py:10"\n  wire width 3 \\x\nend\n'
    key = _hash_plan(plan_with(first), {"tools": {}})
    assert _hash_plan(plan_with(moved), {"tools": {}}) == key
    assert _hash_plan(plan_with(changed), {"tools": {}}) != key
    assert _hash_plan(plan_with(first), {"tools": {"yosys": "0.71"}}) != key


def test_failing_tool_shows_last_lines(tmp_path):
    yosys = write_script(tmp_path / "fake-yosys",
                         'for i in $(seq 1 30); do echo "yosys line $i" >&2; done; exit 3')
    environ = dict(os.environ, YOSYS=str(yosys))
    with pytest.raises(BuildError, match=r"synthesis \(yosys\) failed with exit code 3") as info:
        build("icestick", 2, root=tmp_path, environ=environ)
    message = str(info.value)
    assert "yosys line 30" in message
    assert "yosys line 11\n" in message
    assert "yosys line 10\n" not in message


def test_missing_tool_named_by_env_var(tmp_path):
    environ = dict(os.environ, NEXTPNR_ICE40="/nonexistent/nextpnr-ice40")
    with pytest.raises(ToolchainError, match=r"nextpnr-ice40 not found: the NEXTPNR_ICE40 "
                                             r"environment variable names "
                                             r"'/nonexistent/nextpnr-ice40'"):
        build("icestick", 2, root=tmp_path, environ=environ)


def test_missing_yowasp_tool_names_package():
    tool = Tool("frobnicate", "FROBNICATE", "yowasp-frobnicate", "yowasp-frobnicate")
    with pytest.raises(ToolchainError, match=r"frobnicate not found: install it with `pip "
                                             r"install yowasp-frobnicate`"):
        find_tool(tool, environ={"PATH": ""})


def test_user_tool_setting_takes_precedence(tmp_path):
    yosys = write_script(tmp_path / "my-yosys", "exit 0")
    environ = toolchain_env({"PATH": os.environ.get("PATH", ""), "YOSYS": str(yosys)})
    assert environ["YOSYS"] == str(yosys)


def test_yowasp_tools_found_beside_python():
    # Without PATH the tools are found in the interpreter's scripts folder, as in a venv that
    # was not activated.
    if tools_missing() is not None:
        pytest.skip(f"iCE40 tools not installed: {tools_missing()}")
    environ = toolchain_env({"PATH": ""})
    for tool in TOOLS:
        assert os.path.basename(environ[tool.env_var]) == tool.yowasp_program
    assert environ["AMARANTH_USE_YOSYS"] == "system"


@pytest.mark.parametrize("value, message", [
    (0, r"neuron count must be at least 1, not 0"),
    (-3, r"neuron count must be at least 1, not -3"),
    ("-3", r"neuron count must be at least 1, not -3"),
    ("eight", r"neuron count must be a positive integer, not 'eight'"),
    ("2.5", r"neuron count must be a positive integer, not '2.5'"),
    (2.5, r"neuron count must be a positive integer, not 2.5"),
    (True, r"neuron count must be a positive integer, not True"),
])
def test_bad_neuron_count_rejected(value, message):
    with pytest.raises(ValueError, match=message):
        check_neuron_count(value)


def test_neuron_count_from_text():
    assert check_neuron_count(" 16 ") == 16


def test_build_rejects_bad_neuron_count(tmp_path):
    with pytest.raises(ValueError, match=r"neuron count must be at least 1, not 0"):
        build("icestick", 0, root=tmp_path)


def test_build_rejects_unknown_board(tmp_path):
    with pytest.raises(ValueError, match=r"unknown board 'icestorm'; known boards: "):
        build("icestorm", 4, root=tmp_path)


def test_build_rejects_unknown_architecture(tmp_path):
    with pytest.raises(ValueError, match=r"unknown architecture 'gpu'"):
        build("icestick", 4, arch="gpu", root=tmp_path)


def test_build_rejects_negative_seed(tmp_path):
    with pytest.raises(ValueError, match=r"seed must be a non-negative integer, not -1"):
        build("icestick", 4, seed=-1, root=tmp_path)


def test_build_root_file_rejected(tmp_path):
    root = tmp_path / "afile"
    root.write_text("")
    with pytest.raises(ValueError, match=r"build root .*afile is a file, not a folder; give a "
                                         r"folder path"):
        build("icestick", 2, root=root)
    with pytest.raises(ValueError, match=r"build root .*afile/sub cannot be created because "
                                         r".*afile is a file"):
        build("icestick", 2, root=root / "sub")


def test_build_removes_stale_verilog(tmp_path):
    # A failing synthesis stops the build early; the stale top.v must be gone by then.
    directory = tmp_path / build_dir_name("icestick", "parallel", 2, 1)
    directory.mkdir()
    stale = directory / "top.v"
    stale.write_text("module top(); endmodule\n")
    yosys = write_script(tmp_path / "fake-yosys", "exit 1")
    environ = dict(os.environ, YOSYS=str(yosys))
    with pytest.raises(BuildError, match=r"synthesis \(yosys\) failed"):
        build("icestick", 2, root=tmp_path, environ=environ, module_stat=False)
    assert not stale.exists()
