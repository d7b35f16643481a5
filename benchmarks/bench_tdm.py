"""Measure the board top-level with the time-multiplexed regulator (``--arch tdm``) by size.

For each board and neuron count the script runs the build that ``homeo-hw report --arch tdm``
runs, through :func:`homeo_hw.build.build` with the architecture's default configuration for the
board: on the iCE40HX8K breakout ``RegulatorConfig()`` (a 21-bit state word in block RAM), on the
iCEBreaker :data:`homeo_hw.boards.top.UP5K_TDM_CONFIG` (a 16-bit state word in SPRAM). It prints
per size the logic cells, block RAMs, SPRAMs and post-route Fmax, and per board the least-squares
fit of logic cells against neurons (marginal and fixed cost) and the largest neuron count that
fits. A size that fails to build is listed with the error message.

The weight memory of the top-level (``n_pre * n_neurons`` 8-bit weights) is in block RAM, as is
the state memory off the UP5K, so the default ``--n-pre 1`` keeps it as small as the top-level
allows. Builds are cached like those of ``homeo-hw``. Run from the repository root::

    python benchmarks/bench_tdm.py --build-dir build/bench_tdm
"""

import argparse
import sys

from homeo_hw.boards import get_board
from homeo_hw.build import BuildError, build
from homeo_hw.report import summarise_sizes
from homeo_hw.toolchain import tool_versions, toolchain_env


#: Boards and neuron counts measured by default.
SERIES = (
    ("ice40_hx8k_b_evn", (256, 1024, 4096)),
    ("icebreaker", (256, 4096, 32768)),
)


def measure_board(board_name, sizes, *, seed, n_pre, build_dir, use_cache):
    """Build ``board_name`` at each size; return the reports and the failures by size."""
    reports = []
    failures = {}
    for n_neurons in sizes:
        print(f"{board_name}, {n_neurons} neurons ...", file=sys.stderr, flush=True)
        try:
            result = build(board_name, n_neurons, arch="tdm", seed=seed, n_pre=n_pre,
                           root=build_dir, use_cache=use_cache)
        except (BuildError, ValueError) as error:
            failures[n_neurons] = f"{type(error).__name__}: {error}"
            continue
        reports.append(result.report)
    return reports, failures


def format_board(board_name, reports, failures):
    """Return the Markdown table and fit of one board's builds."""
    board = get_board(board_name)
    resources = board.resources
    lines = [f"#### {board.name} ({board.device}), tdm architecture", "",
             "| neurons | logic cells | BRAM | SPRAM | Fmax (MHz) | target (MHz) |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for report in sorted(reports, key=lambda report: report.n_neurons):
        spram = "-"
        if resources.spram:
            used = report.utilisation.get("ICESTORM_SPRAM", [0, 0])[0]
            spram = f"{used} / {resources.spram}"
        target = min(clock["constraint_mhz"] for clock in report.clocks)
        lines.append(
            f"| {report.n_neurons} | {report.logic_cells} / {resources.logic_cells} | "
            f"{report.brams} / {resources.bram} | {spram} | {report.fmax_mhz:.1f} | "
            f"{target:.1f} |")
    lines.append("")

    if len({report.n_neurons for report in reports}) >= 2:
        summary = summarise_sizes(reports, resources)
        fit = summary["logic_cell_fit"]
        limits = ", ".join(f"{name}: {'no limit' if limit is None else limit}"
                           for name, limit in summary["max_neurons_by"].items())
        cost = (f"Marginal cost {fit['slope']:.4f} logic cells per neuron, fixed cost "
                f"{fit['intercept']:.0f} logic cells (least squares over the sizes that built).")
        largest = (f"Largest neuron count that fits, from the fits: {summary['max_neurons']} "
                   f"({limits}).")
        lines += [cost, largest, ""]
    else:
        lines += ["Fewer than two sizes built, so there is no fit.", ""]

    for n_neurons, message in sorted(failures.items()):
        lines += [f"{n_neurons} neurons failed:", "", "```", message, "```", ""]
    return "\n".join(lines)


def _series(text):
    board_name, _, sizes = text.partition(":")
    try:
        get_board(board_name)
        counts = tuple(int(size) for size in sizes.split(","))
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"expected BOARD:N,N,... such as icebreaker:256,4096, not {text!r} ({error})"
        ) from None
    return board_name, counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=_series, action="append", metavar="BOARD:N,N,...",
                        help="board and neuron counts to measure instead of the default "
                             "series; may be repeated")
    parser.add_argument("--seed", type=int, default=1,
                        help="seed of the spike source, the weights and nextpnr (default 1)")
    parser.add_argument("--n-pre", type=int, default=1,
                        help="presynaptic neurons per neuron in the weight memory (default 1)")
    parser.add_argument("--build-dir", default="build/bench_tdm",
                        help="folder for the build folders (default build/bench_tdm)")
    parser.add_argument("--no-cache", action="store_true",
                        help="run the tools even if an identical build exists")
    args = parser.parse_args(argv)

    versions = ", ".join(dict.fromkeys(tool_versions(toolchain_env()).values()))
    print(f"Tools: {versions}; nextpnr seed {args.seed}; n_pre {args.n_pre}.")
    print()
    for board_name, sizes in args.series or SERIES:
        reports, failures = measure_board(board_name, sizes, seed=args.seed, n_pre=args.n_pre,
                                          build_dir=args.build_dir,
                                          use_cache=not args.no_cache)
        print(format_board(board_name, reports, failures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
