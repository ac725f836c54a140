"""Harvester plugin SDK: what every plugin component bundles (guest code only).

Names are imported on first use (PEP 562), because parts of the SDK need an export that
not every world has: `guard` and `SensorBase` need the `sensor` export, `ActuatorBase`
the `actuator` export. A plugin imports what its world supports.
"""

import importlib

_WHERE = {
    "ActuatorBase": "harvester_sdk.actuator",
    "BadSetting": "harvester_sdk.settings",
    "HalOSError": "harvester_sdk.hal",
    "SensorBase": "harvester_sdk.base",
    "Settings": "harvester_sdk.settings",
    "bad_setting": "harvester_sdk.errors",
    "command": "harvester_sdk.actuator",
    "guard": "harvester_sdk.errors",
    "invalid_data": "harvester_sdk.errors",
    "log": "harvester_sdk.log",
    "metric": "harvester_sdk.records",
    "no_device": "harvester_sdk.errors",
    "reading": "harvester_sdk.records",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'harvester_sdk' has no attribute {name!r}")
    module = importlib.import_module(where)
    return module if module.__name__.endswith("." + name) else getattr(module, name)
