"""Harvester plugin SDK: what every plugin component bundles (guest code only)."""

from harvester_sdk import log
from harvester_sdk.base import SensorBase
from harvester_sdk.errors import bad_setting, guard, invalid_data, no_device
from harvester_sdk.records import metric, reading
from harvester_sdk.settings import Settings

__all__ = [
    "SensorBase",
    "Settings",
    "bad_setting",
    "guard",
    "invalid_data",
    "log",
    "metric",
    "no_device",
    "reading",
]
