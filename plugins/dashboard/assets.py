"""The page's files, read once at import and served from memory under hashed names.

The module is imported while componentize-py builds the component (pre-initialisation),
so what it reads here (static/ and uPlot from node_modules/, which the build installs
from package-lock.json) is in the component; at run time there are no files. Each asset
is served as `/ui/assets/<stem>.<hash8><suffix>` with a one-year immutable cache: a new
build changes the name, never the content behind a name. The ES modules import each other
as `./name.js`; those imports are rewritten to the hashed names (a module's hash covers
the rewritten text, so a changed dependency renames its importers too).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
UPLOT = HERE / "node_modules" / "uplot" / "dist"
# What the page loads from uPlot's package: its ES module and its stylesheet.
VENDOR = {"uPlot.esm.js": UPLOT / "uPlot.esm.js", "uPlot.min.css": UPLOT / "uPlot.min.css"}
PREFIX = "/ui/assets/"
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
IMMUTABLE = "public, max-age=31536000, immutable"
_IMPORT = re.compile(r"""((?:\bfrom|\bimport)\s*)(["'])\./([A-Za-z0-9_.-]+\.js)\2""")


@dataclass(frozen=True)
class Asset:
    name: str  # as the sources name it: "app.js"
    url: str  # as the page loads it: "/ui/assets/app.1a2b3c4d.js"
    content_type: str
    body: bytes


def hashed_url(name: str, body: bytes) -> str:
    stem, dot, suffix = name.rpartition(".")
    return f"{PREFIX}{stem}.{hashlib.sha256(body).hexdigest()[:8]}{dot}{suffix}"


def build_assets(sources: dict[str, bytes]) -> dict[str, Asset]:
    """Every source (by file name) as an Asset, module imports rewritten to hashed names.

    Raises ValueError naming a module that imports one that is not there, or an import
    cycle (a module's name depends on its imports' names).
    """
    done: dict[str, Asset] = {}

    def make(name: str, chain: tuple[str, ...]) -> Asset:
        if name in done:
            return done[name]
        if name in chain:
            raise ValueError(f"import cycle: {' -> '.join((*chain, name))}")
        if name not in sources:
            raise ValueError(f"{chain[-1]} imports ./{name}, which is not an asset")
        body = sources[name]
        if name.endswith(".js"):

            def rewrite(match: re.Match[str]) -> str:
                target = make(match.group(3), (*chain, name))
                return f"{match.group(1)}{match.group(2)}{target.url}{match.group(2)}"

            body = _IMPORT.sub(rewrite, body.decode("utf-8")).encode("utf-8")
        suffix = name[name.rfind(".") :]
        asset = Asset(name, hashed_url(name, body), TYPES[suffix], body)
        done[name] = asset
        return asset

    for name in sorted(sources):
        make(name, ())
    return done


def read_sources(static: Path = STATIC, vendor: dict[str, Path] = VENDOR) -> dict[str, bytes]:
    """static/'s scripts, styles and images by file name, plus the vendored files."""
    found = {p.name: p.read_bytes() for p in sorted(static.iterdir()) if p.suffix in TYPES}
    for name, path in vendor.items():
        found[name] = path.read_bytes()
    return found


def read_template(static: Path = STATIC) -> str:
    return (static / "index.html").read_text(encoding="utf-8")
