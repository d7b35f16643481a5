"""tinyVision UPduino v3: iCE40UP5K on its internal oscillator, one RGB LED, no button."""

from amaranth_boards.upduino_v3 import UpduinoV3Platform

from .top import Board, output_buffer


__all__ = ["BOARD"]


def _connect_leds(m, platform, status):
    rgb = platform.request("rgb_led", 0, dir="-")
    m.d.comb += [
        output_buffer(m, "led_red", rgb.r).eq(status.above),
        output_buffer(m, "led_green", rgb.g).eq(status.in_band),
        output_buffer(m, "led_blue", rgb.b).eq(status.below),
    ]


BOARD = Board(
    name="upduino_v3",
    title="UPduino v3",
    platform=UpduinoV3Platform,
    led_mapping="RGB LED red: above target; green: in band; blue: below target",
    connect_leds=_connect_leds,
    # The internal 48 MHz oscillator divided by 2 ** 2: 12 MHz, like the other boards.
    platform_options=(("hfosc_div", 2),),
)
