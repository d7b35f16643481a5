"""The ``homeo-hw`` command: list boards, build bitstreams, measure resources, simulate.

Run ``homeo-hw COMMAND --help`` for the options of each command.
"""

import argparse
import logging
import os
import sys
from pathlib import Path

import numpy as np

from .config import DEADBAND, UPDATE_RULES, RegulatorConfig
from .report import format_per_neuron


__all__ = ["main"]


logger = logging.getLogger(__name__)


class CommandError(Exception):
    """An error that the command reports in one line and exits with status 1."""


def _neuron_count(text):
    from .build import check_neuron_count
    try:
        return check_neuron_count(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _neuron_counts(text):
    counts = [_neuron_count(part) for part in text.split(",") if part.strip()]
    if not counts:
        raise argparse.ArgumentTypeError(f"expected comma-separated neuron counts, not {text!r}")
    return sorted(set(counts))


def _check_output_file(path, option):
    """Check that ``path`` can be written before a long run, so the run is not lost at its end."""
    if path.is_dir():
        raise CommandError(f"{option} {path} is a folder; give a file name, such as "
                           f"{path / 'output'}")
    folder = path.parent
    if not folder.exists():
        raise CommandError(f"{option} {path} cannot be written because the folder {folder} does "
                           f"not exist; create it first or give a path in an existing folder")
    if not folder.is_dir():
        raise CommandError(f"{option} {path} cannot be written because {folder} is a file, not "
                           f"a folder; give a path in a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CommandError(f"{option} {path} cannot be written because the folder {folder} is "
                           f"not writable; give a path in a folder you can write to")


def _check_plot_format(path):
    """Check that matplotlib can write the image format that the suffix of ``path`` names."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    suffix = path.suffix[1:].lower()
    formats = FigureCanvasAgg(Figure()).get_supported_filetypes()
    if suffix and suffix not in formats:
        raise CommandError(f"--plot {path}: matplotlib cannot write .{suffix} images; use a "
                           f"suffix of {', '.join(sorted(formats))}, or none for PNG")


def _check_output_folder(path, option):
    from .build import check_output_folder
    try:
        check_output_folder(path, option)
    except ValueError as error:
        raise CommandError(str(error)) from None


def _check_n_pre(args):
    # The same checks as the top-level's, named by their command-line options.
    from .boards import ARCHITECTURES, get_architecture
    if args.n_pre < 0:
        raise CommandError(f"--n-pre must be 0 or more, not {args.n_pre}")
    if args.n_pre == 0 and not get_architecture(args.arch).supports_no_weights:
        others = " or ".join(f"--arch {name}" for name, architecture in ARCHITECTURES.items()
                             if architecture.supports_no_weights)
        raise CommandError(f"--n-pre 0 leaves out the weight memory, which --arch {args.arch} "
                           f"needs; use --n-pre 1 or more, or {others}")


def _add_config_options(parser, defaults="RegulatorConfig"):
    group = parser.add_argument_group(f"regulator parameters (defaults: {defaults})")
    default = RegulatorConfig()
    group.add_argument("--window", type=int,
                       help=f"timesteps per rate window, a power of two (default {default.window})")
    group.add_argument("--target-count", type=int,
                       help=f"target spikes per neuron per window (default "
                            f"{default.target_count})")
    group.add_argument("--margin", type=int,
                       help=f"half-width of the dead band, in spikes (default {default.margin})")
    group.add_argument("--update-rule", choices=UPDATE_RULES,
                       help=f"threshold update rule (default {DEADBAND})")


def _config(args, n_neurons, base=None):
    # `base` is the architecture's default for the board; the options change only its fields.
    if base is None:
        base = RegulatorConfig(n_neurons=n_neurons)
    changes = {"n_neurons": n_neurons}
    if args.window is not None:
        changes["window"] = args.window
        # The counters must hold a full window of spikes.
        changes["counter_width"] = max(base.counter_width, args.window.bit_length())
    if args.target_count is not None:
        changes["target_count"] = args.target_count
    if args.margin is not None:
        changes["margin"] = args.margin
    if args.update_rule is not None:
        changes["update_rule"] = args.update_rule
    return base.replace(**changes)


def _board_config(args, n_neurons):
    from .boards import get_architecture, get_board
    base = get_architecture(args.arch).default_config(get_board(args.board), n_neurons)
    return _config(args, n_neurons, base)


def _add_build_options(parser):
    from .boards import ARCHITECTURES, BOARDS
    parser.add_argument("--board", required=True, metavar="NAME",
                        help=f"target board: {', '.join(BOARDS)}")
    parser.add_argument("--arch", default="parallel", metavar="NAME",
                        help=f"regulator architecture: {', '.join(ARCHITECTURES)} "
                             f"(default parallel). On iCE40UP5K boards tdm defaults to a 16-bit "
                             f"state word (7-bit counter; 7-bit threshold with 4 fractional "
                             f"bits, step 1), which fits 32768 neurons in SPRAM")
    parser.add_argument("--seed", type=int, default=1,
                        help="seed of the spike source, the initial weights and nextpnr's placer "
                             "(default 1)")
    parser.add_argument("--n-pre", type=int, default=4,
                        help="presynaptic neurons per neuron in the weight memory (default 4); "
                             "0 builds tdm without a weight memory, synaptic scaling or sleep")
    parser.add_argument("--build-dir", default="build", type=Path,
                        help="folder for the build folders (default build)")
    parser.add_argument("--no-cache", action="store_true",
                        help="run the tools even if an identical build exists")
    _add_config_options(parser, "RegulatorConfig, except for tdm on iCE40UP5K boards")


def _command_boards(args):
    from .boards import BOARDS
    for board in BOARDS.values():
        resources = board.resources
        extras = []
        if resources.spram:
            extras.append(f"{resources.spram} SPRAM")
        if resources.dsp:
            extras.append(f"{resources.dsp} DSP")
        print(f"{board.name}: {board.title}, {board.device} ({board.package}), "
              f"{board.clock_frequency / 1e6:g} MHz")
        print(f"    {resources.logic_cells} logic cells, {resources.bram} block RAMs"
              + "".join(f", {extra}" for extra in extras))
        print(f"    LEDs: {board.led_mapping}")
    return 0


def _print_build(result):
    report = result.report
    state = "reused cached build" if result.cached else "built"
    print(f"{state}: {result.directory}")
    print(f"  bitstream: {result.bitstream}")
    if result.verilog is not None:
        print(f"  Verilog: {result.verilog}")
    lc_used, lc_available = report.utilisation.get("ICESTORM_LC", (0, 0))
    print(f"  logic cells: {lc_used} of {lc_available} "
          f"({format_per_neuron(report.logic_cells_per_neuron)} per neuron, all logic over "
          f"{report.n_neurons} neurons; `homeo-hw report` over several sizes gives the cost of "
          f"each added neuron)")
    for name in ("ICESTORM_RAM", "ICESTORM_SPRAM", "ICESTORM_DSP"):
        if name in report.utilisation:
            used, available = report.utilisation[name]
            print(f"  {name}: {used} of {available}")
    for clock in report.clocks:
        verdict = "met" if clock["met"] else "NOT MET"
        print(f"  Fmax {clock['clock']}: {clock['achieved_mhz']:.1f} MHz, target "
              f"{clock['constraint_mhz']:.1f} MHz, timing {verdict}")


def _command_build(args):
    from .build import build
    _check_output_folder(args.build_dir, "--build-dir")
    _check_n_pre(args)
    config = _board_config(args, args.neurons)
    result = build(args.board, args.neurons, arch=args.arch, seed=args.seed, n_pre=args.n_pre,
                   config=config, root=args.build_dir, program=args.program,
                   verilog=args.verilog, use_cache=not args.no_cache)
    _print_build(result)
    if args.program:
        print("  programmed the board")
    return 0


def _command_report(args):
    from .boards import get_architecture, get_board
    from .build import DesignDoesNotFit, build
    from .report import format_markdown, plot_sizes, summarise_sizes, write_json
    from .toolchain import tool_versions, toolchain_env

    board = get_board(args.board)
    _check_n_pre(args)
    # Check both folders first: a report of several sizes can take many minutes to build.
    _check_output_folder(args.build_dir, "--build-dir")
    output = args.output or args.build_dir / f"report-{board.name}-{args.arch}"
    _check_output_folder(output, "--output" if args.output else "the report folder")
    reports = []
    too_large = []
    for index, n_neurons in enumerate(args.neurons, start=1):
        print(f"[{index}/{len(args.neurons)}] {board.name}, {n_neurons} neurons ...", flush=True)
        try:
            result = build(board.name, n_neurons, arch=args.arch, seed=args.seed,
                           n_pre=args.n_pre, config=_board_config(args, n_neurons),
                           root=args.build_dir, use_cache=not args.no_cache)
        except DesignDoesNotFit as error:
            print(f"    does not fit: {error}")
            too_large.append({"n_neurons": n_neurons, "resource": error.resource,
                              "needed": error.needed, "available": error.available})
            continue
        report = result.report
        state = "cached" if result.cached else "built"
        print(f"    {state}: {report.logic_cells} logic cells, "
              f"{format_per_neuron(report.logic_cells_per_neuron)} per neuron, Fmax "
              f"{report.fmax_mhz:.1f} MHz", flush=True)
        reports.append(report)
    if not reports:
        raise CommandError("no size fits the device, so there is nothing to report; "
                           "use smaller neuron counts")

    capacity = get_architecture(args.arch).capacity(board, _board_config(args, max(args.neurons)))
    summary = summarise_sizes(reports, board.resources, capacity)
    summary["did_not_fit"] = too_large
    summary["seed"] = args.seed
    summary["tools"] = tool_versions(toolchain_env())
    command = "homeo-hw " + " ".join(args.argv)
    summary["command"] = command
    markdown = format_markdown(summary, command=command)
    print()
    print(markdown)
    try:
        output.mkdir(parents=True, exist_ok=True)
        write_json(summary, output / "report.json")
        (output / "report.md").write_text(markdown + "\n")
        plot_sizes(summary, output / "report.png")
    except OSError as error:
        raise CommandError(f"cannot write the report to {output}: {error.strerror}; the report "
                           f"is printed above") from None
    print(f"wrote {output / 'report.json'}, {output / 'report.md'} and {output / 'report.png'}")
    return 0


def _command_sim(args):
    from .simulate import check_spike_counts, load_raster, plot_simulation, simulate

    if args.vcd is not None:
        _check_output_file(args.vcd, "--vcd")
    if args.plot is not None:
        _check_output_file(args.plot, "--plot")
        _check_plot_format(args.plot)
    if args.vcd is not None and args.plot is not None and args.vcd.resolve() == args.plot.resolve():
        raise CommandError(f"--vcd and --plot both name {args.vcd}; give them different files")
    try:
        raster = load_raster(args.raster, dt=args.dt)
    except OSError as error:
        raise CommandError(f"cannot read the raster {args.raster}: {error}") from None
    if raster.ndim != 2:
        raise CommandError(f"{args.raster} contains an array of shape {raster.shape}, not a "
                           f"(timesteps, neurons) raster")
    check_spike_counts(raster, f"the raster {args.raster}")
    if args.neurons > raster.shape[1]:
        raise CommandError(f"{args.raster} has {raster.shape[1]} neurons, fewer than the "
                           f"{args.neurons} requested; use --neurons {raster.shape[1]} or less")
    config = _config(args, args.neurons)
    raster = raster[:, :args.neurons]
    if len(raster) < config.window:
        raise CommandError(f"{args.raster} has {len(raster)} timesteps, less than one window of "
                           f"{config.window}; use a smaller --window")

    result = simulate(config, raster, backend=args.backend, vcd_file=args.vcd, arch=args.arch)
    print(f"simulated {len(raster)} timesteps of {config.n_neurons} neurons, "
          f"{result.cycles} cycles, architecture {args.arch}, back end {result.backend}")
    if result.clipped_spikes:
        print(f"  {result.clipped_spikes} spikes dropped: the gateware takes at most one spike "
              f"per neuron and timestep")
    leftover = len(raster) % config.window
    if leftover:
        print(f"  the last {leftover} timesteps do not complete a window of {config.window}, so "
              f"they are simulated but not compared")
    print(f"  {'window':>6} {'mean rate':>9} {'above':>5} {'below':>5} {'dispersion':>10} "
          f"{'lr exp':>6} {'mean threshold':>14}")
    for record in result.windows:
        mean_rate = np.mean(record.counts) / config.window
        mean_threshold = config.to_float_threshold(np.mean(record.thresholds))
        print(f"  {record.window_index:>6} {mean_rate:>9.4f} {record.n_above:>5} "
              f"{record.n_below:>5} {record.dispersion:>10} {record.lr_exponent:>6} "
              f"{mean_threshold:>14.4f}")
    if args.vcd is not None:
        print(f"wrote {args.vcd}")
    if result.matched:
        print(f"all {len(result.windows)} windows match the golden model")
        status = 0
    else:
        print(f"MISMATCH with the golden model ({len(result.mismatches)} values differ):")
        for line in result.mismatches[:20]:
            print(f"  {line}")
        status = 1
    # The plot comes last, so a failing write cannot hide the comparison printed above.
    if args.plot is not None:
        try:
            plot_simulation(result, args.plot)
        except OSError as error:
            raise CommandError(f"cannot write the plot {args.plot}: {error.strerror}") from None
        print(f"wrote {args.plot}")
    return status


def _command_export(args):
    from amaranth.back import verilog

    from .boards import get_architecture
    from .build import _environment
    from .toolchain import toolchain_env

    _check_output_file(args.output, "--output")
    _check_n_pre(args)
    config = _config(args, args.neurons)
    regulator = get_architecture(args.arch).create(config, n_pre=args.n_pre)
    with _environment(toolchain_env()):
        text = verilog.convert(regulator, name="regulator")
    try:
        args.output.write_text(text)
    except OSError as error:
        raise CommandError(f"cannot write {args.output}: {error.strerror}") from None
    print(f"wrote {args.output}")
    return 0


def _parser():
    from .simulate import ARCHITECTURES as SIM_ARCHITECTURES, BACKENDS

    parser = argparse.ArgumentParser(
        prog="homeo-hw",
        description="Homeostatic regulation of spiking neural networks on iCE40 FPGAs.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug messages")
    parser.add_argument("-q", "--quiet", action="store_true", help="hide progress messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    boards = commands.add_parser("boards", help="list the supported boards and their devices")
    boards.set_defaults(run=_command_boards)

    build = commands.add_parser("build", help="build a bitstream for a board")
    _add_build_options(build)
    build.add_argument("--neurons", type=_neuron_count, required=True, metavar="N",
                       help="number of regulated neurons")
    build.add_argument("--program", action="store_true",
                       help="program the board after the build (needs iceprog or tinyprog)")
    build.add_argument("--verilog", action="store_true",
                       help="also write the board top-level as Verilog, top.v")
    build.set_defaults(run=_command_build)

    report = commands.add_parser(
        "report", help="build several sizes and report resources, Fmax and the fitted cost")
    _add_build_options(report)
    report.add_argument("--neurons", type=_neuron_counts, required=True, metavar="N,N,...",
                        help="comma-separated neuron counts, e.g. 8,16,32,64")
    report.add_argument("--output", type=Path,
                        help="folder for report.json, report.md and report.png "
                             "(default BUILD_DIR/report-BOARD-ARCH)")
    report.set_defaults(run=_command_report)

    sim = commands.add_parser(
        "sim", help="simulate the regulator on a spike recording and compare with the golden "
                    "model")
    sim.add_argument("--raster", required=True, type=Path, metavar="FILE",
                     help=".npy raster, .npz raster, or .npz event recording (spike_indices, "
                          "spike_times, n_neurons, duration, dt)")
    sim.add_argument("--neurons", type=_neuron_count, required=True, metavar="N",
                     help="simulate the first N neurons of the recording")
    sim.add_argument("--dt", type=float, default=0.001,
                     help="timestep in seconds for binning an event recording (default 0.001)")
    sim.add_argument("--backend", choices=BACKENDS, default="auto",
                     help="simulator: pysim (Amaranth), cxxrtl (compiled, needs a C++ compiler), "
                          "or auto: cxxrtl when a C++ compiler works, else pysim (default)")
    sim.add_argument("--arch", choices=SIM_ARCHITECTURES, default="parallel",
                     help="regulator architecture: parallel (one timestep per cycle, waiting "
                          "while a window-end sweep runs) or tdm (address events with "
                          "back-pressure) (default parallel)")
    sim.add_argument("--vcd", type=Path, metavar="FILE", help="write a waveform to FILE")
    sim.add_argument("--plot", type=Path, metavar="FILE",
                     help="plot rates and thresholds per window to FILE; its suffix selects the "
                          "image format (PNG without a suffix)")
    _add_config_options(sim)
    sim.set_defaults(run=_command_sim)

    export = commands.add_parser("export", help="write the regulator alone as Verilog")
    export.add_argument("--neurons", type=_neuron_count, required=True, metavar="N",
                        help="number of regulated neurons")
    export.add_argument("--arch", default="parallel", metavar="NAME",
                        help="regulator architecture (default parallel)")
    export.add_argument("--n-pre", type=int, default=4,
                        help="presynaptic neurons per neuron in the weight memory (default 4); "
                             "0 exports tdm without a weight memory interface")
    export.add_argument("--output", "-o", type=Path, required=True, metavar="FILE",
                        help="Verilog file to write")
    _add_config_options(export)
    export.set_defaults(run=_command_export)

    return parser


def main(argv=None):
    """Run the ``homeo-hw`` command with ``argv`` (default ``sys.argv[1:]``); return the exit
    status."""
    from .build import BuildError
    from .cxxrtl import CxxrtlError
    from .simulate import BackendUnavailable
    from .toolchain import ToolchainError

    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    args.argv = argv

    level = logging.INFO
    if args.verbose:
        level = logging.DEBUG
    elif args.quiet:
        level = logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("homeo-hw: %(message)s"))
    package_logger = logging.getLogger("homeo_hw")
    package_logger.addHandler(handler)
    package_logger.setLevel(level)
    try:
        return args.run(args)
    except (CommandError, ValueError, BuildError, ToolchainError, BackendUnavailable,
            CxxrtlError) as error:
        print(f"homeo-hw: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        # The checks above catch the usual bad paths; this reports the rest in one line.
        if error.filename is None:
            print(f"homeo-hw: error: {error}", file=sys.stderr)
        else:
            print(f"homeo-hw: error: cannot access {error.filename}: {error.strerror}; check the "
                  f"path and its permissions", file=sys.stderr)
        return 1
    finally:
        package_logger.removeHandler(handler)
