"""Measure the time-multiplexed regulator alone on an iCE40, by neuron count.

The design is :class:`homeo_hw.tdm_regulator.TDMRegulator` without a weight memory, driven by a
small stimulus. A 20-bit LFSR gives the neuron index of one event per clock. A registered timestep
mark ends every 64th accepted event, and a registered threshold request comes every 16 cycles.
Every regulator output (readout, swept record, statistics and strobes) is XOR-folded into
4 registered LEDs, so synthesis removes none of the regulator.

On the iCE40HX8K breakout (HX8K CT256) the configuration is ``RegulatorConfig(n_neurons=N)``, a
21-bit state word in block RAM. On the iCEBreaker (UP5K SG48) it is
:data:`homeo_hw.boards.top.UP5K_TDM_CONFIG` with ``n_neurons=N``, a 16-bit state word in SPRAM.
In both, ``lr_reference_dispersion`` is derived for N.

Each build runs Amaranth's iCE40 synthesis script with Yosys, then nextpnr with a fixed seed. The
table lists the post-route logic cells, block RAMs, SPRAMs and Fmax from nextpnr's ``--report``
JSON. The least-squares fit of logic cells against neurons gives the marginal cost (logic cells
per neuron) and the fixed cost of the whole design.

The fixed cost includes the stimulus and the LED fold. ``--stimulus-only`` builds them without
the regulator, with the same fold, so that their logic cells can be subtracted from the fixed
cost. The stimulus does not depend on the neuron count, so this builds one design per board.

Run from the repository root, with the YoWASP tools installed::

    python benchmarks/bench_tdm_core.py --board hx8k --neurons 256,1024,4096
    python benchmarks/bench_tdm_core.py --board up5k --neurons 256,4096,32768
    python benchmarks/bench_tdm_core.py --board up5k --stimulus-only

The YoWASP tools cannot open absolute paths under ``/tmp``, so they run inside each build folder
with relative paths.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from amaranth.hdl import Cat, Elaboratable, Module, Signal
from amaranth_boards.ice40_hx8k_b_evn import ICE40HX8KBEVNPlatform
from amaranth_boards.icebreaker import ICEBreakerPlatform

from homeo_hw.boards.top import UP5K_TDM_CONFIG
from homeo_hw.config import RegulatorConfig
from homeo_hw.report import fit_sizes, parse_nextpnr_report
from homeo_hw.tdm_regulator import TDMRegulator
from homeo_hw.toolchain import TOOLS, ToolchainError, tool_versions, toolchain_env


#: nextpnr options that select each board's device and package.
DEVICE_OPTIONS = {
    "hx8k": ["--hx8k", "--package", "ct256"],
    "up5k": ["--up5k", "--package", "sg48"],
}

#: Width of the LFSR that gives the neuron index and the requested neuron.
LFSR_WIDTH = 20
#: Number of LEDs that the results are folded onto.
LED_COUNT = 4


def board_config(board, n_neurons):
    """Return the regulator configuration of ``board`` with ``n_neurons`` neurons."""
    if board == "up5k":
        # A 16-bit state word fits one SPRAM column: 7-bit counter, 7-bit threshold, 2 flags.
        # lr_reference_dispersion=None derives it again for n_neurons, because replace() alone
        # keeps the value derived for the single neuron of UP5K_TDM_CONFIG.
        return UP5K_TDM_CONFIG.replace(n_neurons=n_neurons, lr_reference_dispersion=None)
    return RegulatorConfig(n_neurons=n_neurons)


def make_platform(board):
    """Return the amaranth-boards platform of ``board``."""
    if board == "up5k":
        platform = ICEBreakerPlatform()
        # LEDs 2 to 5 are on the iCEBreaker's snap-off PMOD.
        platform.add_resources(platform.break_off_pmod)
        return platform
    return ICE40HX8KBEVNPlatform()


class CoreBenchTop(Elaboratable):
    """A :class:`TDMRegulator` fed by an LFSR event source, every output folded onto 4 LEDs.

    Parameters
    ----------
    config : RegulatorConfig or None
        Configuration of the regulator. With None, only the stimulus is built, and the LFSR and
        the two request registers are folded onto the LEDs instead of the regulator's outputs.

    Attributes
    ----------
    regulator : TDMRegulator or None
        The regulator under test, None when only the stimulus is built.
    """

    def __init__(self, config):
        self.config = config
        self.regulator = None if config is None else TDMRegulator(config)

    def elaborate(self, platform):
        m = Module()
        regulator = self.regulator
        if regulator is not None:
            m.submodules.regulator = regulator

        lfsr = Signal(LFSR_WIDTH, init=1)
        m.d.sync += lfsr.eq(Cat(lfsr[1:], lfsr[0] ^ lfsr[3]))

        events_in_step = Signal(6)
        step_end = Signal()
        cycle = Signal(4)
        request = Signal()
        m.d.sync += [
            cycle.eq(cycle + 1),
            request.eq(cycle == 15),
        ]
        # The timestep mark and the request come from registers, as they would from a FIFO.
        next_in_step = [
            events_in_step.eq(events_in_step + 1),
            step_end.eq(events_in_step == 62),
        ]

        if regulator is None:
            m.d.sync += next_in_step
            results = Cat(lfsr, step_end, request)
        else:
            index_width = max(1, (self.config.n_neurons - 1).bit_length())
            m.d.comb += [
                regulator.events.valid.eq(1),
                regulator.events.payload.neuron.eq(lfsr[:index_width]),
                regulator.events.payload.timestep_end.eq(step_end),
                regulator.threshold_request.valid.eq(request),
                regulator.threshold_request.payload.eq(lfsr[-index_width:]),
            ]
            with m.If(regulator.events.ready):
                m.d.sync += next_in_step
            results = Cat(regulator.readout.as_value(), regulator.readout_valid,
                          regulator.swept.as_value(), regulator.swept_valid, regulator.n_above,
                          regulator.n_below, regulator.dispersion, regulator.lr_exponent,
                          regulator.window_done, regulator.initialising)

        folded = Signal(LED_COUNT)
        m.d.sync += folded.eq(Cat(results[i::LED_COUNT].xor() for i in range(LED_COUNT)))
        # The iCEBreaker's LEDs 0 and 1 are on the main board, and 2 to 5 on the PMOD.
        first_led = 2 if platform.device == "iCE40UP5K" else 0
        for i in range(LED_COUNT):
            led = platform.request("led", first_led + i)
            m.d.comb += led.o.eq(folded[i])
        return m


def _run_tool(argv, folder, environ, log_name):
    try:
        subprocess.run(argv, cwd=folder, env=environ, check=True)
    except subprocess.CalledProcessError as error:
        raise SystemExit(f"{Path(argv[0]).name} failed with exit status {error.returncode} in "
                         f"{folder}. See {folder / log_name}") from None


def build_design(board, n_neurons, *, seed, build_dir, environ):
    """Build one design and read its figures from nextpnr's report.

    With ``n_neurons`` None, only the stimulus is built.

    Returns
    -------
    utilisation : dict of str to (int, int)
        ``(used, available)`` per nextpnr cell type.
    clocks : list of ClockTiming
        Post-route timing per clock.
    word_width : int or None
        Bits per state word of the regulator, None for the stimulus alone.
    """
    config = None if n_neurons is None else board_config(board, n_neurons)
    folder = Path(build_dir) / (f"{board}_stimulus" if config is None else f"{board}_{n_neurons}")
    print(f"building {folder} ...", file=sys.stderr, flush=True)

    # Amaranth reads the tool variables from os.environ while it prepares the build files.
    os.environ.update(environ)
    top = CoreBenchTop(config)
    plan = make_platform(board).build(top, name="top", do_build=False)
    plan.extract(folder)

    yosys, nextpnr = (environ[tool.env_var] for tool in TOOLS[:2])
    _run_tool([yosys, "-q", "-l", "top.rpt", "top.ys"], folder, environ, "top.rpt")
    _run_tool([nextpnr, *DEVICE_OPTIONS[board], "--json", "top.json", "--pcf", "top.pcf",
               "--report", "report.json", "--seed", str(seed), "--asc", "top.asc",
               "--log", "nextpnr.log", "--quiet"], folder, environ, "nextpnr.log")

    report = json.loads((folder / "report.json").read_text())
    utilisation, clocks = parse_nextpnr_report(report)
    word_width = None if top.regulator is None else top.regulator.word_width
    return utilisation, clocks, word_width


def _format_used(utilisation, cell_type):
    used, available = utilisation.get(cell_type, (0, 0))
    return "-" if available == 0 else f"{used} / {available}"


def format_row(label, utilisation, clocks):
    """Return one Markdown table row of a build."""
    fmax = min(clock.achieved_mhz for clock in clocks)
    cells = [_format_used(utilisation, cell_type)
             for cell_type in ("ICESTORM_LC", "ICESTORM_RAM", "ICESTORM_SPRAM")]
    return f"| {label} | {' | '.join(cells)} | {fmax:.1f} |"


def measure_sizes(board, neurons, *, seed, build_dir, environ):
    """Build the regulator at each neuron count.

    Returns
    -------
    rows : list of str
        Markdown table row per neuron count.
    fit_line : str
        Least-squares marginal and fixed cost of the logic cells.
    word_widths : set of int
        Bits per state word of the builds.
    """
    rows = []
    logic_cells = []
    word_widths = set()
    for n_neurons in neurons:
        utilisation, clocks, word_width = build_design(
            board, n_neurons, seed=seed, build_dir=build_dir, environ=environ)
        rows.append(format_row(n_neurons, utilisation, clocks))
        logic_cells.append(utilisation["ICESTORM_LC"][0])
        word_widths.add(word_width)

    if len(neurons) < 2:
        return rows, "One neuron count only, so there is no fit.", word_widths
    fit = fit_sizes(neurons, logic_cells)
    fit_line = (f"Least-squares fit of ICESTORM_LC over {len(neurons)} sizes: marginal cost "
                f"{fit.slope:.4f} logic cells per neuron, fixed cost {fit.intercept:.0f} logic "
                f"cells (stimulus and LED fold included).")
    return rows, fit_line, word_widths


def _neuron_counts(text):
    try:
        counts = [int(count) for count in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated neuron counts such as 256,4096, not {text!r}") from None
    if any(count < 1 for count in counts):
        raise argparse.ArgumentTypeError(f"neuron counts must be at least 1, not {text!r}")
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--board", choices=sorted(DEVICE_OPTIONS), required=True,
                        help="hx8k: iCE40HX8K breakout (HX8K CT256); up5k: iCEBreaker "
                             "(UP5K SG48)")
    parser.add_argument("--neurons", type=_neuron_counts, default=[256, 4096],
                        help="comma-separated neuron counts to build (default 256,4096)")
    parser.add_argument("--stimulus-only", action="store_true",
                        help="build only the stimulus and the LED fold, without the regulator; "
                             "--neurons is ignored")
    parser.add_argument("--seed", type=int, default=1, help="nextpnr seed (default 1)")
    parser.add_argument("--build-dir", default="build/bench_tdm_core",
                        help="folder for the build folders, relative to the current folder "
                             "(default build/bench_tdm_core)")
    args = parser.parse_args(argv)

    try:
        environ = toolchain_env()
    except ToolchainError as error:
        parser.error(str(error))
    versions = ", ".join(dict.fromkeys(tool_versions(environ).values()))

    if args.stimulus_only:
        title = f"### Stimulus and LED fold alone, {args.board}"
        utilisation, clocks, _ = build_design(args.board, None, seed=args.seed,
                                              build_dir=args.build_dir, environ=environ)
        rows = [format_row("stimulus only", utilisation, clocks)]
        fit_line = None
    else:
        rows, fit_line, word_widths = measure_sizes(
            args.board, sorted(set(args.neurons)), seed=args.seed, build_dir=args.build_dir,
            environ=environ)
        widths = ", ".join(str(width) for width in sorted(word_widths))
        title = f"### TDMRegulator alone, {args.board}, {widths}-bit state word"

    print(title)
    print()
    print(f"Tools: {versions}; nextpnr seed {args.seed}.")
    print()
    print("| neurons | ICESTORM_LC | RAM40 | SPRAM | Fmax (MHz) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    print("\n".join(rows))
    if fit_line is not None:
        print()
        print(fit_line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
