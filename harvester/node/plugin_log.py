"""A plugin's log, rate-limited so a flood costs the plugin, not the node."""

from __future__ import annotations

import logging
import threading
import time

from harvester.constants import LOG_BURST, LOG_MAX_MESSAGE, LOG_RATE_PER_S, LogLevel
from harvester.node.events import EventBus, LogEvent

# Distinct refused resources named in a line of their own; more are only counted.
MAX_REFUSALS_NAMED = 32

_PY_LEVELS: dict[LogLevel, int] = {
    LogLevel.TRACE: logging.DEBUG,
    LogLevel.DEBUG: logging.DEBUG,
    LogLevel.INFO: logging.INFO,
    LogLevel.WARN: logging.WARNING,
    LogLevel.ERROR: logging.ERROR,
}


def _clip(message: str) -> str:
    if len(message) <= LOG_MAX_MESSAGE:
        return message
    return message[:LOG_MAX_MESSAGE] + f"... [{len(message)} chars, truncated]"


class PluginLog:
    """A plugin's log (runtime.host_api.GuestLog), published on the node's event bus.

    Token bucket per plugin: LOG_RATE_PER_S sustained, LOG_BURST at once.

    Lines over the limit are counted, and the count is reported once the bucket refills,
    so a reader sees that lines went missing and how many.
    """

    def __init__(self, plugin: str, bus: EventBus) -> None:
        self._plugin = plugin
        self._bus = bus
        self._logger = logging.getLogger(f"harvester.plugin.{plugin}")
        self._tokens = float(LOG_BURST)
        self._stamp = time.monotonic()
        self._dropped = 0
        self._refused: set[str] = set()
        self._refused_again = 0
        self._lock = threading.Lock()

    def _take(self) -> tuple[bool, int]:
        """(may log, lines dropped since the last line that was let through)."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(LOG_BURST, self._tokens + (now - self._stamp) * LOG_RATE_PER_S)
            self._stamp = now
            if self._tokens < 1:
                self._dropped += 1
                return False, 0
            self._tokens -= 1
            dropped, self._dropped = self._dropped, 0
            return True, dropped

    def plugin_said(self, level: LogLevel, message: str) -> None:
        allowed, dropped = self._take()
        if dropped:
            self._say_dropped(dropped)
        if not allowed:
            return
        message = _clip(message)
        self._logger.log(_PY_LEVELS[level], "%s", message)
        self._bus.publish(LogEvent(self._plugin, level, message, "plugin"))

    def refused(self, resource: str) -> None:
        """The HAL refused an access. The first refusal of each resource is a line of its own;
        repeats are counted and reported by `flush`, so probing in a loop cannot flood."""
        with self._lock:
            first = resource not in self._refused and len(self._refused) < MAX_REFUSALS_NAMED
            if first:
                self._refused.add(resource)
            else:
                self._refused_again += 1
        if first:
            self.host_says(LogLevel.WARN, f"refused: {resource} is not granted")

    def flush(self) -> None:
        """Report what was dropped or refused since the last call (after each plugin call)."""
        with self._lock:
            dropped, self._dropped = self._dropped, 0
            again, self._refused_again = self._refused_again, 0
        if dropped:
            self._say_dropped(dropped)
        if again:
            self.host_says(LogLevel.WARN, f"refused {again} more accesses to resources not granted")

    def _say_dropped(self, count: int) -> None:
        self.host_says(LogLevel.WARN, f"log rate limit: dropped {count} lines from this plugin")

    def host_says(self, level: LogLevel, message: str) -> None:
        """A line the host writes about this plugin; never rate-limited.

        Clipped all the same: it often quotes what the plugin returned (an error text).
        """
        message = _clip(message)
        self._logger.log(_PY_LEVELS[level], "[host] %s", message)
        self._bus.publish(LogEvent(self._plugin, level, message, "host"))
