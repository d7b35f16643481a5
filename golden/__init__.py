"""NumPy reference of homeostatic regulation: a float API and the bit-exact integer model."""

from homeo_hw.config import RegulatorConfig
from .margin_comparator import ABOVE, IN_BAND, BELOW
from .regulator import IntegerRegulator, RegulatorState, WindowResult
from .sleep_pruner import PruneResult, prune_weights
from .metrics import RegulationMetrics
from .network_regulator import NetworkRegulator
from .sleep_consolidation import SleepConsolidation
from .rates import load_recording, raster_from_events, rates_from_raster


__all__ = [
    "RegulatorConfig",
    "ABOVE", "IN_BAND", "BELOW",
    "IntegerRegulator", "RegulatorState", "WindowResult",
    "PruneResult", "prune_weights",
    "RegulationMetrics", "NetworkRegulator", "SleepConsolidation",
    "load_recording", "raster_from_events", "rates_from_raster",
]
