"""1BitSquared iCEBreaker: iCE40UP5K, 12 MHz clock, a red and a green LED, one button."""

from amaranth_boards.icebreaker import ICEBreakerPlatform

from .top import Board, request_output


__all__ = ["BOARD"]


def _connect_leds(m, platform, status):
    red = request_output(m, platform, "led", 0)
    green = request_output(m, platform, "led", 1)
    m.d.comb += [
        red.eq(status.above | status.below),
        green.eq(status.in_band | status.below),
    ]


BOARD = Board(
    name="icebreaker",
    title="iCEBreaker",
    platform=ICEBreakerPlatform,
    led_mapping="red: above target; green: in band; red and green: below target; "
                "button: start a sleep pass",
    connect_leds=_connect_leds,
    button="button",
)
