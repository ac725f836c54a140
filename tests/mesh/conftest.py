from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mesh.brokers import MosquittoProcess


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoProcess]:
    """An anonymous mosquitto on a free loopback port, persistent in tmp_path."""
    with MosquittoProcess(tmp_path / "mosquitto") as broker:
        yield broker
