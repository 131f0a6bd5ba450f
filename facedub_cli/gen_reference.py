"""Regenerate the README's command reference from `--help`:
`python -m facedub_cli.gen_reference README.md` (`--check` only compares)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import typer
from typer import _click

BEGIN = "<!-- BEGIN COMMAND REFERENCE (make docs) -->"
END = "<!-- END COMMAND REFERENCE -->"
WIDTH = 88


def _walk(command: _click.Command, ctx: _click.Context) -> Iterator[tuple[str, _click.Context]]:
    yield ctx.command_path, ctx
    if isinstance(command, typer.core.TyperGroup):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            child = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
            yield from _walk(sub, child)


def render_reference() -> str:
    """Every command's --help text, in tree order, as Markdown."""
    from facedub_cli.main import app

    root = typer.main.get_command(app)
    ctx = root.make_context(
        "facedub", [], resilient_parsing=True, terminal_width=WIDTH, max_content_width=WIDTH
    )
    parts = []
    for path, sub_ctx in _walk(root, ctx):
        help_text = sub_ctx.get_help().rstrip()
        parts.append(f"### `{path}`\n\n```text\n{help_text}\n```\n")
    return "\n".join(parts)


def splice(readme: str, reference: str) -> str:
    """Replace what lies between the markers (appending them if missing)."""
    block = f"{BEGIN}\n\n{reference}\n{END}"
    if BEGIN in readme and END in readme:
        head, _, rest = readme.partition(BEGIN)
        _, _, tail = rest.partition(END)
        return f"{head}{block}{tail}"
    return f"{readme.rstrip()}\n\n## Command reference\n\n{block}\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [arg for arg in argv if arg != "--check"]
    if len(paths) != 1:
        sys.stderr.write("usage: python -m facedub_cli.gen_reference [--check] README.md\n")
        return 2
    path = Path(paths[0])
    current = path.read_text()
    wanted = splice(current, render_reference())
    if check:
        if current != wanted:
            sys.stderr.write(f"{path}: command reference is stale; run `make docs`\n")
            return 1
        return 0
    path.write_text(wanted)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
