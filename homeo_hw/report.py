"""Resource and timing figures from real tool output, per build and across neuron counts.

A build gives two sources, both read from files the tools wrote:

- nextpnr's ``--report`` JSON: ``utilization`` maps each cell type (``ICESTORM_LC``,
  ``ICESTORM_RAM``, ``ICESTORM_SPRAM``, ``ICESTORM_DSP``, ``SB_IO``, ...) to ``used`` and
  ``available``, and ``fmax`` maps each clock net to its post-route ``achieved`` frequency and its
  ``constraint``, in MHz. nextpnr also logs an estimate after placement, but the report contains
  the final figure.
- Yosys ``stat -json``: ``modules`` maps each module to ``num_cells_by_type`` (``cells_by_type``
  in older Yosys), with ``SB_LUT4``, ``SB_DFF*``, ``SB_CARRY`` and the RAM cells.

The regulator's own cost is separated from the stimulus' by synthesising each of them again on its
own, as a top module whose outputs are ports (see :mod:`homeo_hw.build`). Logic cells
(``ICESTORM_LC``) exist only after placement of the whole flattened design, so they are reported
for the whole design. The per-module figures are LUT4, flip-flop and carry counts. They slightly
overstate the parts' share, because synthesis of the whole design can share or remove logic across
module boundaries.

Across sizes, :func:`fit_sizes` fits ``cells = slope * neurons + intercept`` by least squares and
estimates the largest neuron count that fits the device by extrapolating that line. Steps in the
cost, such as a memory that moves from logic into block RAM, make the estimate coarse, so build
the estimated size to confirm it.
"""

import json
import logging
import math
from dataclasses import asdict, dataclass, field

import numpy as np


__all__ = [
    "YosysStat", "ClockTiming", "DesignReport", "SizeFit",
    "parse_nextpnr_report", "parse_yosys_stat", "fit_sizes", "summarise_sizes",
    "write_json", "format_markdown", "plot_sizes",
]


logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class YosysStat:
    """Cell counts of a synthesised iCE40 netlist.

    Attributes
    ----------
    cells : dict of str to int
        Count per cell type.
    """

    cells: dict

    @property
    def luts(self):
        """Number of ``SB_LUT4`` cells."""
        return self.cells.get("SB_LUT4", 0)

    @property
    def flip_flops(self):
        """Number of flip-flops, every ``SB_DFF*`` variant."""
        return sum(count for name, count in self.cells.items() if name.startswith("SB_DFF"))

    @property
    def carries(self):
        """Number of ``SB_CARRY`` cells."""
        return self.cells.get("SB_CARRY", 0)

    @property
    def brams(self):
        """Number of ``SB_RAM40_4K`` block RAMs."""
        return self.cells.get("SB_RAM40_4K", 0)


@dataclass(frozen=True)
class ClockTiming:
    """Post-route timing of one clock.

    Attributes
    ----------
    clock : str
        Clock net name.
    achieved_mhz : float
        Maximum frequency found by nextpnr after routing.
    constraint_mhz : float
        Target frequency.
    """

    clock: str
    achieved_mhz: float
    constraint_mhz: float

    @property
    def met(self):
        """Whether the achieved frequency reaches the target."""
        return self.achieved_mhz >= self.constraint_mhz


def _strip(name):
    # "\\SB_LUT4" -> "SB_LUT4"; "$paramod$<hash>\\SB_RAM40_4K" -> "SB_RAM40_4K".
    return name.rsplit("\\", 1)[-1]


def _cells_by_type(module):
    return module.get("num_cells_by_type", module.get("cells_by_type", {}))


def parse_yosys_stat(stat):
    """Read the cell counts of the top module from a Yosys ``stat -json`` document.

    The ``design`` entry, which sums the hierarchy, is used when present, else the only module.

    Raises
    ------
    ValueError
        If the document has neither a ``design`` entry nor exactly one module.
    """
    if "design" in stat:
        cells = _cells_by_type(stat["design"])
    else:
        modules = stat.get("modules", {})
        if len(modules) != 1:
            raise ValueError(
                f"Yosys stat JSON has no 'design' entry and {len(modules)} modules; expected the "
                f"output of `stat -json` after synthesis")
        cells = _cells_by_type(next(iter(modules.values())))
    return YosysStat(cells={_strip(name): int(count) for name, count in cells.items()})


def parse_nextpnr_report(report):
    """Read utilisation and post-route timing from nextpnr's ``--report`` JSON.

    Returns
    -------
    utilisation : dict of str to (int, int)
        ``(used, available)`` per cell type.
    clocks : list of ClockTiming
        One entry per constrained clock.

    Raises
    ------
    ValueError
        If the document lacks the ``utilization`` or ``fmax`` entry.
    """
    for key in ("utilization", "fmax"):
        if key not in report:
            raise ValueError(f"nextpnr report JSON has no {key!r} entry; expected the file "
                             f"written by nextpnr's --report option")
    utilisation = {name: (int(entry["used"]), int(entry["available"]))
                   for name, entry in report["utilization"].items()}
    clocks = [ClockTiming(clock, float(entry["achieved"]), float(entry["constraint"]))
              for clock, entry in report["fmax"].items()]
    return utilisation, clocks


@dataclass
class DesignReport:
    """Figures of one build.

    Attributes
    ----------
    board, device, arch : str
        What was built.
    n_neurons, seed : int
        Neuron count and seed.
    utilisation : dict of str to [int, int]
        ``[used, available]`` per nextpnr cell type.
    clocks : list of dict
        ``clock``, ``achieved_mhz``, ``constraint_mhz`` and ``met`` per clock.
    cells : dict of str to int
        Yosys cell counts of the flattened netlist.
    modules : dict of str to dict
        Yosys cell counts of the ``regulator`` and the ``stimulus`` submodules, each synthesised
        alone; empty when that was not run.
    logic_cell_capacity : int
        Logic cells of the device.
    """

    board: str
    device: str
    arch: str
    n_neurons: int
    seed: int
    utilisation: dict
    clocks: list
    cells: dict
    modules: dict = field(default_factory=dict)
    logic_cell_capacity: int = 0

    @classmethod
    def from_tool_output(cls, *, board, device, arch, n_neurons, seed, nextpnr, stat, modules,
                         resources):
        """Combine parsed nextpnr and Yosys output into a report."""
        utilisation, clocks = nextpnr
        module_cells = {name: dict(stat.cells) for name, stat in (modules or {}).items()}
        return cls(
            board=board, device=device, arch=arch, n_neurons=n_neurons, seed=seed,
            utilisation={name: list(value) for name, value in utilisation.items()},
            clocks=[{"clock": c.clock, "achieved_mhz": c.achieved_mhz,
                     "constraint_mhz": c.constraint_mhz, "met": c.met} for c in clocks],
            cells=dict(stat.cells), modules=module_cells,
            logic_cell_capacity=resources.logic_cells)

    @classmethod
    def from_json(cls, data):
        """Rebuild a report from :meth:`to_json` output."""
        return cls(**data)

    def to_json(self):
        """Return the report as JSON-compatible data."""
        return asdict(self)

    @property
    def logic_cells(self):
        """Logic cells used after placement (``ICESTORM_LC``)."""
        return self.utilisation.get("ICESTORM_LC", [0, 0])[0]

    @property
    def brams(self):
        """Block RAMs used after placement (``ICESTORM_RAM``)."""
        return self.utilisation.get("ICESTORM_RAM", [0, 0])[0]

    @property
    def logic_cells_per_neuron(self):
        """Logic cells of the whole design divided by the neuron count."""
        return self.logic_cells / self.n_neurons

    @property
    def timing_met(self):
        """Whether every clock reached its target after routing."""
        return all(clock["met"] for clock in self.clocks)

    @property
    def fmax_mhz(self):
        """Lowest post-route maximum frequency over the clocks, or None without clocks."""
        return min((clock["achieved_mhz"] for clock in self.clocks), default=None)

    def module_cells(self, module):
        """Return the :class:`YosysStat` of a top-level submodule, or None if unknown."""
        cells = self.modules.get(module)
        return None if cells is None else YosysStat(cells)


@dataclass(frozen=True)
class SizeFit:
    """Least-squares line through cost against neuron count.

    Attributes
    ----------
    slope : float
        Marginal cost per neuron.
    intercept : float
        Fixed cost.
    """

    slope: float
    intercept: float

    def predict(self, n_neurons):
        """Return the fitted cost of ``n_neurons``."""
        return self.slope * n_neurons + self.intercept

    def max_neurons(self, capacity):
        """Return the largest neuron count whose fitted cost is at most ``capacity``.

        None when the slope is zero (within rounding) or negative, because then the fit sets no
        limit.
        """
        if self.slope <= 1e-9:
            return None
        # The tolerance keeps a fit that lands exactly on the capacity from rounding down.
        return max(0, math.floor((capacity - self.intercept) / self.slope + 1e-6))


def fit_sizes(neurons, costs):
    """Fit ``cost = slope * neurons + intercept`` by least squares.

    Raises
    ------
    ValueError
        If fewer than two distinct neuron counts are given.
    """
    neurons = np.asarray(neurons, dtype=float)
    costs = np.asarray(costs, dtype=float)
    if len(np.unique(neurons)) < 2:
        raise ValueError(f"a fit needs at least two different neuron counts, not "
                         f"{neurons.astype(int).tolist()}")
    slope, intercept = np.polyfit(neurons, costs, 1)
    # Costs are whole cells, so digits past the ninth decimal are rounding noise: a constant
    # block RAM count would otherwise get a slope like 1e-16 instead of 0.
    return SizeFit(round(float(slope), 9), round(float(intercept), 9))


def summarise_sizes(reports, resources, capacity=None):
    """Fit the logic cells (and block RAMs, if used) of builds at several sizes.

    Parameters
    ----------
    reports : list of DesignReport
        Builds of one board and architecture at different neuron counts.
    resources : DeviceResources
        Capacity of the board's device.
    capacity : dict of str to int, optional
        Structural limits of the architecture, ``{resource: neurons}``, from
        :meth:`homeo_hw.boards.Architecture.capacity`; they join the fitted limits.

    Returns
    -------
    dict
        JSON-compatible summary: per-size rows and the fits, with the largest neuron count that
        fits by logic cells, by block RAMs, and overall.
    """
    reports = sorted(reports, key=lambda report: report.n_neurons)
    neurons = [report.n_neurons for report in reports]
    rows = []
    for report in reports:
        regulator = report.module_cells("regulator")
        stimulus = report.module_cells("stimulus")
        rows.append({
            "n_neurons": report.n_neurons,
            "logic_cells": report.logic_cells,
            "logic_cells_per_neuron": report.logic_cells_per_neuron,
            "brams": report.brams,
            "luts": YosysStat(report.cells).luts,
            "flip_flops": YosysStat(report.cells).flip_flops,
            "carries": YosysStat(report.cells).carries,
            "regulator_luts": None if regulator is None else regulator.luts,
            "regulator_flip_flops": None if regulator is None else regulator.flip_flops,
            "stimulus_luts": None if stimulus is None else stimulus.luts,
            "stimulus_flip_flops": None if stimulus is None else stimulus.flip_flops,
            "fmax_mhz": report.fmax_mhz,
            "target_mhz": min((c["constraint_mhz"] for c in report.clocks), default=None),
            "timing_met": report.timing_met,
        })
    summary = {"board": reports[0].board, "device": reports[0].device, "arch": reports[0].arch,
               "logic_cell_capacity": resources.logic_cells, "bram_capacity": resources.bram,
               "sizes": rows}
    if len(set(neurons)) >= 2:
        lc_fit = fit_sizes(neurons, [row["logic_cells"] for row in rows])
        summary["logic_cell_fit"] = {"slope": lc_fit.slope, "intercept": lc_fit.intercept}
        limits = {"logic_cells": lc_fit.max_neurons(resources.logic_cells)}
        if any(row["brams"] for row in rows):
            bram_fit = fit_sizes(neurons, [row["brams"] for row in rows])
            summary["bram_fit"] = {"slope": bram_fit.slope, "intercept": bram_fit.intercept}
            limits["brams"] = bram_fit.max_neurons(resources.bram)
        if all(row["regulator_luts"] is not None for row in rows):
            regulator_fit = fit_sizes(
                neurons, [row["regulator_luts"] + row["regulator_flip_flops"] for row in rows])
            summary["regulator_fit"] = {"slope": regulator_fit.slope,
                                        "intercept": regulator_fit.intercept,
                                        "cost": "SB_LUT4 + SB_DFF*"}
        limits.update(capacity or {})
        summary["max_neurons_by"] = limits
        known = [limit for limit in limits.values() if limit is not None]
        summary["max_neurons"] = min(known) if known else None
    return summary


def write_json(summary, path):
    """Write a summary from :func:`summarise_sizes` as indented JSON."""
    with open(path, "w") as file:
        json.dump(summary, file, indent=2)
        file.write("\n")


def _format_optional(value, spec):
    return "-" if value is None else format(value, spec)


def _markdown_table(rows):
    lines = [
        ("| neurons | logic cells | LC / neuron | BRAM | LUT4 | DFF | carry "
         "| regulator LUT4 + DFF | stimulus LUT4 + DFF | Fmax (MHz) | target (MHz) | timing |"),
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        regulator = stimulus = None
        if row["regulator_luts"] is not None:
            regulator = row["regulator_luts"] + row["regulator_flip_flops"]
        if row["stimulus_luts"] is not None:
            stimulus = row["stimulus_luts"] + row["stimulus_flip_flops"]
        lines.append(
            f"| {row['n_neurons']} | {row['logic_cells']} | "
            f"{format_per_neuron(row['logic_cells_per_neuron'])} | {row['brams']} | "
            f"{row['luts']} | "
            f"{row['flip_flops']} | {row['carries']} | {_format_optional(regulator, 'd')} | "
            f"{_format_optional(stimulus, 'd')} | {_format_optional(row['fmax_mhz'], '.1f')} | "
            f"{_format_optional(row['target_mhz'], '.1f')} | "
            f"{'met' if row['timing_met'] else 'FAILED'} |")
    return lines


def format_per_neuron(value):
    """Format a logic-cell count per neuron: one decimal from 10 up, else three significant
    digits, so that the fractions of a time-multiplexed design do not round to 0."""
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3g}"


def _markdown_fit(summary):
    fit = summary["logic_cell_fit"]
    lines = [(f"Least-squares fit of logic cells: {format_per_neuron(fit['slope'])} per neuron "
              f"plus {fit['intercept']:.0f} fixed, of {summary['logic_cell_capacity']} on the "
              f"device.")]
    regulator_fit = summary.get("regulator_fit")
    if regulator_fit is not None:
        lines.append(
            f"Regulator alone (LUT4 + flip-flops, synthesised on its own): "
            f"{format_per_neuron(regulator_fit['slope'])} per neuron plus "
            f"{regulator_fit['intercept']:.0f}.")

    names = {"logic_cells": "logic cells", "brams": "block RAMs",
             "spram": "SPRAM (state memory banks)"}
    parts = [f"no limit from {names.get(name, name)}" if limit is None
             else f"{limit} by {names.get(name, name)}"
             for name, limit in summary["max_neurons_by"].items()]
    n_sizes = len(summary["sizes"])
    lines.append(f"Estimated largest neuron count that fits, extrapolated from the linear fit of "
                 f"{n_sizes} sizes and the architecture's structural limits: "
                 f"{_format_optional(summary['max_neurons'], 'd')} ({', '.join(parts)}).")
    lines.append("This is an estimate: steps such as a memory moving from logic into block RAM "
                 "are not linear, so build that size to confirm it fits.")
    return lines


def format_markdown(summary, command=None):
    """Return a summary from :func:`summarise_sizes` as a Markdown section."""
    lines = [f"### {summary['board']} ({summary['device']}), {summary['arch']} architecture", ""]
    if command:
        lines += [f"Measured with `{command}`.", ""]
    if summary.get("tools"):
        # icepack comes in the nextpnr package, so versions repeat.
        tools = ", ".join(dict.fromkeys(summary["tools"].values()))
        lines += [f"Tools: {tools}; nextpnr seed {summary.get('seed', '-')}.", ""]

    lines += _markdown_table(summary["sizes"]) + [""]
    if "logic_cell_fit" in summary:
        lines += _markdown_fit(summary) + [""]
    else:
        lines += [("No fit of cost against neuron count: a linear fit needs at least two "
                   "different neuron counts, so report two or more sizes."), ""]

    for entry in summary.get("did_not_fit", []):
        lines.append(f"{entry['n_neurons']} neurons do not fit: {entry['needed']} "
                     f"{entry['resource']} needed, {entry['available']} available.")
    if summary.get("did_not_fit"):
        lines.append("")
    return "\n".join(lines)


def plot_sizes(summary, path):
    """Plot logic cells against neurons with the fitted line and the device capacity as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

    rows = summary["sizes"]
    neurons = [row["n_neurons"] for row in rows]
    figure, axes = pyplot.subplots(figsize=(6, 4))
    axes.plot(neurons, [row["logic_cells"] for row in rows], "o", label="logic cells (nextpnr)")
    fit = summary.get("logic_cell_fit")
    if fit is not None:
        reach = max([*neurons, summary.get("max_neurons") or 0,
                     *(entry["n_neurons"] for entry in summary.get("did_not_fit", []))])
        xs = np.linspace(0, reach * 1.05, 100)
        axes.plot(xs, fit["slope"] * xs + fit["intercept"], "-",
                  label=f"fit: {fit['slope']:.1f}/neuron + {fit['intercept']:.0f}")
    too_large = [entry for entry in summary.get("did_not_fit", [])
                 if entry["resource"] == "ICESTORM_LC"]
    if too_large:
        axes.plot([entry["n_neurons"] for entry in too_large],
                  [entry["needed"] for entry in too_large], "x", color="red",
                  label="did not fit (cells needed)")
    axes.axhline(summary["logic_cell_capacity"], color="red", linestyle="--",
                 label=f"{summary['device']} capacity ({summary['logic_cell_capacity']})")
    axes.set_xlabel("neurons")
    axes.set_ylabel("logic cells (ICESTORM_LC)")
    axes.set_title(f"{summary['board']}, {summary['arch']} architecture")
    axes.set_xlim(left=0)
    axes.set_ylim(bottom=0)
    axes.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
