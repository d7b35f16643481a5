"""Top-levels for iCE40 boards from amaranth-boards, and the registry of boards by name."""

from . import ice40_hx8k_b_evn, icebreaker, icestick, tinyfpga_bx, upduino_v3
from .top import (ARCHITECTURES, Architecture, Board, HomeostasisTop, get_architecture,
                  register_architecture)


__all__ = [
    "BOARDS", "get_board",
    "ARCHITECTURES", "Architecture", "Board", "HomeostasisTop", "get_architecture",
    "register_architecture",
]


#: Supported boards by name.
BOARDS = {board.name: board for board in (
    icebreaker.BOARD,
    icestick.BOARD,
    upduino_v3.BOARD,
    ice40_hx8k_b_evn.BOARD,
    tinyfpga_bx.BOARD,
)}


def get_board(name):
    """Return the :class:`Board` called ``name``.

    Raises
    ------
    ValueError
        If no board has that name; the message lists the known boards.
    """
    try:
        return BOARDS[name]
    except KeyError:
        known = ", ".join(sorted(BOARDS))
        raise ValueError(f"unknown board {name!r}; known boards: {known}") from None
