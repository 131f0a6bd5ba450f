"""Load the named statements of sql/queries.sql and the numbered migrations."""

from __future__ import annotations

import functools
import re
from importlib import resources

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
_MIGRATION = re.compile(r"^(\d{4})_\w+\.sql$")


def _sql_text(name: str) -> str:
    return resources.files("facedubd.store").joinpath("sql", name).read_text("utf-8")


def parse_named(text: str) -> dict[str, str]:
    """Split a file of `-- name: x` blocks into {name: statement}."""
    parts = _NAME.split(text)
    named: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in named:
            raise ValueError(f"query {name} is defined twice")
        named[name] = body.strip()
    return named


@functools.cache
def queries() -> dict[str, str]:
    return parse_named(_sql_text("queries.sql"))


def fresh_schema() -> str:
    return _sql_text("schema.sql")


def migrations() -> list[tuple[int, str]]:
    """(number, script) for every numbered migration, in order."""
    folder = resources.files("facedubd.store").joinpath("sql")
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text("utf-8")))
    return sorted(found)
