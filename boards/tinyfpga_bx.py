"""TinyFPGA BX: iCE40LP8K, 16 MHz clock, one LED, no button."""

from amaranth.hdl import Signal

from amaranth_boards.tinyfpga_bx import TinyFPGABXPlatform

from .top import Board, request_output


__all__ = ["BOARD"]


def _connect_leds(m, platform, status):
    # One LED shows three states by its blink rate: at 16 MHz, bit 20 of a free-running
    # counter toggles at about 7.6 Hz and bit 23 at about 0.95 Hz.
    led = request_output(m, platform, "led", 0)
    blink = Signal(24)
    m.d.sync += blink.eq(blink + 1)
    m.d.comb += led.eq(status.in_band
                         | (status.above & blink[20])
                         | (status.below & blink[23]))


BOARD = Board(
    name="tinyfpga_bx",
    title="TinyFPGA BX",
    platform=TinyFPGABXPlatform,
    led_mapping="one LED: steady on: in band; fast blink (7.6 Hz): above target; slow blink "
                "(0.95 Hz): below target",
    connect_leds=_connect_leds,
)
