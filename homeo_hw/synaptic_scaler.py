"""A pass of synaptic scaling over a weight memory, one weight per clock cycle."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .config import check_config, check_n_pre
from .weight_scaler import WeightScaler


__all__ = ["SynapticScaler", "class_layout"]


def class_layout():
    """Layout of a neuron's class in a window: ``above`` (over-active) and ``below``
    (under-active) the dead band."""
    return data.StructLayout({"above": 1, "below": 1})


class SynapticScaler(wiring.Component):
    """Scale every weight of a weight memory by its post-synaptic neuron's class.

    The memory contains ``n_pre * config.n_neurons`` signed weights. The weight from
    pre-synaptic neuron ``pre`` onto neuron ``post`` is at address
    ``pre * config.n_neurons + post``, as in a row-major NumPy array of shape
    ``(n_pre, n_neurons)``. A pass reads each address in turn,
    scales the weight with a :class:`WeightScaler` (down for an over-active neuron, up for an
    under-active one, saturating, rounded toward zero) and writes it back, as
    :func:`homeo_hw.golden.weight_scaler.scale_weights` does.

    The classes come from a second memory of ``n_neurons`` words of :func:`class_layout`, word
    ``post`` for neuron ``post``. The block reads each weight's class from it in the cycle that it
    reads the weight, so both arrive together. The class memory must not change while ``busy``
    is high: the parent holds its writers back during a pass.

    Timing: ``start`` is accepted in a cycle where ``busy`` is low. From the next cycle ``busy``
    is high for :attr:`pass_cycles` cycles: the block reads address ``a`` in the ``a + 1``-th of
    them and writes it :attr:`write_latency` cycles later, so it handles one weight per clock
    cycle. ``done`` is high in the cycle after the last write, when ``busy`` is low again and
    every write has completed. A ``start`` while ``busy`` is high is ignored.

    Both read ports must be synchronous, in the ``sync`` domain, with a latency of one cycle, as
    :meth:`amaranth.lib.memory.Memory.read_port` builds by default. The block never reads a
    weight in the cycle that it writes it, so the ports' transparency does not matter.

    Parameters
    ----------
    config : RegulatorConfig
        Supplies ``n_neurons``, ``weight_width`` and ``scale_shift``.
    n_pre : int
        Number of pre-synaptic neurons, the rows of the weight matrix.

    Members
    -------
    read : In(memory.ReadPort.Signature(addr_width=ceil_log2(depth), shape=signed(weight_width)))
        Read port of the weight memory. The block drives ``addr`` and ``en``.
    write : In(memory.WritePort.Signature(addr_width=ceil_log2(depth), shape=signed(weight_width)))
        Write port of the weight memory. The block drives ``addr``, ``data`` and ``en``.
    classes : In(memory.ReadPort.Signature(addr_width=ceil_log2(n_neurons), shape=class_layout()))
        Read port of the class memory. The block drives ``addr`` and ``en``. A neuron with
        ``above`` high has its weights scaled down, one with ``below`` high scaled up; with both
        bits high, or neither, it keeps its weights.
    start : In(1)
        Start a pass.
    busy : Out(1)
        A pass is running. Low after reset.
    done : Out(1)
        One-cycle strobe after a pass: every weight has been written.
    """

    def __init__(self, config, n_pre):
        check_config(config)
        check_n_pre(n_pre)
        self._config = config
        self._n_pre = n_pre

        port_args = dict(addr_width=ceil_log2(self.depth), shape=signed(config.weight_width))
        super().__init__({
            "read": In(memory.ReadPort.Signature(**port_args)),
            "write": In(memory.WritePort.Signature(**port_args)),
            "classes": In(memory.ReadPort.Signature(
                addr_width=ceil_log2(config.n_neurons), shape=class_layout())),
            "start": In(1),
            "busy": Out(1),
            "done": Out(1),
        })

    @property
    def config(self):
        """Parameters the block was built from."""
        return self._config

    @property
    def n_pre(self):
        """Number of pre-synaptic neurons."""
        return self._n_pre

    @property
    def depth(self):
        """Number of weights in the memory, ``n_pre * config.n_neurons``."""
        return self._n_pre * self._config.n_neurons

    @property
    def write_latency(self):
        """Cycles from reading an address to writing it back: 3.

        One cycle of read latency, and registers before and after the :class:`WeightScaler`.
        """
        return 3

    @property
    def pass_cycles(self):
        """Cycles that ``busy`` is high during one pass: ``depth + write_latency``."""
        return self.depth + self.write_latency

    def elaborate(self, platform):
        m = Module()
        config = self._config
        n_neurons = config.n_neurons

        # Read stage. The post-neuron counter follows the address, so no division is needed.
        reading = Signal()
        addr = Signal(range(self.depth))
        post = Signal(range(n_neurons))
        m.d.comb += [
            self.read.addr.eq(addr),
            self.read.en.eq(reading),
            self.classes.addr.eq(post),
            self.classes.en.eq(reading),
        ]

        # Read data stage: the data arrives one cycle after its address and is registered, so
        # that the memory's slow clock-to-output time and the scaler's adder are in different
        # cycles. The class of the weight's post neuron arrives with it.
        loading = Signal()
        load_addr = Signal.like(addr)
        m.d.sync += [
            loading.eq(reading),
            load_addr.eq(addr),
        ]

        # Scale stage.
        scaling = Signal()
        scale_addr = Signal.like(addr)
        weight = Signal(signed(config.weight_width))
        up = Signal()
        down = Signal()
        m.d.sync += [
            scaling.eq(loading),
            scale_addr.eq(load_addr),
            weight.eq(self.read.data),
            up.eq(self.classes.data.below),
            down.eq(self.classes.data.above),
        ]

        m.submodules.weight_scaler = weight_scaler = WeightScaler(config)
        m.d.comb += [
            weight_scaler.weight.eq(weight),
            weight_scaler.up.eq(up),
            weight_scaler.down.eq(down),
        ]

        # Write stage: the memory's write port is driven from registers.
        writing = Signal()
        write_addr = Signal.like(addr)
        write_data = Signal(signed(config.weight_width))
        m.d.sync += [
            writing.eq(scaling),
            write_addr.eq(scale_addr),
            write_data.eq(weight_scaler.scaled),
            self.done.eq(writing & (write_addr == self.depth - 1)),
        ]
        m.d.comb += [
            self.write.addr.eq(write_addr),
            self.write.data.eq(write_data),
            self.write.en.eq(writing),
            self.busy.eq(reading | loading | scaling | writing),
        ]

        with m.If(reading):
            m.d.sync += addr.eq(addr + 1)
            with m.If(post == n_neurons - 1):
                m.d.sync += post.eq(0)
            with m.Else():
                m.d.sync += post.eq(post + 1)
            with m.If(addr == self.depth - 1):
                m.d.sync += reading.eq(0)
        with m.Elif(self.start & ~self.busy):
            m.d.sync += [
                reading.eq(1),
                addr.eq(0),
                post.eq(0),
            ]
        return m
