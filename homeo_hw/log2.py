"""Mitchell's piecewise-linear base-2 logarithm and its inverse, as combinational gateware.

Both blocks compute exactly what :func:`homeo_hw.golden.sleep_pruner.log2_fixed` and
:func:`~homeo_hw.golden.sleep_pruner.exp2_fixed` compute: the integer part of a logarithm is the
position of the leading one, and the fraction is the bits below it, left-aligned.
"""

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["Log2", "Exp2", "log_width"]


def log_width(width, frac_bits):
    """Width of a fixed-point log2 of a ``width``-bit magnitude with ``frac_bits`` fractional bits.

    The integer part is a bit position from 0 to ``width - 1``.
    """
    return max(width - 1, 0).bit_length() + frac_bits


def _check_widths(width, frac_bits):
    if isinstance(width, bool) or not isinstance(width, int):
        raise TypeError(f"width must be an integer, not {width!r}")
    if width < 1:
        raise ValueError(f"width must be at least 1, not {width}")
    if isinstance(frac_bits, bool) or not isinstance(frac_bits, int):
        raise TypeError(f"frac_bits must be an integer, not {frac_bits!r}")
    if frac_bits < 0:
        raise ValueError(f"frac_bits must be at least 0, not {frac_bits}")


class Log2(wiring.Component):
    """Piecewise-linear log2 of an unsigned magnitude, combinational (latency 0).

    ``log = msb * 2 ** frac_bits + fraction``, where ``msb`` is the position of the leading one
    and ``fraction`` contains the bits below it, left-aligned in ``frac_bits`` bits. With
    ``frac_bits >= width - 1`` no bit is lost, so :class:`Exp2` inverts it exactly.

    Parameters
    ----------
    width : int
        Width of the magnitude.
    frac_bits : int
        Fractional bits of the logarithm.

    Members
    -------
    magnitude : In(unsigned(width))
        Magnitude. A magnitude of 0 gives the same log as 1, which is 0.
    log : Out(unsigned(log_width(width, frac_bits)))
        Fixed-point logarithm.
    """

    def __init__(self, width, frac_bits):
        _check_widths(width, frac_bits)
        self._width = width
        self._frac_bits = frac_bits
        super().__init__({
            "magnitude": In(unsigned(width)),
            "log": Out(unsigned(log_width(width, frac_bits))),
        })

    @property
    def width(self):
        """Width of the magnitude."""
        return self._width

    @property
    def frac_bits(self):
        """Fractional bits of the logarithm."""
        return self._frac_bits

    def elaborate(self, platform):
        m = Module()
        width, frac_bits = self._width, self._frac_bits

        # Priority encoder: the last assignment that applies wins, so the highest one bit sets it.
        msb = Signal(range(width))
        leading_zeros = Signal(range(width))
        for position in range(width):
            with m.If(self.magnitude[position]):
                m.d.comb += [
                    msb.eq(position),
                    leading_zeros.eq(width - 1 - position),
                ]

        # Shift the leading one to bit width - 1, so that the bits below it are the fraction.
        normalized = Signal(unsigned(width))
        m.d.comb += normalized.eq(self.magnitude << leading_zeros)
        below = normalized[:width - 1]
        if frac_bits >= width - 1:
            fraction = below << (frac_bits - (width - 1))
        else:
            fraction = below >> (width - 1 - frac_bits)

        m.d.comb += self.log.eq((msb << frac_bits) | fraction)
        return m


class Exp2(wiring.Component):
    """Inverse of :class:`Log2`, combinational (latency 0).

    ``value = floor((2 ** frac_bits + fraction) * 2 ** integer / 2 ** frac_bits)`` for
    ``log = integer * 2 ** frac_bits + fraction``, rounded down.

    Parameters
    ----------
    width : int
        Width of the value. The log has the width that :class:`Log2` gives for this width.
    frac_bits : int
        Fractional bits of the logarithm.

    Members
    -------
    log : In(unsigned(log_width(width, frac_bits)))
        Fixed-point logarithm. Its integer part must be at most ``width - 1``, or the value loses
        the value's high bits.
    value : Out(unsigned(width))
        Value whose logarithm is ``log``, rounded down.
    """

    def __init__(self, width, frac_bits):
        _check_widths(width, frac_bits)
        self._width = width
        self._frac_bits = frac_bits
        super().__init__({
            "log": In(unsigned(log_width(width, frac_bits))),
            "value": Out(unsigned(width)),
        })

    @property
    def width(self):
        """Width of the value."""
        return self._width

    @property
    def frac_bits(self):
        """Fractional bits of the logarithm."""
        return self._frac_bits

    def elaborate(self, platform):
        m = Module()
        width, frac_bits = self._width, self._frac_bits

        integer = self.log[frac_bits:]
        mantissa = Signal(unsigned(frac_bits + 1))
        m.d.comb += mantissa.eq((1 << frac_bits) | self.log[:frac_bits])

        # Shifting left by the integer part and dropping the frac_bits low bits rounds down.
        shifted = mantissa << integer
        m.d.comb += self.value.eq(shifted[frac_bits:frac_bits + width])
        return m
