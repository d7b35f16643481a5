"""Lattice iCE40-HX8K breakout board: iCE40HX8K, 12 MHz clock, eight LEDs, no button."""

from amaranth_boards.ice40_hx8k_b_evn import ICE40HX8KBEVNPlatform

from .top import Board, request_output


__all__ = ["BOARD"]


def _connect_leds(m, platform, status):
    m.d.comb += [
        request_output(m, platform, "led", 0).eq(status.above),
        request_output(m, platform, "led", 1).eq(status.in_band),
        request_output(m, platform, "led", 2).eq(status.below),
        request_output(m, platform, "led", 3).eq(status.heartbeat),
    ]


BOARD = Board(
    name="ice40_hx8k_b_evn",
    title="iCE40-HX8K breakout",
    platform=ICE40HX8KBEVNPlatform,
    led_mapping="D2: above target; D3: in band; D4: below target; D5: toggles every window",
    connect_leds=_connect_leds,
)
