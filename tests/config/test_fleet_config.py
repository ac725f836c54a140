"""The fleet's config: [mesh]/[hub] in a node file, the cluster file, secrets files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harvester.config import ConfigError, load_node_config
from harvester.config.cluster import join, load_cluster_config
from harvester.config.secrets import SecretsError, load_credentials, load_token, write_private
from tests.conftest import ROOT


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_spoke_must_say_where_the_broker_is(tmp_path: Path) -> None:
    config = load_node_config(write(tmp_path / "n.toml", '[node]\nname = "pi4"\n[mesh]\n'))
    with pytest.raises(ValueError, match=r"'pi4': mesh\.broker: where is the broker"):
        _ = config.broker


def test_mesh_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    config = write(
        tmp_path / "n.toml",
        '[node]\nname = "pi4"\n[mesh]\nbroker = { host = "127.0.0.1", port = 1884 }\n'
        'credentials = "secrets/pi4.toml"\ntls = { ca_file = "ca.pem" }\n',
    )
    loaded = load_node_config(config)
    assert loaded.mesh is not None and loaded.mesh.tls is not None
    assert loaded.mesh.credentials == tmp_path / "secrets" / "pi4.toml"
    assert loaded.mesh.tls.ca_file == tmp_path / "ca.pem"
    assert loaded.broker.port == 1884
    assert loaded.state_dir == tmp_path / ".harvester" / "state"


def test_hub_settings_only_on_the_hub(tmp_path: Path) -> None:
    config = write(tmp_path / "n.toml", '[node]\nname = "pi4"\n[hub]\nbroker = "embedded"\n')
    with pytest.raises(ConfigError, match=r"\[hub\] is for the node with role = 'hub'"):
        load_node_config(config)


def test_history_windows_are_ordered(tmp_path: Path) -> None:
    config = write(
        tmp_path / "n.toml",
        '[node]\nname = "revpi"\nrole = "hub"\n'
        "[hub.history]\nraw_window_s = 86400\nminute_window_s = 3600\n",
    )
    with pytest.raises(ConfigError, match="minute_window_s must not be shorter"):
        load_node_config(config)


def test_the_reference_cluster_loads_and_joins() -> None:
    cluster = load_cluster_config(ROOT / "examples" / "cluster.toml")
    assert [(n.name, n.role) for n in cluster.nodes] == [
        ("revpi", "hub"),
        ("pi4", "spoke"),
        ("pizero", "spoke"),
    ]
    assert cluster.broker.listen.host == "127.0.0.1"  # the demo stays on loopback
    for member in cluster.nodes:
        joined = join(load_node_config(member.config), cluster)
        assert joined.mesh is not None
        assert joined.broker.host == "127.0.0.1"
        assert joined.broker.port == cluster.broker.listen.port
        assert joined.mesh.credentials == cluster.secrets_dir / f"{member.name}.toml"
    hub = join(load_node_config(cluster.hub.config), cluster).hub_settings
    assert hub.broker == "embedded" and hub.embedded.cluster == cluster.path
    assert hub.web.token_file == cluster.token_file


def test_a_node_the_cluster_does_not_list_cannot_join(tmp_path: Path) -> None:
    cluster = load_cluster_config(ROOT / "examples" / "cluster.toml")
    stranger = load_node_config(write(tmp_path / "n.toml", '[node]\nname = "attic"\n'))
    with pytest.raises(ValueError, match="'attic' is not in the cluster"):
        join(stranger, cluster)
    wrong_role = load_node_config(
        write(tmp_path / "h.toml", '[node]\nname = "pi4"\nrole = "hub"\n')
    )
    with pytest.raises(ValueError, match="a hub in its config but a spoke"):
        join(wrong_role, cluster)


def test_a_cluster_has_exactly_one_hub(tmp_path: Path) -> None:
    text = "".join(
        f'[[nodes]]\nname = "{n}"\nrole = "spoke"\nconfig = "{n}.toml"\n' for n in ("a", "b")
    )
    with pytest.raises(ConfigError, match="exactly one hub"):
        load_cluster_config(write(tmp_path / "c.toml", text))


def test_credentials_files_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "pi4.toml"
    write_private(path, 'username = "pi4"\npassword = "s3cret-s3cret"\n')
    assert os.stat(path).st_mode & 0o777 == 0o600
    creds = load_credentials(path)
    assert (creds.username, creds.password) == ("pi4", "s3cret-s3cret")
    assert "s3cret" not in repr(creds)
    os.chmod(path, 0o644)
    with pytest.raises(SecretsError, match=r"readable by others \(mode 0644\); chmod 600"):
        load_credentials(path)


def test_bad_secrets_files_name_the_file_and_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    write_private(path, 'username = "pi4"\n')
    with pytest.raises(SecretsError, match=f"{path}: needs a non-empty string 'password'"):
        load_credentials(path)
    write_private(path, 'token = "short"\n')
    with pytest.raises(SecretsError, match="too short"):
        load_token(path)
    with pytest.raises(SecretsError, match="cannot read"):
        load_credentials(tmp_path / "missing.toml")
