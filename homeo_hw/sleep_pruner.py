"""Sleep consolidation of a weight memory: power-law decay and pruning, one weight per clock."""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .config import DECAY_FRAC_BITS, STRENGTH_FRAC_BITS, check_config
from .log2 import Exp2, Log2, log_width


__all__ = ["SleepPruner"]


class SleepPruner(wiring.Component):
    """Decay every weight of a weight memory by a power law of its magnitude and prune the weakest.

    Computes what :func:`homeo_hw.golden.sleep_pruner.prune_weights` computes, bit for bit, in
    two passes over the memory:

    1. The scan pass reads every weight and finds ``M = max|w|``. If ``M`` is 0 the pass ends
       there and the memory is not written at all.
    2. The decay pass reads every weight again and writes back ``sign(w) * d``. The full decay
       ``d'`` is computed in the log2 domain with Mitchell's piecewise-linear logarithm, as
       ``log2 d' = log2|w| + floor(e * (log2|w| - log2 M))`` with ``e = decay_exponent_raw / 16``.
       A decayed log below 0 gives ``d' = 0``. The blend with ``k = strength_raw / 16`` is
       ``d = |w| - floor(k * (|w| - d'))``, and ``d`` is set to 0 when it is below
       ``M >> prune_shift``. The exponent and strength are constant multiplications.

    Timing: ``start`` is accepted in a cycle where ``busy`` is low. From the next cycle ``busy`` is
    high for :attr:`pass_cycles` cycles, or for :attr:`scan_cycles` cycles when ``M`` is 0.
    Each pass reads address ``a`` in its ``a + 1``-th cycle, so both handle one weight per clock
    cycle. The scan pass then waits two cycles for the last magnitude to reach the maximum, and
    takes ``log2 M`` in its last cycle. The decay pass writes each address :attr:`write_latency`
    cycles after reading it. ``done`` is high in the cycle after the last busy cycle, when every
    write has completed. A ``start`` while ``busy`` is high is ignored.

    The read port must be synchronous, in the ``sync`` domain, with a latency of one cycle, as
    :meth:`amaranth.lib.memory.Memory.read_port` builds by default. The block never reads an
    address in the cycle that it writes it, so the port's transparency does not matter.

    Parameters
    ----------
    config : RegulatorConfig
        Supplies ``weight_width``, ``log_frac_bits``, ``decay_exponent_raw``, ``strength_raw``
        and ``prune_shift``.
    depth : int
        Number of weights in the memory.

    Members
    -------
    read : In(memory.ReadPort.Signature(addr_width=ceil_log2(depth), shape=signed(weight_width)))
        Read port of the weight memory. The block drives ``addr`` and ``en``.
    write : In(memory.WritePort.Signature(addr_width=ceil_log2(depth), shape=signed(weight_width)))
        Write port of the weight memory. The block drives ``addr``, ``data`` and ``en``.
    start : In(1)
        Start a pass.
    busy : Out(1)
        A pass is running. Low after reset.
    done : Out(1)
        One-cycle strobe after a pass: every weight has been written.
    pruned : Out(range(depth + 1))
        Number of nonzero weights that the pass set to 0. Cleared at ``start``, final from
        ``done`` until the next ``start``. Reset value 0.
    max_magnitude : Out(unsigned(weight_width))
        ``max|w|`` found by the scan pass, wide enough for ``|config.weight_min|``. Cleared at
        ``start``, final from the end of the scan pass until the next ``start``. Reset value 0.
    """

    def __init__(self, config, depth):
        check_config(config)
        if isinstance(depth, bool) or not isinstance(depth, int):
            raise TypeError(f"depth must be an integer, not {depth!r}")
        if depth < 1:
            raise ValueError(f"depth must be at least 1, not {depth}")
        self._config = config
        self._depth = depth

        port_args = dict(addr_width=ceil_log2(depth), shape=signed(config.weight_width))
        super().__init__({
            "read": In(memory.ReadPort.Signature(**port_args)),
            "write": In(memory.WritePort.Signature(**port_args)),
            "start": In(1),
            "busy": Out(1),
            "done": Out(1),
            "pruned": Out(range(depth + 1)),
            "max_magnitude": Out(unsigned(config.magnitude_width)),
        })

    @property
    def config(self):
        """Parameters the block was built from."""
        return self._config

    @property
    def depth(self):
        """Number of weights in the memory."""
        return self._depth

    @property
    def write_latency(self):
        """Cycles from a decay-pass read of an address to its write: 7.

        One cycle of read latency and six pipeline registers: after the magnitude, the log2, the
        decay exponent, the exp2, the blend, and the pruning that drives the write port.
        """
        return 7

    @property
    def scan_cycles(self):
        """Cycles of the scan pass: ``depth + 3``.

        ``depth`` reads, two cycles to fold the last magnitude into the maximum, and one to take
        ``log2 M``.
        """
        return self._depth + 3

    @property
    def decay_cycles(self):
        """Cycles of the decay pass: ``depth + write_latency``."""
        return self._depth + self.write_latency

    @property
    def pass_cycles(self):
        """Cycles that ``busy`` is high during a pass over nonzero weights.

        ``scan_cycles + decay_cycles``. When every weight is 0, ``busy`` is high for
        :attr:`scan_cycles` cycles only.
        """
        return self.scan_cycles + self.decay_cycles

    def elaborate(self, platform):
        m = Module()
        config = self._config
        width = config.weight_width
        frac_bits = config.log_frac_bits

        addr = Signal(range(self._depth))
        last_addr = addr == self._depth - 1
        m.d.comb += self.read.addr.eq(addr)

        # Stage 1 (read data valid), for both passes: the magnitude and sign of the weight.
        # The magnitude of weight_min needs every one of the weight_width unsigned bits.
        stage1_scan = Signal()
        stage1_decay = Signal()

        stage2_scan = Signal()
        stage2_decay = Signal()
        stage2_magnitude = Signal(unsigned(config.magnitude_width))
        stage2_negative = Signal()
        m.d.sync += [
            stage2_scan.eq(stage1_scan),
            stage2_decay.eq(stage1_decay),
            stage2_magnitude.eq(abs(self.read.data)),
            stage2_negative.eq(self.read.data[-1]),
        ]

        # Scan pass, stage 2: fold the magnitude into the maximum.
        with m.If(stage2_scan & (stage2_magnitude > self.max_magnitude)):
            m.d.sync += self.max_magnitude.eq(stage2_magnitude)

        m.submodules.max_log2 = max_log2 = Log2(width, frac_bits)
        log_max = Signal(unsigned(log_width(width, frac_bits)))
        threshold = self.max_magnitude >> config.prune_shift
        m.d.comb += max_log2.magnitude.eq(self.max_magnitude)

        # Decay pass, stage 2: the log2 of the magnitude. A magnitude of 0 takes the log of 1 and
        # is forced back to 0 in stage 6.
        m.submodules.weight_log2 = weight_log2 = Log2(width, frac_bits)
        m.d.comb += weight_log2.magnitude.eq(stage2_magnitude)

        stage3_valid = Signal()
        stage3_magnitude = Signal.like(stage2_magnitude)
        stage3_negative = Signal()
        stage3_log = Signal.like(log_max)
        m.d.sync += [
            stage3_valid.eq(stage2_decay),
            stage3_magnitude.eq(stage2_magnitude),
            stage3_negative.eq(stage2_negative),
            stage3_log.eq(weight_log2.log),
        ]

        # Stage 3: the log of the fully decayed magnitude, or a flag when it is below 0, that is,
        # when the value is below 1. relative <= 0 because no magnitude exceeds the maximum, and
        # the arithmetic shift rounds down.
        relative = stage3_log - log_max
        decayed_log = stage3_log + ((relative * config.decay_exponent_raw) >> DECAY_FRAC_BITS)

        stage4_valid = Signal()
        stage4_magnitude = Signal.like(stage2_magnitude)
        stage4_negative = Signal()
        stage4_log = Signal.like(log_max)
        stage4_below_one = Signal()
        m.d.sync += [
            stage4_valid.eq(stage3_valid),
            stage4_magnitude.eq(stage3_magnitude),
            stage4_negative.eq(stage3_negative),
            stage4_log.eq(decayed_log),
            stage4_below_one.eq(decayed_log < 0),
        ]

        # Stage 4: back to a magnitude, and how far the full decay moves it. For a nonzero
        # magnitude the decrement is never negative, because the decayed log is at most the
        # magnitude's log.
        m.submodules.decayed_exp2 = decayed_exp2 = Exp2(width, frac_bits)
        m.d.comb += decayed_exp2.log.eq(stage4_log)
        decayed = Signal(unsigned(width))
        with m.If(~stage4_below_one):
            m.d.comb += decayed.eq(decayed_exp2.value)

        stage5_valid = Signal()
        stage5_magnitude = Signal.like(stage2_magnitude)
        stage5_negative = Signal()
        stage5_decrement = Signal(unsigned(width))
        m.d.sync += [
            stage5_valid.eq(stage4_valid),
            stage5_magnitude.eq(stage4_magnitude),
            stage5_negative.eq(stage4_negative),
            stage5_decrement.eq(stage4_magnitude - decayed),
        ]

        # Stage 5: blend the full decay in by the strength.
        blend = (stage5_decrement * config.strength_raw) >> STRENGTH_FRAC_BITS

        stage6_valid = Signal()
        stage6_nonzero = Signal()
        stage6_negative = Signal()
        stage6_blended = Signal(unsigned(width))
        m.d.sync += [
            stage6_valid.eq(stage5_valid),
            stage6_nonzero.eq(stage5_magnitude != 0),
            stage6_negative.eq(stage5_negative),
            stage6_blended.eq(stage5_magnitude - blend),
        ]

        # Stage 6: prune and restore the sign. The sign and the pruning decision are
        # independent, so they are computed side by side.
        unpruned = Signal()
        m.d.comb += unpruned.eq(stage6_nonzero & (stage6_blended != 0) &
                                (stage6_blended >= threshold))
        signed_blended = Signal(signed(width))
        with m.If(stage6_negative):
            m.d.comb += signed_blended.eq(-stage6_blended)
        with m.Else():
            m.d.comb += signed_blended.eq(stage6_blended)

        stage7_valid = Signal()
        stage7_weight = Signal(signed(width))
        stage7_pruned = Signal()
        m.d.sync += [
            stage7_valid.eq(stage6_valid),
            stage7_weight.eq(Mux(unpruned, signed_blended, 0)),
            stage7_pruned.eq(stage6_nonzero & ~unpruned),
        ]

        # Stage 7: write back from registers, and count the pruned weights.
        write_addr = Signal.like(addr)
        m.d.comb += [
            self.write.addr.eq(write_addr),
            self.write.data.eq(stage7_weight),
            self.write.en.eq(stage7_valid),
        ]
        with m.If(stage7_valid):
            m.d.sync += write_addr.eq(write_addr + 1)
            with m.If(stage7_pruned):
                m.d.sync += self.pruned.eq(self.pruned + 1)

        m.d.sync += [
            stage1_scan.eq(0),
            stage1_decay.eq(0),
            self.done.eq(0),
        ]
        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [
                        addr.eq(0),
                        self.max_magnitude.eq(0),
                        self.pruned.eq(0),
                    ]
                    m.next = "SCAN"

            with m.State("SCAN"):
                m.d.sync += [
                    stage1_scan.eq(1),
                    addr.eq(addr + 1),
                ]
                with m.If(last_addr):
                    m.next = "SCAN_DRAIN"

            # The maximum is final once no scanned magnitude is left in the pipeline.
            with m.State("SCAN_DRAIN"):
                with m.If(~stage1_scan & ~stage2_scan):
                    m.d.sync += [
                        log_max.eq(max_log2.log),
                        addr.eq(0),
                        write_addr.eq(0),
                    ]
                    with m.If(self.max_magnitude == 0):
                        m.d.sync += self.done.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "DECAY"

            with m.State("DECAY"):
                m.d.sync += [
                    stage1_decay.eq(1),
                    addr.eq(addr + 1),
                ]
                with m.If(last_addr):
                    m.next = "DECAY_DRAIN"

            with m.State("DECAY_DRAIN"):
                with m.If(stage7_valid & (write_addr == self._depth - 1)):
                    m.d.sync += self.done.eq(1)
                    m.next = "IDLE"

        m.d.comb += [
            self.busy.eq(~fsm.ongoing("IDLE")),
            self.read.en.eq(fsm.ongoing("SCAN") | fsm.ongoing("DECAY")),
        ]
        return m
