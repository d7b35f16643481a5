"""Build a board top-level with Amaranth's iCE40 flow, with a result cache.

:func:`build` prepares the design with the board's Amaranth platform. Then it runs the commands of
Amaranth's build script (Yosys, nextpnr-ice40, icepack) one at a time from the build folder, with
relative paths only, because the YoWASP tools cannot open absolute paths under ``/tmp``. Each
build writes, in ``<root>/<board>-<arch>-n<neurons>-s<seed>/``:

``top.bin``
    Bitstream.
``top.report.json``
    nextpnr's ``--report``: utilisation per cell type and the post-route Fmax per clock.
``top.stat.json``
    Yosys ``stat -json`` of the flattened netlist that nextpnr places.
``top.regulator.stat.json``, ``top.stimulus.stat.json``
    Yosys ``stat -json`` of the regulator and of the spike source, each synthesised alone, which
    separates the regulator's cells from the stimulus' (see :mod:`homeo_hw.report`).
``homeo_report.json``
    The figures that :mod:`homeo_hw.report` reads from the files above.
``homeo_build.json``
    The cache key and the options of the build.
``top.v``
    The board top-level as Verilog, only when the build requests it. A build without it removes
    the ``top.v`` of an earlier build in the same folder, which would describe another design.

A build whose design (RTLIL text without its source-location attributes, and every other file of
Amaranth's build plan), board, options and tool versions equal those of the folder's last build is
not run again. Builds that differ only
in options missing from the folder name, such as the regulator parameters, share the folder, and
the newer replaces the older.
"""

import contextlib
import hashlib
import json
import logging
import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.build.run import LocalBuildProducts

from homeo_hw.boards import get_board
from homeo_hw.boards.top import HomeostasisTop, get_architecture
from .report import DesignReport, parse_nextpnr_report, parse_yosys_stat
from .toolchain import ToolchainError, tool_versions, toolchain_env


__all__ = [
    "BuildError", "DesignDoesNotFit", "BuildResult", "check_neuron_count", "check_output_folder",
    "build", "build_dir_name", "NAME", "MEASURED_MODULES",
]


logger = logging.getLogger(__name__)


#: Name of the top-level module and the stem of every build product.
NAME = "top"
#: Submodules of the top-level that are also synthesised alone, for the per-module figures.
MEASURED_MODULES = ("regulator", "stimulus")

_CACHE_FILE = "homeo_build.json"
_REPORT_FILE = "homeo_report.json"
# Lines of a failing tool's log shown in the error message.
_TAIL_LINES = 20
# Stages of Amaranth's iCE40 build script, by the environment variable its command starts with.
_STAGES = {"YOSYS": "synthesis (yosys)", "NEXTPNR_ICE40": "place and route (nextpnr-ice40)",
           "ICEPACK": "bitstream packing (icepack)"}
# nextpnr's utilisation lines, e.g. "Info:          ICESTORM_LC:  1450/ 1280   113%".
_UTILISATION_LINE = re.compile(r"^Info:\s+(ICESTORM_\w+|SB_\w+):\s+(\d+)/\s*(\d+)", re.MULTILINE)


class BuildError(Exception):
    """A build step failed; the message names the step and shows the end of its output."""


class DesignDoesNotFit(BuildError):
    """The design needs more of a resource than the device has.

    Attributes
    ----------
    resource : str
        Cell type, e.g. ``ICESTORM_LC``.
    needed, available : int
        Cells the design needs (a lower bound when found before placement) and cells the device
        has.
    """

    def __init__(self, message, *, resource, needed, available):
        super().__init__(message)
        self.resource = resource
        self.needed = needed
        self.available = available


@dataclass
class BuildResult:
    """Outcome of :func:`build`.

    Attributes
    ----------
    directory : Path
        Build folder.
    cached : bool
        True when the folder's previous result was reused without running the tools.
    report : DesignReport
        Figures parsed from the tool output.
    bitstream : Path
        The ``.bin`` file.
    verilog : Path or None
        Verilog of the board top-level, when requested.
    """

    directory: Path
    cached: bool
    report: DesignReport
    bitstream: Path
    verilog: Path | None = None
    options: dict = field(default_factory=dict)


def check_neuron_count(value):
    """Return ``value`` as a neuron count, a positive integer.

    Accepts an :class:`int` or a string of decimal digits, as the command line passes it.

    Raises
    ------
    ValueError
        If ``value`` is not a positive integer.
    """
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ValueError(f"neuron count must be a positive integer, not {value!r}")
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"neuron count must be a positive integer, not {value!r}")
    if value < 1:
        raise ValueError(f"neuron count must be at least 1, not {value}")
    return value


def check_output_folder(path, name):
    """Check that the folder ``path`` exists or can be created, before a long run writes to it.

    ``name`` names the folder in the message, such as ``--build-dir``.

    Raises
    ------
    ValueError
        If ``path`` or one of its parents is a file, or the nearest existing folder is not
        writable.
    """
    path = Path(path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        if existing == path:
            raise ValueError(f"{name} {path} is a file, not a folder; give a folder path")
        raise ValueError(f"{name} {path} cannot be created because {existing} is a file, not a "
                         f"folder; give another folder path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{name} {path} cannot be written because the folder {existing} is not "
                         f"writable; give a folder you can write to")


def build_dir_name(board, arch, n_neurons, seed):
    """Return the folder name of a build, ``<board>-<arch>-n<neurons>-s<seed>``."""
    return f"{board}-{arch}-n{n_neurons}-s{seed}"


@contextlib.contextmanager
def _environment(environ):
    # Amaranth converts RTLIL to Verilog in-process, reading the tool variables from os.environ.
    saved = dict(os.environ)
    os.environ.update(environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# RTLIL source-location attributes, e.g. `attribute \src "boards/top.py:210"`.
_SRC_ATTRIBUTE = re.compile(r"^\s*attribute \\src .*$\n?", re.MULTILINE)


def _hash_plan(plan, extra):
    # Source locations change when a comment above the code changes, so they are not hashed.
    hasher = hashlib.sha256()
    for filename in sorted(plan.files):
        content = plan.files[filename]
        if isinstance(content, str):
            content = _SRC_ATTRIBUTE.sub("", content).encode("utf-8")
        hasher.update(filename.encode("utf-8") + b"\0")
        hasher.update(hashlib.sha256(content).digest())
    hasher.update(json.dumps(extra, sort_keys=True).encode("utf-8"))
    return hasher.hexdigest()


def _fit_check_script(resources):
    # Each logic cell contains one LUT4, one flip-flop and one carry, so each count is a lower
    # bound on the logic cells. Checking in Yosys stops an oversized design before placement.
    lines = []
    for cells in ("t:SB_LUT4", "t:SB_DFF*", "t:SB_CARRY"):
        lines.append(f"select -assert-max {resources.logic_cells} {cells}")
    # Yosys may name a parametrised primitive `$paramod$<hash>\SB_RAM40_4K`, hence the `*`.
    lines.append(f"select -assert-max {resources.bram} t:*SB_RAM40_4K")
    if resources.spram:
        lines.append(f"select -assert-max {resources.spram} t:*SB_SPRAM256KA")
    if resources.dsp:
        lines.append(f"select -assert-max {resources.dsp} t:*SB_MAC16")
    return lines


def _overrides(board, seed, module_stat):
    after_synth = [f"tee -q -o {NAME}.stat.json stat -json"]
    after_synth += _fit_check_script(board.resources)
    if module_stat:
        # `synth_ice40 -noflatten` crashes in ABC9 (YoWASP Yosys 0.70), so each part is
        # synthesised on its own, as a top module whose outputs are ports.
        after_synth.append("design -save homeo_flat")
        for module in MEASURED_MODULES:
            after_synth += [
                "design -load homeo_read",
                f"synth_ice40 -top {NAME}.{module}",
                f"tee -q -o {NAME}.{module}.stat.json stat -json",
            ]
        after_synth.append("design -load homeo_flat")
    return {
        "script_after_read": "design -save homeo_read" if module_stat else "",
        "script_after_synth": "\n".join(after_synth),
        # A design that misses its clock target still gets a bitstream; the report flags it.
        "nextpnr_opts": f"--seed {seed} --report {NAME}.report.json --timing-allow-fail",
    }


def _script_commands(plan):
    script = plan.files[f"build_{NAME}.sh"]
    for line in script.splitlines():
        match = re.match(r'^"\$(\w+)"', line)
        if match and match.group(1) in _STAGES:
            yield match.group(1), line


def _tail(text, lines=_TAIL_LINES):
    return "\n".join(text.strip().splitlines()[-lines:])


def _read_text(path):
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _lc_bound(stat_path, resources):
    # Returns (resource, needed, available) of the first resource over capacity.
    stat = parse_yosys_stat(json.loads(stat_path.read_text()))
    checks = [
        ("SB_LUT4", stat.luts, resources.logic_cells),
        ("SB_DFF", stat.flip_flops, resources.logic_cells),
        ("SB_CARRY", stat.carries, resources.logic_cells),
        ("SB_RAM40_4K", stat.cells.get("SB_RAM40_4K", 0), resources.bram),
        ("SB_SPRAM256KA", stat.cells.get("SB_SPRAM256KA", 0), resources.spram),
        ("SB_MAC16", stat.cells.get("SB_MAC16", 0), resources.dsp),
    ]
    for name, needed, available in checks:
        if needed > available:
            return name, needed, available
    return None


def _raise_for_failure(stage, result, directory, board):
    device = board.device
    if stage == "YOSYS":
        log = _read_text(directory / f"{NAME}.rpt")
        stat_path = directory / f"{NAME}.stat.json"
        if "Assertion failed: selection contains" in log and stat_path.exists():
            over = _lc_bound(stat_path, board.resources)
            if over is not None:
                resource, needed, available = over
                if resource in ("SB_LUT4", "SB_DFF", "SB_CARRY"):
                    # Reported as logic cells, the resource nextpnr places them in.
                    need = (f"its {needed} {resource} cells need at least {needed} logic "
                            f"cells (ICESTORM_LC)")
                    resource = "ICESTORM_LC"
                else:
                    need = f"it needs {needed} {resource} cells"
                raise DesignDoesNotFit(
                    f"design does not fit the {device} of the {board.title}: {need}, and the "
                    f"device has {available}; use fewer neurons or a larger device",
                    resource=resource, needed=needed, available=available)
    elif stage == "NEXTPNR_ICE40":
        log = _read_text(directory / f"{NAME}.tim") or result.stderr
        for resource, used, available in _UTILISATION_LINE.findall(log):
            if int(used) > int(available):
                raise DesignDoesNotFit(
                    f"design does not fit the {device} of the {board.title}: it needs "
                    f"{used} {resource} cells, and the device has {available}; use fewer "
                    f"neurons or a larger device",
                    resource=resource, needed=int(used), available=int(available))
    else:
        log = ""
    output = "\n".join(filter(None, [_tail(log), _tail(result.stdout), _tail(result.stderr)]))
    raise BuildError(
        f"{_STAGES[stage]} failed with exit code {result.returncode} in {directory}; "
        f"last lines of its output:\n{output}")


def _run_plan(plan, directory, environ):
    plan.extract(directory)
    for stage, command in _script_commands(plan):
        logger.info("running %s in %s", _STAGES[stage], directory)
        # Run from the build folder with the relative file names of Amaranth's script.
        argv = [environ[stage]] + shlex.split(command)[1:]
        try:
            result = subprocess.run(argv, cwd=directory, env=environ, capture_output=True,
                                    text=True)
        except OSError as error:
            raise ToolchainError(f"{_STAGES[stage]} failed to start {argv[0]}: {error}") from None
        if result.returncode != 0:
            return stage, result
    return None, None


def _load_cache(directory):
    try:
        return json.loads((directory / _CACHE_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def build(board, n_neurons, *, arch="parallel", seed=1, n_pre=4, config=None, root="build",
          program=False, verilog=False, module_stat=True, use_cache=True, environ=None,
          top_options=None):
    """Build the top-level of ``board`` with ``n_neurons`` regulated neurons.

    Parameters
    ----------
    board : str
        Board name, see :data:`homeo_hw.boards.BOARDS`.
    n_neurons : int or str
        Number of regulated neurons, a positive integer.
    arch : str
        Regulator architecture, see :data:`homeo_hw.boards.ARCHITECTURES`.
    seed : int
        Seed of the spike source, of the initial weights and of nextpnr's placer.
    n_pre : int
        Presynaptic neurons per neuron in the weight memory.
    config : RegulatorConfig or None
        Regulator parameters; its ``n_neurons`` is replaced by ``n_neurons``. By default the
        architecture's configuration for the board,
        :meth:`~homeo_hw.boards.Architecture.default_config`.
    root : str or Path
        Folder that contains the build folders.
    program : bool
        Program the board with Amaranth's programming support for the platform after the build.
    verilog : bool
        Also write the board top-level as Verilog, ``top.v``. When False, a ``top.v`` left in the
        build folder by an earlier build is removed.
    module_stat : bool
        Also synthesise the regulator and the spike source alone, for the per-module figures.
    use_cache : bool
        Reuse the folder's previous result when nothing changed.
    environ : mapping or None
        Environment to find the tools in; by default :data:`os.environ`.
    top_options : dict or None
        Extra keyword arguments for :class:`~homeo_hw.boards.top.HomeostasisTop`.

    Returns
    -------
    BuildResult

    Raises
    ------
    ValueError
        For an unknown board or architecture, a bad neuron count, or a ``root`` that is a file
        or cannot be written (:func:`check_output_folder`).
    ToolchainError
        If a tool is missing.
    DesignDoesNotFit
        If the design needs more of a resource than the device has.
    BuildError
        If a tool fails for another reason.
    """
    n_neurons = check_neuron_count(n_neurons)
    board = get_board(board)
    architecture = get_architecture(arch)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
    check_output_folder(root, "build root")
    if config is None:
        config = architecture.default_config(board, n_neurons)
    else:
        config = config.replace(n_neurons=n_neurons)
    environ = toolchain_env(environ)

    top = HomeostasisTop(board, config, arch=arch, n_pre=n_pre, seed=seed,
                         **(top_options or {}))
    platform = board.create_platform()
    overrides = _overrides(board, seed, module_stat)
    if verilog:
        overrides["debug_verilog"] = True
    logger.info("elaborating %s with %d neurons (%s)", board.title, n_neurons, arch)
    with _environment(environ):
        plan = platform.prepare(top, name=NAME, **overrides)

    directory = Path(root, build_dir_name(board.name, arch, n_neurons, seed)).absolute()
    options = {"board": board.name, "arch": arch, "n_neurons": n_neurons, "seed": seed,
               "n_pre": n_pre, "module_stat": module_stat, "verilog": verilog,
               "config": {name: getattr(config, name) for name in config.field_names()},
               "top_options": {key: repr(value) for key, value in (top_options or {}).items()}}
    key = _hash_plan(plan, {"options": options, "tools": tool_versions(environ)})

    bitstream = directory / f"{NAME}.bin"
    verilog_path = directory / f"{NAME}.v"
    if not verilog:
        verilog_path.unlink(missing_ok=True)
    cache = _load_cache(directory) if use_cache else None
    cached = (cache is not None and cache.get("key") == key and bitstream.exists()
              and (directory / _REPORT_FILE).exists())
    if cached:
        logger.info("reusing the cached build in %s (design, options and tools unchanged)",
                    directory)
        report = DesignReport.from_json(json.loads((directory / _REPORT_FILE).read_text()))
    else:
        (directory / _CACHE_FILE).unlink(missing_ok=True)
        failed_stage, result = _run_plan(plan, directory, environ)
        if failed_stage is not None:
            _raise_for_failure(failed_stage, result, directory, board)
        report = _read_report(directory, board, config, options)
        (directory / _REPORT_FILE).write_text(json.dumps(report.to_json(), indent=2) + "\n")
        (directory / _CACHE_FILE).write_text(
            json.dumps({"key": key, "options": options}, indent=2) + "\n")

    if verilog:
        verilog_path.write_text(plan.files[f"{NAME}.debug.v"])
    else:
        verilog_path = None

    if program:
        _program(platform, directory)

    return BuildResult(directory=directory, cached=cached, report=report, bitstream=bitstream,
                       verilog=verilog_path, options=options)


def _read_report(directory, board, config, options):
    nextpnr = parse_nextpnr_report(json.loads((directory / f"{NAME}.report.json").read_text()))
    stat = parse_yosys_stat(json.loads((directory / f"{NAME}.stat.json").read_text()))
    modules = {}
    for module in MEASURED_MODULES:
        path = directory / f"{NAME}.{module}.stat.json"
        if path.exists():
            modules[module] = parse_yosys_stat(json.loads(path.read_text()))
    return DesignReport.from_tool_output(
        board=board.name, device=board.device, arch=options["arch"],
        n_neurons=config.n_neurons, seed=options["seed"], nextpnr=nextpnr, stat=stat,
        modules=modules, resources=board.resources)


def _program(platform, directory):
    logger.info("programming the board with %s", directory / f"{NAME}.bin")
    try:
        platform.toolchain_program(LocalBuildProducts(str(directory)), NAME)
    except FileNotFoundError as error:
        raise ToolchainError(
            f"programming failed: {error.filename or error} not found; install the board's "
            f"programmer (iceprog from IceStorm, or tinyprog for the TinyFPGA BX) or set "
            f"ICEPROG / TINYPROG to it") from None
    except subprocess.CalledProcessError as error:
        raise BuildError(f"programming failed: {error}") from None
