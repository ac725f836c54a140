"""`harvester keys` and the deploy key `harvester secrets init` makes (in this process:
the commands' functions through the parser, as `harvester` calls them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvester.cli import main
from harvester.cli.secrets import deploy_key_public
from harvester.config.cluster import load_cluster_config
from harvester.config.model import DeployConfig
from harvester.node.deploy import key_id, load_private, trusted_keys

CLUSTER = """
[cluster]
name = "greenhouse"
secrets_dir = "secrets"
[[nodes]]
name = "revpi"
role = "hub"
config = "revpi.toml"
"""


def test_keys_create_then_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "alice", "--dir", str(tmp_path)]) == 0
    private, public = tmp_path / "alice.pem", tmp_path / "alice.pub"
    assert private.stat().st_mode & 0o777 == 0o600
    made = key_id(load_private(private).public_key())
    assert public.read_text().startswith("ed25519:")
    assert made in capsys.readouterr().out
    assert main(["keys", "create", "alice", "--dir", str(tmp_path)]) == 1  # never replaced
    assert key_id(load_private(private).public_key()) == made
    capsys.readouterr()
    assert main(["keys", "list", "--dir", str(tmp_path)]) == 0
    listed = capsys.readouterr().out
    assert "alice" in listed and made in listed


def test_secrets_init_makes_the_deploy_key_and_trusts_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "cluster.toml").write_text(CLUSTER)
    assert main(["secrets", "init", "--cluster", str(tmp_path / "cluster.toml")]) == 0
    cluster = load_cluster_config(tmp_path / "cluster.toml")
    key = load_private(cluster.deploy_key)
    assert cluster.deploy_key.stat().st_mode & 0o777 == 0o600
    trusted = trusted_keys(DeployConfig(trusted_keys_dir=cluster.trusted_keys_dir))
    assert list(trusted) == [key_id(key.public_key())]
    assert deploy_key_public(cluster).is_file()
    # Run again: kept, not replaced (nodes trust it).
    assert main(["secrets", "init", "--cluster", str(tmp_path / "cluster.toml")]) == 0
    assert key_id(load_private(cluster.deploy_key).public_key()) == key_id(key.public_key())
    capsys.readouterr()
    assert main(["keys", "list", "--dir", str(tmp_path / "none"), "--cluster",
                 str(tmp_path / "cluster.toml")]) == 0  # fmt: skip
    assert key_id(key.public_key()) in capsys.readouterr().out
