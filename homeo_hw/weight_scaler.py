"""Multiplicative synaptic scaling of one weight by a shift, rounded toward zero."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config import check_config


__all__ = ["WeightScaler"]


class WeightScaler(wiring.Component):
    """Scale a signed weight up or down by ``2 ** -scale_shift`` of its value.

    Combinational (latency 0). Computes what :func:`homeo_hw.golden.weight_scaler.scale_weights`
    computes for one weight: with ``step = w >> scale_shift`` rounded toward zero (so that
    ``step(-w) == -step(w)``), scaling up gives ``w + step`` and scaling down ``w - step``. The
    result saturates at ``config.weight_min`` and ``config.weight_max``. Because
    ``|step| <= |w| / 2``, a weight never changes sign and zero stays zero.

    Parameters
    ----------
    config : RegulatorConfig
        Supplies ``weight_width`` and ``scale_shift``.

    Members
    -------
    weight : In(signed(config.weight_width))
        Weight to scale.
    up : In(1)
        Scale the weight's magnitude up, as for an under-active post-synaptic neuron.
    down : In(1)
        Scale the weight's magnitude down, as for an over-active post-synaptic neuron.
    scaled : Out(signed(config.weight_width))
        Scaled weight. Equal to ``weight`` when neither or both of ``up`` and ``down`` are high.
    """

    def __init__(self, config):
        check_config(config)
        self._config = config
        super().__init__({
            "weight": In(signed(config.weight_width)),
            "up": In(1),
            "down": In(1),
            "scaled": Out(signed(config.weight_width)),
        })

    @property
    def config(self):
        """Parameters the block was built from."""
        return self._config

    @property
    def latency(self):
        """Cycles from ``weight`` to ``scaled``: 0, the block is combinational."""
        return 0

    def elaborate(self, platform):
        m = Module()
        config = self._config
        shift = config.scale_shift

        # The arithmetic shift rounds toward negative infinity, so a negative weight with nonzero
        # bits below the shift needs 1 added to round toward zero instead.
        floor_step = self.weight >> shift
        round_up = self.weight[-1] & self.weight[:shift].any()

        # A single sum covers the three cases: w + step, w - step = w + ~floor_step + ~round_up,
        # and w + 0.
        addend = Signal(signed(config.weight_width - shift))
        carry = Signal()
        with m.If(self.up & ~self.down):
            m.d.comb += [
                addend.eq(floor_step),
                carry.eq(round_up),
            ]
        with m.Elif(self.down & ~self.up):
            m.d.comb += [
                addend.eq(~floor_step),
                carry.eq(~round_up),
            ]
        total = Signal(signed(config.weight_width + 1))
        m.d.comb += total.eq(self.weight + addend + carry)

        # Only scaling up can leave the range, and only away from zero. The sign bit of the wider
        # sum then differs from the bit below it, and it is the sign of the end to saturate at.
        with m.If(total[-1] != total[-2]):
            m.d.comb += self.scaled.eq(Mux(total[-1], config.weight_min, config.weight_max))
        with m.Else():
            m.d.comb += self.scaled.eq(total)
        return m
