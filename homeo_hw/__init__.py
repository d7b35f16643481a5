"""Homeostatic regulation of spiking neural networks in Amaranth gateware for iCE40 FPGAs."""

from .config import RegulatorConfig


__all__ = ["RegulatorConfig"]
