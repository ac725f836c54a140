"""The `record`, `replay` and `faults` keys of a plugin: checked at load, errors name the
key, and paths are relative to the config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvester.config import ConfigError, load_node_config

PLUGIN = """
[node]
name = "n"
[[plugins]]
name = "bme680"
"""


def load(tmp_path: Path, extra: str) -> object:
    path = tmp_path / "node.toml"
    path.write_text(PLUGIN + extra)
    return load_node_config(path)


def test_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "node.toml"
    path.write_text(PLUGIN + 'record = "rec/bme680.jsonl"\n')
    (plugin,) = load_node_config(path).plugins
    assert plugin.record == (tmp_path / "sub" / "rec" / "bme680.jsonl").resolve()
    assert plugin.tapped


def test_a_plugin_without_them_is_not_tapped(tmp_path: Path) -> None:
    (plugin,) = load(tmp_path, "").plugins  # type: ignore[attr-defined]
    assert not plugin.tapped and plugin.faults == ()


def test_a_full_fault_rule_loads(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        'faults = [{ kind = "corrupt", on = "i2c", address = 0x77, probability = 0.1,'
        " seed = 4, count = 3 }]\n",
    )
    (rule,) = config.plugins[0].faults  # type: ignore[attr-defined]
    assert (rule.kind, rule.address, rule.probability, rule.seed, rule.count) == (
        "corrupt", 0x77, 0.1, 4, 3,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            'faults = [{ kind = "timeout" }]',
            "plugins[0].faults[0]: Value error, exactly one of nth, every, probability is"
            " required (got none)",
        ),
        (
            'faults = [{ kind = "timeout", nth = 1, every = 2 }]',
            "exactly one of nth, every, probability is required (got nth and every)",
        ),
        (
            'faults = [{ kind = "timeout", probability = 0 }]',
            "plugins[0].faults[0].probability: Input should be greater than 0 (got 0)",
        ),
        (
            'faults = [{ kind = "timeout", probability = 1.5 }]',
            "plugins[0].faults[0].probability: Input should be less than or equal to 1",
        ),
        ('faults = [{ kind = "timeout", nth = 0 }]', "plugins[0].faults[0].nth: Input should"),
        ('faults = [{ kind = "melt", nth = 1 }]', "plugins[0].faults[0].kind: Input should be"),
        (
            'faults = [{ kind = "corrupt", on = "dht22", nth = 1 }]',
            "kind 'corrupt' cannot happen on 'dht22' (only timeout, stuck-bus)",
        ),
        (
            'faults = [{ kind = "timeout", on = "gpio", address = 0x20, nth = 1 }]',
            "address applies only to on = 'i2c' (got on = 'gpio')",
        ),
        (
            'faults = [{ kind = "timeout", nth = 1, when = 3 }]',
            "plugins[0].faults[0].when: Extra inputs are not permitted",
        ),
        (
            'record = "a.jsonl"\nreplay = "b.jsonl"',
            "plugins[0]: Value error, record and replay exclude each other",
        ),
    ],
)
def test_bad_keys_are_named(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, extra + "\n")
    assert message in str(err.value)
