"""`hotline zalo …`: the Zalo Official Account's commands."""

from __future__ import annotations

import asyncio

import typer

app = typer.Typer(help="The Zalo Official Account.", no_args_is_help=True)


@app.command("set-tokens")
def set_tokens(
    expires_in: int = typer.Option(90000, help="Seconds the access token is valid."),
) -> None:
    """Stores an OAuth v4 pair (from the Zalo developer console), asked without echo."""
    from datetime import timedelta

    from bot.db.base import utcnow
    from connectors.zalo.tokens import TokenPair, save_pair

    access = typer.prompt("Access token", hide_input=True)
    refresh = typer.prompt("Refresh token", hide_input=True)
    save_pair(TokenPair(access, refresh, utcnow() + timedelta(seconds=expires_in)))
    typer.echo("Zalo tokens stored; the hotline refreshes them from now on.")
    typer.echo("If the channel was paused after a refused token: `hotline outbound resume zalo`.")


async def refresh_zalo_token() -> str:
    """Refreshes the Zalo pair now; returns the new expiry."""
    from bot.settings import get_settings
    from connectors.zalo.tokens import ZaloTokens, load_pair

    tokens = ZaloTokens(settings=get_settings())
    try:
        current = load_pair()
        await tokens.access_token(rejected=current.access_token if current else None)
    finally:
        await tokens.aclose()
    pair = load_pair()
    return pair.expires_at.isoformat() if pair else "unknown"


@app.command("refresh-token")
def refresh_token() -> None:
    """Refreshes the Zalo access token now (it is also refreshed ahead of expiry on use)."""
    expires_at = asyncio.run(refresh_zalo_token())
    typer.echo(f"Zalo access token valid until {expires_at}")
