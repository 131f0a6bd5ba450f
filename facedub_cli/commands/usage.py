"""`facedub usage`: credits this month."""

from __future__ import annotations

import typer

from facedub_cli.state import get_state
from facedub_cli.ui import bar, print_fields, print_raw


def usage_lines(body: dict[str, object]) -> list[tuple[str, str]]:
    used = int(str(body.get("credits_used", 0)))
    limit = int(str(body.get("credits_limit", 0)))
    fraction = used / limit if limit else 1.0
    return [
        ("plan", str(body.get("plan", "?"))),
        ("used", f"{used} of {limit} {bar(fraction)} {fraction:.0%}"),
        ("bonus", str(body.get("bonus_credits", 0))),
        ("remaining", remaining_text(body.get("credits_remaining"))),
    ]


def remaining_text(remaining: object) -> str:
    """`credits_remaining`; past the limit (overage on) the API's negative number says by
    how much, which reads better as 0 and the overage."""
    if not isinstance(remaining, int):
        return "?" if remaining is None else str(remaining)
    if remaining >= 0:
        return str(remaining)
    over = -remaining
    return f"0 ({over} credit{'' if over == 1 else 's'} past the limit, charged as overage)"


def usage(ctx: typer.Context) -> None:
    """Show your plan and credit usage this month."""
    state = get_state(ctx)
    with state.client() as client:
        body = client.usage()
        if state.json:
            print_raw(client.last_body)
            return
    print_fields(usage_lines(body))
