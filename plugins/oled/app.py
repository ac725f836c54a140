"""The oled plugin: Adafruit's SSD1306 driver, unchanged, drawing the node's readings.

The driver talks to the display through the SDK's busio shim (the host's i2c import);
each poll draws the next page of the layout (layout.py) and sends the whole frame. It
describes no metrics and returns no readings: it is a display, polled to redraw.
"""

import adafruit_ssd1306
import busio
from font import use_memory_font
from harvester_sdk import Settings, guard, log, no_device
from layout import ROWS, pages
from wit_world import exports
from wit_world.exports import sensor
from wit_world.imports import node_readings

WIDTH, HEIGHT = 128, 64
DEFAULT_BUS = 1
DEFAULT_ADDRESS = 0x3C
LINE_HEIGHT = HEIGHT // ROWS
CHAR_WIDTH = 6

use_memory_font()

# componentize-py may make several Sensor objects: the display lives at module level.
_display: adafruit_ssd1306.SSD1306_I2C | None = None
_page = 0
_shown: tuple = ()  # (plugin, metric) pairs on the screens, to log when they change


class Sensor(exports.Sensor):
    @guard
    def init(self, settings: list[sensor.Setting]) -> None:
        global _display, _page
        s = Settings(settings)
        bus = s.integer("bus", DEFAULT_BUS, low=0, high=255)
        address = s.integer("address", DEFAULT_ADDRESS, low=0x3C, high=0x3D)
        # The constructor probes the address, initialises the panel (charge pump on,
        # display on) and clears it; a missing display is a hal no-acknowledge.
        _display = adafruit_ssd1306.SSD1306_I2C(WIDTH, HEIGHT, busio.I2C(bus=bus), addr=address)
        _page = 0
        log.info(f"SSD1306 {WIDTH}x{HEIGHT} ready on bus {bus} at {address:#04x}")

    def describe(self) -> list[sensor.Metric]:
        return []

    @guard
    def poll(self) -> list[sensor.Reading]:
        global _page, _shown
        if _display is None:
            raise no_device("poll before a successful init")
        readings = node_readings.latest()
        screens = pages(node_readings.node_name(), readings)
        screen = screens[_page % len(screens)]
        _page = (_page + 1) % len(screens)
        _display.fill(0)
        for row, text in enumerate(screen):
            _display.text(text, 0, row * LINE_HEIGHT, 1)
        _display.show()
        shown = tuple((r.plugin, r.metric) for r in readings)
        if shown != _shown:  # once per change, not per poll
            _shown = shown
            plugins = len({plugin for plugin, _ in shown})
            log.info(f"showing {len(shown)} readings of {plugins} plugins on {len(screens)} pages")
        return []
