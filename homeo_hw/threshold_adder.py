"""Saturating update of one neuron's threshold at the end of a window."""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config import DEADBAND, check_config


__all__ = ["ThresholdAdder"]


class ThresholdAdder(wiring.Component):
    """Compute a neuron's next threshold from its window count or class.

    With ``config.update_rule == "deadband"`` the threshold rises by ``threshold_step`` when
    ``above`` is high and falls by it when ``below`` is high, and ``count`` is unused. With
    ``"proportional"`` it changes by ``(count - target_count) / 2 ** proportional_shift`` rounded
    towards zero, and ``above`` and ``below`` are unused; a negative shift is the exact
    ``(count - target_count) << -proportional_shift``. Both rules compute the sum in a signed
    width that cannot overflow and then clamp it to ``[threshold_floor, threshold_ceiling]``, so
    a threshold never wraps. This matches :func:`homeo_hw.golden.threshold_adder.update_thresholds`.

    Parameters
    ----------
    config : RegulatorConfig
        Supplies the threshold format and limits, the update rule and its constants.

    Members
    -------
    threshold : In(unsigned(threshold_width))
        Current raw threshold.
    count : In(unsigned(counter_width))
        Spike count of the finished window.
    above : In(1)
        The window's count is above the dead band.
    below : In(1)
        The window's count is below the dead band.
    next_threshold : Out(unsigned(threshold_width))
        Updated raw threshold. Combinational, latency 0.
    """

    def __init__(self, config):
        check_config(config)
        self._config = config
        super().__init__({
            "threshold": In(unsigned(config.threshold_width)),
            "count": In(unsigned(config.counter_width)),
            "above": In(1),
            "below": In(1),
            "next_threshold": Out(unsigned(config.threshold_width)),
        })

    @property
    def config(self):
        """Configuration the adder was built from."""
        return self._config

    @property
    def delta_width(self):
        """Width of the signed threshold change, for either rule."""
        config = self._config
        proportional = config.counter_width + 1 + max(0, -config.proportional_shift)
        return max(config.threshold_width + 1, proportional)

    def elaborate(self, platform):
        m = Module()
        config = self._config

        delta = Signal(signed(self.delta_width))
        if config.update_rule == DEADBAND:
            with m.If(self.above):
                m.d.comb += delta.eq(config.threshold_step)
            with m.Elif(self.below):
                m.d.comb += delta.eq(-config.threshold_step)
        else:
            # The unsigned difference wraps, but its low counter_width + 1 bits are the signed
            # error, because |count - target_count| <= counter_max.
            error = Signal(signed(config.counter_width + 1))
            m.d.comb += error.eq(self.count - config.target_count)
            if config.proportional_shift > 0:
                # Adding 2**shift - 1 to a negative error before the arithmetic shift turns its
                # rounding towards negative infinity into rounding towards zero.
                bias = (1 << config.proportional_shift) - 1
                biased = Signal(signed(config.counter_width + 1 + config.proportional_shift))
                m.d.comb += biased.eq(error + Mux(error < 0, bias, 0))
                m.d.comb += delta.eq(biased >> config.proportional_shift)
            elif config.proportional_shift == 0:
                m.d.comb += delta.eq(error)
            else:
                m.d.comb += delta.eq(error << -config.proportional_shift)

        total = Signal(signed(max(config.threshold_width + 1, self.delta_width) + 1))
        m.d.comb += total.eq(self.threshold + delta)
        with m.If(total < config.threshold_floor):
            m.d.comb += self.next_threshold.eq(config.threshold_floor)
        with m.Elif(total > config.threshold_ceiling):
            m.d.comb += self.next_threshold.eq(config.threshold_ceiling)
        with m.Else():
            m.d.comb += self.next_threshold.eq(total)

        return m
