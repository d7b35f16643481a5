"""Top-levels for iCE40 boards from amaranth-boards."""
