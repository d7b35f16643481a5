"""Simulation helpers shared by the gateware tests.

Import them as ``from tests.sim import run_simulation, ...``. The helpers cover four needs:

* :func:`run_simulation` runs async testbenches on a design, with a 1 MHz clock on ``sync``, and
  writes a VCD file only when the environment variable ``HOMEO_HW_VCD`` names a folder. A
  testbench of a combinational design advances time with ``await ctx.delay(CLOCK_PERIOD)``
  between input values, so that each value has its own span in the waveform.
* :func:`put_spikes` presents one timestep of spikes to a regulator-like component.
* :func:`read_array`, :func:`read_thresholds`, :func:`read_counts` and :func:`read_memory` read
  array outputs and memory contents as NumPy arrays.
* :func:`assert_array_equal` and :func:`assert_value_equal` compare gateware values with the
  golden model and, on a mismatch, name the index (neuron, or pre and post), the field and the
  context such as the window.

A component whose ``__init__`` raises still counts as created, so Amaranth warns that it was
never used, and the test configuration turns that warning into an error. Test files that check
rejected parameters therefore start with the linter comment
``# amaranth: UnusedElaboratable=no``, which Amaranth reads from the first line of the file
that created the component.
"""

import os
import re

import numpy as np
from amaranth.sim import Simulator


__all__ = [
    "CLOCK_PERIOD",
    "run_simulation",
    "spikes_to_int",
    "put_spikes",
    "read_array", "read_thresholds", "read_counts", "read_memory",
    "assert_array_equal", "assert_value_equal",
]


#: Period of the ``sync`` clock in simulation, in seconds.
CLOCK_PERIOD = 1e-6


def _vcd_path(name):
    folder = os.environ.get("HOMEO_HW_VCD")
    if not folder:
        return None
    if name is None:
        # pytest sets this variable to "tests/test_x.py::test_name (call)".
        current = os.environ.get("PYTEST_CURRENT_TEST", "simulation")
        name = current.rsplit(" ", 1)[0]
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".vcd")


def run_simulation(dut, *testbenches, background=(), clocked=True, name=None):
    """Run async testbenches on ``dut`` until every foreground testbench returns.

    Parameters
    ----------
    dut : Elaboratable
        Design under test, usually a wrapper that also contains a memory.
    *testbenches : async callable
        Testbenches ``async def bench(ctx)``; the simulation ends when all of them return.
    background : sequence of async callable
        Testbenches that run until the foreground ones end, such as monitors of a strobe.
    clocked : bool
        Add a clock of :data:`CLOCK_PERIOD` to the ``sync`` domain. Pass False for a purely
        combinational design, which has no ``sync`` domain.
    name : str or None
        Base name of the VCD file. By default the name of the running pytest test.
    """
    sim = Simulator(dut)
    if clocked:
        sim.add_clock(CLOCK_PERIOD)
    for testbench in testbenches:
        sim.add_testbench(testbench)
    for testbench in background:
        sim.add_testbench(testbench, background=True)
    path = _vcd_path(name)
    if path is None:
        sim.run()
    else:
        with sim.write_vcd(path):
            sim.run()


def spikes_to_int(spikes):
    """Pack a vector of spikes into an integer, entry ``i`` in bit ``i``."""
    value = 0
    for index, spike in enumerate(np.asarray(spikes).astype(bool)):
        if spike:
            value |= 1 << index
    return value


async def put_spikes(ctx, dut, spikes, *, gap=0):
    """Present one timestep of spikes on ``dut.spikes`` with ``dut.spikes_valid`` high.

    Returns after the clock edge that takes the timestep, with ``spikes_valid`` low again, and
    then waits ``gap`` more cycles without a timestep.
    """
    ctx.set(dut.spikes, spikes_to_int(spikes))
    ctx.set(dut.spikes_valid, 1)
    await ctx.tick()
    ctx.set(dut.spikes_valid, 0)
    if gap:
        await ctx.tick().repeat(gap)


def read_array(ctx, view):
    """Read an ``ArrayLayout`` view, such as a thresholds output, as an int64 array."""
    return np.array([ctx.get(view[index]) for index in range(view.shape().length)],
                    dtype=np.int64)


def read_thresholds(ctx, dut):
    """Read ``dut.thresholds`` as an int64 array of raw thresholds."""
    return read_array(ctx, dut.thresholds)


def read_counts(ctx, dut):
    """Read ``dut.counts``, the live spike counters, as an int64 array."""
    return read_array(ctx, dut.counts)


def read_memory(ctx, memory, shape=None):
    """Read every row of an ``amaranth.lib.memory.Memory`` as an int64 array.

    ``shape`` reshapes the result, e.g. ``(n_pre, n_neurons)`` for a weight memory whose address
    is ``pre * n_neurons + post``.
    """
    rows = np.array([ctx.get(memory.data[address]) for address in range(memory.depth)],
                    dtype=np.int64)
    return rows if shape is None else rows.reshape(shape)


def assert_array_equal(actual, expected, *, field, context="", axes=("neuron",), limit=8):
    """Assert that a gateware array equals the golden model's, entry by entry.

    Parameters
    ----------
    actual, expected : array_like
        Values from the gateware and from the golden model.
    field : str
        Name of the compared quantity, e.g. ``"thresholds"``.
    context : str
        Where the values come from, e.g. ``"window 3"``; starts the failure message.
    axes : tuple of str
        Name of each array axis, e.g. ``("pre", "post")`` for a weight matrix.
    limit : int
        Largest number of differing entries that the message lists.
    """
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    prefix = f"{context}: " if context else ""
    assert actual.shape == expected.shape, (
        f"{prefix}{field} has shape {actual.shape} in the gateware but {expected.shape} in the "
        f"golden model")
    assert actual.ndim == len(axes), f"{prefix}{field} has {actual.ndim} axes, named {axes}"
    differences = np.argwhere(actual != expected)
    if len(differences) == 0:
        return
    lines = []
    for index in differences[:limit]:
        where = ", ".join(f"{axis} {i}" for axis, i in zip(axes, index, strict=True))
        index = tuple(index)
        lines.append(f"  {where}: gateware {actual[index]}, golden {expected[index]}")
    more = len(differences) - limit
    if more > 0:
        lines.append(f"  ... and {more} more")
    raise AssertionError(
        f"{prefix}{field} differs in {len(differences)} of {actual.size} entries\n"
        + "\n".join(lines))


def assert_value_equal(actual, expected, *, field, context=""):
    """Assert that a gateware scalar equals the golden model's, naming field and context."""
    prefix = f"{context}: " if context else ""
    assert int(actual) == int(expected), (
        f"{prefix}{field} is {int(actual)} in the gateware but {int(expected)} in the golden "
        f"model")
