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
    count : Out(unsigned(counter_width))
        Spikes counted in the current window, registered; reset value 0. Latency: a spike
        presented in cycle ``t`` is in ``count`` from cycle ``t + 1``.
    next_count : Out(unsigned(counter_width))
        ``count`` plus this cycle's spike, saturated; combinational, latency 0. It ignores
        ``clear``, so it is the window's final count in a cycle with ``clear`` high.
    """

    def __init__(self, config):
        check_config(config)
        self._config = config
        super().__init__({
            "spike": In(1),
            "en": In(1),
            "clear": In(1),
            "count": Out(unsigned(config.counter_width)),
            "next_count": Out(unsigned(config.counter_width)),
        })

    @property
    def config(self):
        """Configuration the counter was built from."""
        return self._config

    @property
    def latency(self):
        """Cycles from a spike on ``spike`` to its effect on ``count``."""
        return 1

    def elaborate(self, platform):
        m = Module()

        counting = Signal()
        m.d.comb += [
            counting.eq(self.en & self.spike & (self.count != self._config.counter_max)),
            self.next_count.eq(Mux(counting, self.count + 1, self.count)),
        ]

        with m.If(self.clear):
            m.d.sync += self.count.eq(0)
        with m.Else():
            m.d.sync += self.count.eq(self.next_count)

        return m
