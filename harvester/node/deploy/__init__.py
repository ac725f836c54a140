"""Signed deploys on the node's side: the bundle format, keys and trust, and the installer
that checks a bundle before anything is written (docs/lifecycle-deploy.md)."""

from harvester.node.deploy.bundle import Bundle, Manifest, compress, pack, peek, sign, unpack
from harvester.node.deploy.errors import BundleError, DeployRefused, KeyFileError
from harvester.node.deploy.installer import Installed, Installer, known_worlds
from harvester.node.deploy.keys import (
    TrustedKey,
    generate,
    key_id,
    load_private,
    parse_public,
    public_line,
    trusted_keys,
    write_key_pair,
)
from harvester.node.deploy.record import AcceptedDeploys

__all__ = [
    "AcceptedDeploys",
    "Bundle",
    "BundleError",
    "DeployRefused",
    "Installed",
    "Installer",
    "KeyFileError",
    "Manifest",
    "TrustedKey",
    "compress",
    "generate",
    "key_id",
    "known_worlds",
    "load_private",
    "pack",
    "parse_public",
    "peek",
    "public_line",
    "sign",
    "trusted_keys",
    "unpack",
    "write_key_pair",
]
