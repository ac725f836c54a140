"""`harvester secrets init` and `harvester broker config`, run through the CLI."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from harvester.cli import main
from harvester.config.cluster import load_cluster_config
from harvester.config.secrets import load_credentials, load_token
from harvester.mesh.broker.passwords import verify_password

CLUSTER = """
[cluster]
name = "shed"
secrets_dir = "secrets"
[[nodes]]
name = "revpi"
role = "hub"
config = "revpi.toml"
[[nodes]]
name = "pi4"
role = "spoke"
config = "pi4.toml"
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secrets_init_writes_private_files_and_keeps_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "cluster.toml").write_text(CLUSTER)
    assert main(["secrets", "init", "--cluster", str(tmp_path / "cluster.toml")]) == 0
    cluster = load_cluster_config(tmp_path / "cluster.toml")
    pi4 = load_credentials(cluster.credentials_file("pi4"))
    revpi = load_credentials(cluster.credentials_file("revpi"))
    token = load_token(cluster.token_file)
    assert pi4.username == "pi4" and revpi.username == "revpi"
    assert len(pi4.password) >= 32 and pi4.password != revpi.password != token
    # Every secret is private; trusted-keys/ holds the deploy key's public half.
    assert {mode(p) for p in cluster.secrets_dir.iterdir() if p.is_file()} == {0o600}
    assert [p.name for p in cluster.trusted_keys_dir.iterdir()] == ["shed-deploy.pub"]
    printed = capsys.readouterr()
    assert "pi4.toml" in printed.out
    assert pi4.password not in printed.out + printed.err

    assert main(["secrets", "init", "--cluster", str(tmp_path / "cluster.toml")]) == 0
    assert load_credentials(cluster.credentials_file("pi4")) == pi4  # kept
    assert "kept" in capsys.readouterr().out
    assert main(["secrets", "init", "--cluster", str(tmp_path / "cluster.toml"), "--force"]) == 0
    assert load_credentials(cluster.credentials_file("pi4")) != pi4  # replaced


def test_broker_config_writes_the_three_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "cluster.toml").write_text(CLUSTER)
    out = tmp_path / "mosquitto"
    args = ["broker", "config", "--cluster", str(tmp_path / "cluster.toml"), "--out", str(out)]
    assert main(args) == 2  # no secrets yet
    assert "harvester secrets init" in capsys.readouterr().err
    assert main(["secrets", "init", "--cluster", str(tmp_path / "cluster.toml")]) == 0
    assert main(args) == 0
    assert (mode(out / "mosquitto.conf"), mode(out / "passwd"), mode(out / "acl")) == (
        0o600,
        0o600,
        0o640,
    )
    conf = (out / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and f"password_file {out.resolve()}/passwd" in conf
    assert "listener 1883 0.0.0.0" in conf
    pi4 = load_credentials(tmp_path / "secrets" / "pi4.toml")
    users = dict(line.split(":", 1) for line in (out / "passwd").read_text().splitlines())
    assert verify_password(pi4.password, users["pi4"])
    assert "user pi4\ntopic write harvester/pi4/status\n" in (out / "acl").read_text()
    assert "mosquitto -c" in capsys.readouterr().out
