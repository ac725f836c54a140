"""CircuitPython's `board`, for drivers and examples that name the I2C pins.

The sandbox has no pins: the host owns the bus. SCL and SDA are placeholders naming the
Raspberry Pi's I2C-1 pins (GPIO 3 and 2); `I2C()` is that bus through the busio shim.
"""

import busio


class Pin:
    def __init__(self, name: str, gpio: int) -> None:
        self.name = name
        self.id = gpio

    def __repr__(self) -> str:
        return f"board.{self.name}"


SCL = Pin("SCL", 3)
SDA = Pin("SDA", 2)


def I2C() -> busio.I2C:  # CircuitPython's name, capitals and all
    return busio.I2C(SCL, SDA)
