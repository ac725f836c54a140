"""index.html: the template from static/ with the title, the asset URLs and the bootstrap
JSON filled in. The CSP forbids inline scripts, so the data rides in a
`<script type="application/json">` (not executed) and every script is a file."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from assets import Asset

_SLOT = re.compile(r"\{\{\s*([a-z_]+)(?::([A-Za-z0-9_.-]+))?\s*\}\}")


def script_json(data: Any) -> str:
    """JSON that cannot end its <script> element early or open a comment in it."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render(template: str, *, title: str, bootstrap: Any, assets: dict[str, Asset]) -> bytes:
    """The page. Slots: {{title}}, {{bootstrap}}, {{asset:name}} (its hashed URL) and
    {{modulepreload}} (a preload link per module, so the browser fetches them in parallel
    instead of discovering the imports one level at a time).

    Raises ValueError naming a slot or asset the template asks for that does not exist.
    """

    def fill(match: re.Match[str]) -> str:
        slot, arg = match.group(1), match.group(2)
        if slot == "title":
            return html.escape(title)
        if slot == "bootstrap":
            return script_json(bootstrap)
        if slot == "asset" and arg in assets:
            return html.escape(assets[arg].url)
        if slot == "modulepreload":
            return "\n    ".join(
                f'<link rel="modulepreload" href="{html.escape(a.url)}">'
                for name, a in sorted(assets.items())
                if name.endswith(".js")
            )
        raise ValueError(f"index.html: unknown slot {match.group(0)}")

    return _SLOT.sub(fill, template).encode("utf-8")
