"""Lattice iCEstick: iCE40HX1K, 12 MHz clock, four red LEDs and a green one, no button."""

from amaranth_boards.icestick import ICEStickPlatform

from .top import Board, request_output


__all__ = ["BOARD"]


def _connect_leds(m, platform, status):
    m.d.comb += [
        request_output(m, platform, "led", 0).eq(status.above),
        request_output(m, platform, "led", 1).eq(status.below),
        request_output(m, platform, "led", 2).eq(status.heartbeat),
        request_output(m, platform, "led", 4).eq(status.in_band),
    ]


BOARD = Board(
    name="icestick",
    title="iCEstick",
    platform=ICEStickPlatform,
    led_mapping="D1 (red): above target; D2 (red): below target; D3 (red): toggles every "
                "window; D5 (green, centre): in band",
    connect_leds=_connect_leds,
)
