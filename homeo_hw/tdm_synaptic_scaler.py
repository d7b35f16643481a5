"""Synaptic scaling for the time-multiplexed regulator, which keeps the classes in its memory."""

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .config import check_config, check_n_pre
from .tdm_regulator import readout_layout
from .weight_scaler import WeightScaler


__all__ = ["TDMSynapticScaler"]


class TDMSynapticScaler(wiring.Component):
    """Scale every weight of a weight memory by its post-synaptic neuron's class, one per cycle.

    The weight memory contains ``n_pre * n_neurons`` signed weights, the weight from ``pre`` onto
    ``post`` at address ``pre * n_neurons + post``, as for the parallel regulator. The classes
    live in a :class:`~.tdm_regulator.TDMRegulator`'s state memory, so the scaler requests the
    class of each weight's post neuron on ``class_request`` (connect it to the regulator's
    ``threshold_request``) and takes the answer from ``class_valid`` and ``class_response``
    (connect them to ``readout_valid`` and ``readout``). It issues the weight read
    ``response_latency - 1`` cycles after the request is accepted, so that the weight and the
    class arrive together; a :class:`~.weight_scaler.WeightScaler` scales the weight (down for
    an over-active neuron, up for an under-active one) and the next cycle writes it back.

    While a pass runs, its requests take the regulator's read port in every cycle, so the
    regulator accepts no events: no window can end, and every weight is scaled with the classes of
    the window completed last before the pass's first request. A pass that starts during a sweep
    waits for it. The pass takes ``n_pre * n_neurons + response_latency + 1`` cycles when the
    requests are accepted at once.

    Parameters
    ----------
    config : RegulatorConfig
        Supplies ``n_neurons``, ``weight_width`` and ``scale_shift``.
    n_pre : int
        Number of pre-synaptic neurons, the rows of the weight matrix.
    response_latency : int
        Cycles from an accepted request to its response: the regulator's
        ``threshold_read_latency``. At least 1.

    Members
    -------
    class_request : ``Out(stream.Signature(unsigned(index_width)))``
        Post-synaptic neuron whose class is needed.
    class_valid : ``In(1)``
        The class of the request accepted ``response_latency`` cycles ago is on
        ``class_response``.
    class_response : ``In(readout_layout(config))``
        Class flags (and threshold, unused) of the requested neuron.
    read : ``In(memory.ReadPort.Signature(addr_width=ceil_log2(depth), shape=...))``
        Read port of the weight memory, synchronous with a latency of one cycle. The scaler
        drives ``addr`` and ``en``.
    write : ``In(memory.WritePort.Signature(addr_width=ceil_log2(depth), shape=...))``
        Write port of the weight memory.
    start : ``In(1)``
        Start a pass; ignored while ``busy`` is high.
    busy : ``Out(1)``
        A pass is running, from the cycle after ``start`` until its last write. Low after reset.
    done : ``Out(1)``
        One-cycle strobe in the cycle after the last write.
    """

    def __init__(self, config, n_pre, *, response_latency):
        check_config(config)
        check_n_pre(n_pre)
        if isinstance(response_latency, bool) or not isinstance(response_latency, int):
            raise TypeError(f"response_latency must be an integer, not {response_latency!r}")
        if response_latency < 1:
            raise ValueError(f"response_latency must be at least 1 cycle, not {response_latency}")
        self._config = config
        self._n_pre = n_pre
        self._response_latency = response_latency
        depth = n_pre * config.n_neurons
        ports = {"addr_width": ceil_log2(depth), "shape": signed(config.weight_width)}
        super().__init__({
            "class_request": Out(stream.Signature(
                unsigned(max(1, (config.n_neurons - 1).bit_length())))),
            "class_valid": In(1),
            "class_response": In(readout_layout(config)),
            "read": In(memory.ReadPort.Signature(**ports)),
            "write": In(memory.WritePort.Signature(**ports)),
            "start": In(1),
            "busy": Out(1),
            "done": Out(1),
        })

    @property
    def depth(self):
        """Number of weights: ``n_pre * n_neurons``."""
        return self._n_pre * self._config.n_neurons

    @property
    def pass_cycles(self):
        """Cycles of ``busy`` in a pass whose requests are all accepted at once."""
        return self.depth + self._response_latency + 1

    def elaborate(self, platform):
        m = Module()
        n = self._config.n_neurons
        depth = self.depth

        # Request stage: one post neuron per accepted request, addresses in order.
        requesting = Signal()
        addr = Signal(range(depth))
        post = Signal(range(n))
        m.d.comb += [
            self.class_request.valid.eq(requesting),
            self.class_request.payload.eq(post),
        ]
        accepted = Signal()
        m.d.comb += accepted.eq(self.class_request.valid & self.class_request.ready)
        with m.If(accepted):
            m.d.sync += addr.eq(addr + 1)
            with m.If(post == n - 1):
                m.d.sync += post.eq(0)
            with m.Else():
                m.d.sync += post.eq(post + 1)
            with m.If(addr == depth - 1):
                m.d.sync += requesting.eq(0)
        with m.Elif(self.start & ~self.busy):
            m.d.sync += [
                requesting.eq(1),
                addr.eq(0),
                post.eq(0),
            ]

        # Each accepted address waits response_latency - 1 cycles before its weight is read, so
        # that the weight arrives with the class.
        delayed_valid, delayed_addr = accepted, addr
        in_flight = []
        for stage in range(self._response_latency):
            valid = Signal(name=f"pending{stage + 1}_valid")
            stage_addr = Signal(range(depth), name=f"pending{stage + 1}_addr")
            m.d.sync += [
                valid.eq(delayed_valid),
                stage_addr.eq(delayed_addr),
            ]
            in_flight.append(valid)
            if stage == self._response_latency - 2:
                m.d.comb += [
                    self.read.addr.eq(stage_addr),
                    self.read.en.eq(valid),
                ]
            delayed_valid, delayed_addr = valid, stage_addr
        if self._response_latency == 1:
            m.d.comb += [
                self.read.addr.eq(addr),
                self.read.en.eq(accepted),
            ]

        # Scale as the class arrives, and write back one cycle later.
        m.submodules.weight_scaler = weight_scaler = WeightScaler(self._config)
        m.d.comb += [
            weight_scaler.weight.eq(self.read.data),
            weight_scaler.up.eq(self.class_response.below),
            weight_scaler.down.eq(self.class_response.above),
        ]
        writing = Signal()
        write_addr = Signal(range(depth))
        write_data = Signal(signed(self._config.weight_width))
        m.d.sync += [
            writing.eq(self.class_valid & delayed_valid),
            write_addr.eq(delayed_addr),
            write_data.eq(weight_scaler.scaled),
            self.done.eq(writing & (write_addr == depth - 1)),
        ]
        m.d.comb += [
            self.write.addr.eq(write_addr),
            self.write.data.eq(write_data),
            self.write.en.eq(writing),
        ]

        active = requesting | writing
        for valid in in_flight:
            active = active | valid
        m.d.comb += self.busy.eq(active)
        return m
