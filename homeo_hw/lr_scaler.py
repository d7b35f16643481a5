"""Learning-rate exponent from the population's dispersion."""

from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config import check_config


__all__ = ["LearningRateScaler"]


class LearningRateScaler(wiring.Component):
    """Choose the learning-rate exponent for a window's dispersion.

    The exponent is the largest ``k`` in ``[lr_exponent_min, lr_exponent_max]`` with
    ``dispersion <= D_ref >> k`` (``D_ref << -k`` for negative ``k``), or ``lr_exponent_min`` if
    none qualifies, as in :func:`homeo_hw.golden.lr_scaler.lr_exponent`. Every limit is a
    constant, so the block is a chain of comparisons with constants and needs no multiplier.

    The block does not accumulate the dispersion. Its parent sums ``|count - target_count|`` over
    the population and presents the total on ``dispersion``.

    Parameters
    ----------
    config : RegulatorConfig
        Supplies ``dispersion_width``, the exponent range and ``lr_reference_dispersion``.

    Members
    -------
    dispersion : In(unsigned(dispersion_width))
        Summed absolute deviation of a window's counts from the target.
    exponent : Out(signed(lr_exponent_width))
        Learning-rate exponent: the learning rate is multiplied by ``2 ** exponent``.
        Combinational, latency 0.
    """

    def __init__(self, config):
        check_config(config)
        self._config = config
        super().__init__({
            "dispersion": In(unsigned(config.dispersion_width)),
            "exponent": Out(signed(config.lr_exponent_width)),
        })

    @property
    def config(self):
        """Configuration the scaler was built from."""
        return self._config

    def limits(self):
        """Return ``(exponent, limit)`` pairs in the order the comparisons are made."""
        config = self._config
        reference = config.lr_reference_dispersion
        pairs = []
        for exponent in range(config.lr_exponent_max, config.lr_exponent_min - 1, -1):
            limit = reference >> exponent if exponent >= 0 else reference << -exponent
            pairs.append((exponent, limit))
        return pairs

    def elaborate(self, platform):
        m = Module()

        # Later assignments take priority, so the largest exponent whose limit is met wins.
        m.d.comb += self.exponent.eq(self._config.lr_exponent_min)
        for exponent, limit in reversed(self.limits()):
            with m.If(self.dispersion <= limit):
                m.d.comb += self.exponent.eq(exponent)

        return m
