"""`hotline telegram …`: the Telegram bot's commands."""

from __future__ import annotations

import asyncio

import typer

app = typer.Typer(help="The Telegram bot.", no_args_is_help=True)


@app.command("set-webhook")
def set_webhook(
    url: str = typer.Option(
        "", help="Public HTTPS URL; default PUBLIC_BASE_URL/webhooks/telegram."
    ),
) -> None:
    """Registers the webhook (with the secret token) with Telegram."""
    from connectors.telegram.commands import set_telegram_webhook

    target = asyncio.run(set_telegram_webhook(url or None))
    typer.echo(f"Telegram will deliver updates to {target}")


@app.command("poll")
def poll() -> None:
    """Long polling for a local run without a public URL (removes the webhook); Ctrl-C stops."""
    from connectors.telegram.commands import TokenRefused, poll_telegram

    try:
        asyncio.run(poll_telegram())  # stops on SIGINT/SIGTERM itself
    except TokenRefused as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
