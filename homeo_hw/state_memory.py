"""Per-neuron state memory with one read and one write per cycle, in block RAM or in SPRAM.

A time-multiplexed regulator reads one neuron's state word and writes one back in every clock
cycle. :class:`StateMemory` gives it that simple dual-port interface with a fixed read latency of
four cycles, whatever the storage: iCE40 block RAM (SB_RAM40_4K, inferred by Yosys from
:class:`amaranth.lib.memory.Memory`), or on the iCE40UP5K its single-port SPRAM (SB_SPRAM256KA),
which Yosys does not infer and which needs explicit instances.

A single-port RAM serves a read or a write per cycle, not both. The banked implementation keeps
two copies of the address space in two banks of SPRAM and a live value table (LVT), one bit per
address in block RAM, that records which bank holds the newest value of each address. A read goes
to the bank that the table names; a write in the same cycle goes to the other bank and updates the
table. This is the live value table design of LaForest and Steffan (ACM/SIGDA FPGA symposium,
2010), with one read and one write port.
"""

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, Mux, Shape, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import Out


__all__ = [
    "StateMemory", "spram_count", "choose_implementation", "IMPLEMENTATIONS",
    "SPRAM_DEPTH", "SPRAM_WIDTH", "UP5K_SPRAM_COUNT",
]


#: Words in one SB_SPRAM256KA.
SPRAM_DEPTH = 16384
#: Bits per word of one SB_SPRAM256KA.
SPRAM_WIDTH = 16
#: SB_SPRAM256KA blocks on an iCE40UP5K.
UP5K_SPRAM_COUNT = 4

# Largest depth of one iCE40 block RAM, in its 2048 x 2 configuration.
_BLOCK_RAM_DEPTH = 2048

#: Names of the implementations, see :class:`StateMemory`.
IMPLEMENTATIONS = ("simple", "banked")


def _is_up5k(platform):
    device = getattr(platform, "device", None)
    return isinstance(device, str) and device.upper() == "ICE40UP5K"


def choose_implementation(implementation, platform):
    """Return ``"simple"`` or ``"banked"``: ``implementation`` if given, else the default for
    ``platform`` (``"banked"`` on an iCE40UP5K, else ``"simple"``)."""
    if implementation is not None:
        return implementation
    return "banked" if _is_up5k(platform) else "simple"


def spram_count(width, depth):
    """Count the SB_SPRAM256KA blocks that the banked implementation needs.

    Each of the two banks holds the whole address space, tiled from 16384 x 16-bit blocks.
    """
    columns = -(-width // SPRAM_WIDTH)
    rows = -(-depth // SPRAM_DEPTH)
    return 2 * columns * rows


class StateMemory(wiring.Component):
    """Memory of ``depth`` words with one synchronous read port and one write port.

    The read port has a latency of :attr:`read_latency` = 4 cycles: an address presented with
    ``read.en`` high in cycle ``t`` returns its word on ``read.data`` in cycle ``t + 4``, and
    ``read.data`` is undefined in other cycles. The word reflects every write presented in cycles
    up to and including ``t``. Whether it reflects a write of the same address in cycles ``t + 1``
    to ``t + 3`` depends on the implementation and on other traffic. In the simple implementation
    a write of the same address in cycle ``t + 3`` may make the whole word undefined on hardware,
    because the block RAM reads and writes that address in the same cycle (in simulation it is
    the word before that write). A pipeline that reads, modifies and writes back must therefore
    forward the writes of cycles ``t + 1`` to ``t + 3``, whole words for the simple
    implementation, and then it computes the same with either implementation. The memory has no
    reset, so its contents are undefined until written.

    Parameters
    ----------
    shape : shape-like
        Shape of a word, e.g. a :class:`~amaranth.lib.data.StructLayout`.
    depth : int
        Number of words.
    implementation : str or None
        ``"simple"``: :class:`~amaranth.lib.memory.Memory` rows of at most 2048 words (block RAM
        on iCE40), with ``read.data`` straight from the block RAM.
        ``"banked"``: two single-port banks and a live value table; on an iCE40UP5K platform the
        banks are SB_SPRAM256KA instances, otherwise (including simulation, where the platform is
        None) behavioural single-port memories with the same timing as SPRAM, which puts
        undefined data (all ones) on a bank's output in a cycle that writes it.
        None (the default): ``"banked"`` on an iCE40UP5K platform, else ``"simple"``.

    Members
    -------
    read : ``Out(memory.ReadPort.Signature(addr_width=..., shape=shape))``
        Read port. ``read.en`` defaults to 1. The simple implementation reads in every cycle and
        ignores it.
    write : ``Out(memory.WritePort.Signature(addr_width=..., shape=shape))``
        Write port; a word is written at the end of a cycle with ``write.en`` high.

    Raises
    ------
    ValueError
        From :meth:`elaborate`, if the banked implementation on an iCE40UP5K needs more than its
        four SB_SPRAM256KA blocks.
    """

    def __init__(self, shape, depth, *, implementation=None):
        shape_width = Shape.cast(shape).width
        if isinstance(depth, bool) or not isinstance(depth, int):
            raise TypeError(f"depth must be an integer, not {depth!r}")
        if depth < 1:
            raise ValueError(f"depth must be at least 1, not {depth}")
        if shape_width < 1:
            raise ValueError(f"shape must be at least 1 bit wide, not {shape!r}")
        if implementation is not None and implementation not in IMPLEMENTATIONS:
            raise ValueError(
                f"implementation must be one of {', '.join(map(repr, IMPLEMENTATIONS))} or None, "
                f"not {implementation!r}")
        self._shape = shape
        self._depth = depth
        self._implementation = implementation
        addr_width = max(1, (depth - 1).bit_length())
        super().__init__({
            "read": Out(memory.ReadPort.Signature(addr_width=addr_width, shape=shape)),
            "write": Out(memory.WritePort.Signature(addr_width=addr_width, shape=shape)),
        })

    @property
    def shape(self):
        """Shape of a word."""
        return self._shape

    @property
    def depth(self):
        """Number of words."""
        return self._depth

    @property
    def width(self):
        """Bits per word."""
        return Shape.cast(self._shape).width

    @property
    def read_latency(self):
        """Cycles from a read address to its data: 4."""
        return 4

    def implementation_for(self, platform):
        """Return ``"simple"`` or ``"banked"``, the implementation used on ``platform``."""
        return choose_implementation(self._implementation, platform)

    def elaborate(self, platform):
        if self.implementation_for(platform) == "simple":
            return self._elaborate_simple()
        return self._elaborate_banked(platform)

    def _elaborate_simple(self):
        m = Module()

        # Three address registers and a data register give the banked implementation's latency.
        # Synthesis merges the address registers with identical ones of a user that pipelines
        # the address too, as TDMRegulator does. Yosys merges the data register into the block
        # RAM's read port, which reads in cycle t + 3, so the data comes straight from the block
        # RAM.
        early_addr = Signal.like(self.read.addr)
        middle_addr = Signal.like(self.read.addr)
        late_addr = Signal.like(self.read.addr)
        m.d.sync += [
            early_addr.eq(self.read.addr),
            middle_addr.eq(early_addr),
            late_addr.eq(middle_addr),
        ]

        # Rows of at most 2048 words map onto block RAMs in their 2048 x 2 configuration, which
        # needs no bit-write masks. Yosys would give a deeper memory one block RAM per bit,
        # written through the bit masks of the 256 x 16 configuration, and the mask decoding
        # costs more logic than one multiplexer between rows.
        depth = self._depth
        row_depth = min(depth, _BLOCK_RAM_DEPTH)
        low_width = max(1, (row_depth - 1).bit_length())
        n_rows = -(-depth // row_depth)
        row_data = []
        for row in range(n_rows):
            # A read and a write of the same address in the same cycle give an undefined word
            # (no_rw_check), so that Yosys adds no logic to emulate either order.
            # NOTE: simulation returns the old word instead, so no test catches a user that
            # relies on it.
            row_words = min(row_depth, depth - row * row_depth)
            storage = memory.Memory(shape=self.width, depth=row_words, init=[],
                                    attrs={"no_rw_check": 1})
            m.submodules[f"storage{row}" if n_rows > 1 else "storage"] = storage
            write_port = storage.write_port()
            read_port = storage.read_port(domain="comb")
            selected = (self.write.addr[low_width:] == row) if n_rows > 1 else 1
            m.d.comb += [
                write_port.addr.eq(self.write.addr),
                write_port.data.eq(self.write.data),
                write_port.en.eq(self.write.en & selected),
                read_port.addr.eq(late_addr),
            ]
            # Without a reset the register merges into the block RAM. Yosys still emulates its
            # initial value of 0, with a LUT per bit.
            data = Signal(self.width, name=f"row{row}_data", reset_less=True)
            m.d.sync += data.eq(read_port.data)
            row_data.append(data)

        if n_rows > 1:
            row_last = Signal(range(n_rows))
            m.d.sync += row_last.eq(late_addr[low_width:])
            m.d.comb += self.read.data.eq(Cat(*row_data).word_select(row_last, self.width))
        else:
            m.d.comb += self.read.data.eq(row_data[0])
        return m

    def _elaborate_banked(self, platform):
        width, depth = self.width, self._depth
        use_spram = _is_up5k(platform)
        if use_spram and spram_count(width, depth) > UP5K_SPRAM_COUNT:
            raise ValueError(
                f"a banked state memory of {depth} words of {width} bits needs "
                f"{spram_count(width, depth)} SB_SPRAM256KA blocks, but the iCE40UP5K has "
                f"{UP5K_SPRAM_COUNT}; use words of at most {SPRAM_WIDTH} bits and at most "
                f"{SPRAM_DEPTH * UP5K_SPRAM_COUNT // 2 // -(-width // SPRAM_WIDTH)} words")

        m = Module()

        # Cycle t registers the address, cycle t + 1 looks up the bank in the table, cycle t + 2
        # registers it and cycle t + 3 reads the bank. A write of the same address in cycle t + 2
        # may land in that bank and then be read too, which the contract allows.
        lookup_addr = Signal.like(self.read.addr)
        lookup_pending = Signal()
        table_addr = Signal.like(self.read.addr)
        table_pending = Signal()
        read_addr = Signal.like(self.read.addr)
        read_pending = Signal()
        read_bank = Signal()
        write_bank = Signal()
        looked_up = self._elaborate_live_value_table(m, lookup_addr, lookup_pending, write_bank)
        m.d.sync += [
            lookup_addr.eq(self.read.addr),
            lookup_pending.eq(self.read.en),
            table_addr.eq(lookup_addr),
            table_pending.eq(lookup_pending),
            read_addr.eq(table_addr),
            read_pending.eq(table_pending),
            read_bank.eq(looked_up),
        ]

        # A write goes to the bank that this cycle's read does not use, so no bank gets two
        # accesses in one cycle. The table records where the newest copy is.
        m.d.comb += write_bank.eq(read_pending & ~read_bank)

        bank_data = []
        for index in range(2):
            bank = _SinglePortBank(width, depth, use_spram=use_spram)
            m.submodules[f"bank{index}"] = bank
            reading = read_pending & (read_bank == index)
            writing = self.write.en & (write_bank == index)
            m.d.comb += [
                bank.addr.eq(Mux(writing, self.write.addr, read_addr)),
                bank.data_in.eq(self.write.data),
                bank.write_en.eq(writing),
                bank.enable.eq(reading | writing),
            ]
            bank_data.append(bank.data_out)

        read_bank_last = Signal()
        m.d.sync += read_bank_last.eq(read_bank)
        m.d.comb += self.read.data.eq(Mux(read_bank_last, bank_data[1], bank_data[0]))
        return m

    def _elaborate_live_value_table(self, m, lookup_addr, lookup_en, write_bank):
        """Build the table of the bank that contains each address's newest word.

        Returns the bank of the address looked up in the previous cycle, as of the writes up to
        and including that cycle. The read port is transparent because Yosys emulates that with
        fewer flip-flops than the old value on iCE40 block RAM; either would do, because a bank
        named by the older table entry still contains that older word or a newer one, never a
        word older than the read's own cycle. The table is split into blocks of 2048 x 1 bit, which
        Yosys maps to one SB_RAM40_4K each in its 2048 x 2 configuration; a single deeper 1-bit
        memory would use the 256 x 16 configuration with bit-write masks, whose decoding costs
        far more logic.
        """
        depth = self._depth
        block_depth = min(depth, _BLOCK_RAM_DEPTH)
        low_width = max(1, (block_depth - 1).bit_length())
        n_blocks = -(-depth // block_depth)
        read_high = lookup_addr[low_width:]
        write_high = self.write.addr[low_width:]

        outputs = []
        for index in range(n_blocks):
            block = memory.Memory(shape=1, depth=min(block_depth, depth - index * block_depth),
                                  init=[])
            m.submodules[f"live_value_table{index}"] = block
            block_write = block.write_port()
            block_read = block.read_port(transparent_for=(block_write,))
            selected = (write_high == index) if n_blocks > 1 else 1
            m.d.comb += [
                block_write.addr.eq(self.write.addr),
                block_write.data.eq(write_bank),
                block_write.en.eq(self.write.en & selected),
                block_read.addr.eq(lookup_addr),
                block_read.en.eq(lookup_en),
            ]
            outputs.append(block_read.data)

        block_last = Signal(range(n_blocks))
        if n_blocks > 1:
            m.d.sync += block_last.eq(read_high)
        # A bit select builds a balanced multiplexer tree.
        return Cat(*outputs).bit_select(block_last, 1)


class _SinglePortBank(wiring.Component):
    """Single-port RAM with SPRAM timing: a read's data appears in the next cycle and stays until
    the next access. A write makes the output undefined.

    With ``use_spram`` it tiles SB_SPRAM256KA instances, otherwise it is a behavioural model that
    drives all ones after a write, so that a design relying on that output fails in simulation.
    """

    def __init__(self, width, depth, *, use_spram):
        self._width = width
        self._depth = depth
        self._use_spram = use_spram
        addr_width = max(1, (depth - 1).bit_length())
        super().__init__({
            "addr": wiring.In(addr_width),
            "data_in": wiring.In(width),
            "write_en": wiring.In(1),
            "enable": wiring.In(1),
            "data_out": wiring.Out(width),
        })

    def elaborate(self, platform):
        if self._use_spram:
            return self._elaborate_spram()
        return self._elaborate_model()

    def _elaborate_model(self):
        m = Module()
        m.submodules.storage = storage = memory.Memory(
            shape=self._width, depth=self._depth, init=[])
        write_port = storage.write_port()
        read_port = storage.read_port(domain="comb")
        m.d.comb += [
            write_port.addr.eq(self.addr),
            write_port.data.eq(self.data_in),
            write_port.en.eq(self.enable & self.write_en),
            read_port.addr.eq(self.addr),
        ]
        with m.If(self.enable):
            with m.If(self.write_en):
                m.d.sync += self.data_out.eq(Const(-1, self._width))
            with m.Else():
                m.d.sync += self.data_out.eq(read_port.data)
        return m

    def _elaborate_spram(self):
        # NOTE: this path is checked by synthesis and place and route only. The behavioural model
        # replaces it in simulation, and no SB_SPRAM256KA model has been simulated with it.
        m = Module()
        columns = -(-self._width // SPRAM_WIDTH)
        rows = -(-self._depth // SPRAM_DEPTH)
        row_select = self.addr[SPRAM_DEPTH.bit_length() - 1:] if rows > 1 else Const(0, 1)
        row_last = Signal(range(rows))
        with m.If(self.enable & ~self.write_en):
            m.d.sync += row_last.eq(row_select)

        address = Cat(self.addr, Const(0, 14))[:14]
        data_in = Cat(self.data_in, Const(0, columns * SPRAM_WIDTH - self._width))
        row_outputs = []
        for row in range(rows):
            outputs = []
            for column in range(columns):
                out = Signal(SPRAM_WIDTH, name=f"spram_r{row}_c{column}_out")
                m.submodules[f"spram_r{row}_c{column}"] = Instance(
                    "SB_SPRAM256KA",
                    i_ADDRESS=address,
                    i_DATAIN=data_in[column * SPRAM_WIDTH:(column + 1) * SPRAM_WIDTH],
                    i_MASKWREN=Const(0b1111, 4),
                    i_WREN=self.write_en,
                    i_CHIPSELECT=self.enable & (row_select == row),
                    i_CLOCK=ClockSignal("sync"),
                    i_STANDBY=Const(0, 1),
                    i_SLEEP=Const(0, 1),
                    i_POWEROFF=Const(1, 1),
                    o_DATAOUT=out,
                )
                outputs.append(out)
            row_outputs.append(Cat(*outputs)[:self._width])

        data_out = row_outputs[0]
        for row in range(1, rows):
            data_out = Mux(row_last == row, row_outputs[row], data_out)
        m.d.comb += self.data_out.eq(data_out)
        return m

