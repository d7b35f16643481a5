"""Dead-band classification of one neuron's window count."""

from amaranth.hdl import Module, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config import check_config


__all__ = ["MarginComparator"]


class MarginComparator(wiring.Component):
    """Classify a window count as above, inside or below the dead band.

    ``above = count > target_count + margin`` and ``below = count < target_count - margin``; a
    count inside the band raises neither. This matches
    :func:`homeo_hw.golden.margin_comparator.classify`. Both bounds are constants, so each output
    is one comparison with a constant.

    Parameters
    ----------
    config : RegulatorConfig
        Supplies ``counter_width``, ``upper_bound`` and ``lower_bound``.

    Members
    -------
    count : In(unsigned(counter_width))
        Spike count of a finished window.
    above : Out(1)
        The neuron is over-active. Combinational, latency 0.
    below : Out(1)
        The neuron is under-active. Combinational, latency 0. Never high together with ``above``.
    """

    def __init__(self, config):
        check_config(config)
        self._config = config
        super().__init__({
            "count": In(unsigned(config.counter_width)),
            "above": Out(1),
            "below": Out(1),
        })

    @property
    def config(self):
        """Configuration the comparator was built from."""
        return self._config

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [
            self.above.eq(self.count > self._config.upper_bound),
            self.below.eq(self.count < self._config.lower_bound),
        ]
        return m
