"""Harvester: sandboxed WebAssembly plugins for Raspberry Pi class nodes."""

__version__ = "0.1.0"
