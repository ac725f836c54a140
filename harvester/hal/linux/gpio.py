"""GPIO through the kernel's character device (/dev/gpiochipN) with libgpiod v2's Python
bindings (`import gpiod`).

The chip is the one whose label is the SoC's pin controller (BCM numbers are its line
offsets), unless the config names one. A pin is requested on first use, as an input for a
read and as an output for a write; a write to an input re-requests it as an output. A read
of a pin this node drives reads back the driven level instead of turning it into an input.
Requests are kept until close(), so another program cannot take a pin in between.
"""

from __future__ import annotations

import errno
import importlib
import threading
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from harvester.hal.errors import BackendUnavailable, HalError
from harvester.hal.linux._library import Importer, require

# Labels of the SoCs' pin controllers: Pi 4/CM4, Pi 3/Zero 2 W, Pi 5.
SOC_CHIP_LABELS: Final = ("pinctrl-bcm2711", "pinctrl-bcm2835", "pinctrl-rp1")
CONSUMER: Final = "harvester"


def find_soc_chip(gpiod: Any, dev: Path = Path("/dev")) -> str:
    """The path of the gpiochip whose label is a Pi SoC's pin controller.

    Raises BackendUnavailable when there is none (not a Pi, or no permission to open)."""
    seen = []
    for path in sorted(dev.glob("gpiochip*")):
        try:
            with gpiod.Chip(str(path)) as chip:
                label = chip.get_info().label
        except OSError as exc:
            seen.append(f"{path.name}: {exc.strerror}")
            continue
        if label in SOC_CHIP_LABELS:
            return str(path)
        seen.append(f"{path.name}: {label}")
    found = "; ".join(seen) if seen else f"no gpiochip under {dev}"
    raise BackendUnavailable(
        f"gpio: no chip labelled {' / '.join(SOC_CHIP_LABELS)} ({found});"
        " set [linux] gpio_chip, and add the node's user to group gpio"
    )


class LinuxGpio:
    """The Gpio capability on one chip. `gpiod_module` is the gpiod API (tests pass a fake
    that has `request_lines`, `LineSettings`, `Direction`, `Value`, `Chip`)."""

    def __init__(
        self,
        chip: str | None = None,
        *,
        gpiod_module: ModuleType | Any = None,
        importer: Importer = importlib.import_module,
        dev: Path = Path("/dev"),
    ) -> None:
        self._gpiod = gpiod_module or require("gpiod", "gpio", importer)
        if chip is not None and not (dev / Path(chip).name).exists():
            raise BackendUnavailable(f"gpio: {chip} does not exist ([linux] gpio_chip)")
        self._chip = chip or find_soc_chip(self._gpiod, dev)
        self._requests: dict[int, tuple[bool, Any]] = {}  # pin -> (is_output, request)
        self._lock = threading.Lock()

    @property
    def chip(self) -> str:
        return self._chip

    def _request(self, pin: int, output: bool, high: bool = False) -> Any:
        g = self._gpiod
        direction = g.line.Direction.OUTPUT if output else g.line.Direction.INPUT
        value = g.line.Value.ACTIVE if high else g.line.Value.INACTIVE
        settings = (
            g.LineSettings(direction=direction, output_value=value)
            if output
            else g.LineSettings(direction=direction)
        )
        try:
            return g.request_lines(self._chip, consumer=CONSUMER, config={pin: settings})
        except OSError as exc:
            raise self._error(exc, pin) from exc

    def _error(self, exc: OSError, pin: int) -> HalError:
        if exc.errno == errno.EBUSY:
            return HalError(
                f"gpio {pin} on {self._chip} is busy: the kernel (an overlay such as dht11)"
                " or another program holds it"
            )
        if exc.errno == errno.EACCES:
            return HalError(f"permission denied on {self._chip}: add the node's user to group gpio")
        if exc.errno == errno.ENOENT:
            return HalError(f"{self._chip} does not exist")
        if exc.errno == errno.EINVAL:
            return HalError(f"gpio {pin}: {self._chip} has no such line")
        return HalError(f"gpio {pin} on {self._chip}: {exc.strerror or exc}")

    def read(self, pin: int) -> bool:
        """The level of `pin`. Raises HalError naming the pin and chip if it cannot be read."""
        with self._lock:
            held = self._requests.get(pin)
            if held is None:
                held = (False, self._request(pin, output=False))
                self._requests[pin] = held
            try:
                value = held[1].get_value(pin)
            except OSError as exc:
                raise self._error(exc, pin) from exc
        return bool(value == self._gpiod.line.Value.ACTIVE)

    def write(self, pin: int, high: bool) -> None:
        """Drive `pin`. Raises HalError naming the pin and chip if it cannot be driven."""
        value = self._gpiod.line.Value.ACTIVE if high else self._gpiod.line.Value.INACTIVE
        with self._lock:
            held = self._requests.get(pin)
            if held is not None and held[0]:
                try:
                    held[1].set_value(pin, value)
                except OSError as exc:
                    raise self._error(exc, pin) from exc
                return
            if held is not None:  # an input until now: give it back, take it as an output
                held[1].release()
                del self._requests[pin]
            self._requests[pin] = (True, self._request(pin, output=True, high=high))

    def close(self) -> None:
        """Release every requested line (the kernel keeps an output's level)."""
        with self._lock:
            for _, request in self._requests.values():
                request.release()
            self._requests.clear()
