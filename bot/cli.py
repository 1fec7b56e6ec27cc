"""`hotline …`: the one command line for operating the hotline."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.places.wards import Ward
    from bot.users.models import User

app = typer.Typer(help="Citizen help hotline operations.", no_args_is_help=True)
handoffs_app = typer.Typer(help="Conversations waiting for a person.", no_args_is_help=True)
content_app = typer.Typer(help="The editable content files.", no_args_is_help=True)
outbound_app = typer.Typer(
    help="Messages to residents and teams: delivery state, dead letters.", no_args_is_help=True
)
jobs_app = typer.Typer(help="The inbound job queue's dead letters.", no_args_is_help=True)
channels_app = typer.Typer(help="Channel problems admins should see.", no_args_is_help=True)
privacy_app = typer.Typer(
    help="Residents' personal data: erasure, retention.", no_args_is_help=True
)
app.add_typer(handoffs_app, name="handoffs")
app.add_typer(content_app, name="content")
teams_app = typer.Typer(help="Support teams and the wards they cover.", no_args_is_help=True)
requests_app = typer.Typer(help="Hardship (aid) requests.", no_args_is_help=True)
app.add_typer(teams_app, name="teams")
app.add_typer(requests_app, name="requests")
app.add_typer(channels_app, name="channels")
app.add_typer(privacy_app, name="privacy")
demo_app = typer.Typer(help="Demo data (never on a live hotline).", no_args_is_help=True)
app.add_typer(demo_app, name="demo")
report_app = typer.Typer(help="Reports for admins.", no_args_is_help=True)
dashboard_app = typer.Typer(help="The admin dashboard's daily roll-ups.", no_args_is_help=True)
app.add_typer(dashboard_app, name="dashboard")
app.add_typer(report_app, name="report")
app.add_typer(outbound_app, name="outbound")
app.add_typer(jobs_app, name="jobs")
users_app = typer.Typer(help="Staff accounts: admin, staff, team.", no_args_is_help=True)
app.add_typer(users_app, name="users")
advisories_app = typer.Typer(help="Advisories to subscribers.", no_args_is_help=True)
app.add_typer(advisories_app, name="advisories")


def _add_channel_commands() -> None:
    from bot.channels.registry import command_groups

    for name, group in command_groups().items():
        app.add_typer(group, name=name)


_add_channel_commands()


@app.command()
def migrate() -> None:
    """Brings the database schema up to date (Alembic upgrade head)."""
    from bot.db.migrate import upgrade

    upgrade()
    typer.echo("Database is up to date.")


@app.command()
def train(force: bool = typer.Option(False, help="Train even if nothing changed.")) -> None:
    """Trains the Rasa model if its data, domain, config or tokenizer changed."""
    from bot.training import train as train_model

    started = time.monotonic()
    if train_model(force=force):
        typer.echo(f"Model trained in {time.monotonic() - started:.0f} s.")
    else:
        typer.echo("Model is up to date (training data unchanged).")


@app.command()
def run(
    role: Annotated[
        list[str] | None,
        typer.Option(
            "--role",
            help="What this machine runs: rasa, actions, web, worker (repeat it, or a comma "
            "list). Default: rasa, actions and web, the workers inside the web app.",
        ),
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Interface of the one listening role (default loopback).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port of the one listening role.")] = None,
    rasa_workers: int = typer.Option(1, help="Sanic workers for Rasa (more than 1 needs Redis)."),
    quiet: bool = typer.Option(False, help="Do not echo the processes' output."),
    ready_timeout: float = typer.Option(240, help="Seconds to wait for every process."),
) -> None:
    """Starts the hotline's processes (all of them by default), restarts any that dies;
    Ctrl-C stops all."""
    from bot.supervisor import RestartPolicy, Supervisor, parse_roles, role_specs
    from bot.training import MODEL_PATH

    settings = get_settings()
    try:
        roles = parse_roles(role or [])
        specs = role_specs(settings, roles, rasa_workers=rasa_workers, host=host, port=port)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if rasa_workers > 1 and not settings.redis_url:
        raise typer.BadParameter(
            "several Rasa workers share conversations only through Redis: set REDIS_URL"
        )
    if "rasa" in roles and not MODEL_PATH.exists():
        typer.echo("No trained model: run `hotline train` (or ./dev up) first.", err=True)
        raise typer.Exit(2)
    supervisor = Supervisor(specs, echo=not quiet, policy=RestartPolicy.from_settings(settings))
    names = {"rasa": "Rasa", "actions": "the action server", "web": "the web app"}
    typer.echo(f"Starting {', '.join(names.get(r, 'the workers') for r in roles)}…")
    code = supervisor.run(
        ready_timeout=ready_timeout,
        on_ready=lambda took: _ready_message(settings, specs, took),
    )
    sys.exit(code)


def _ready_message(settings: Any, specs: list[Any], took: float) -> str:
    if {"rasa", "actions", "web"} <= {spec.name for spec in specs}:
        return (
            f"\nThe hotline is ready ({took:.0f} s). "
            f"Chat with it at {settings.public_base_url}/  — Ctrl-C stops everything.\n"
        )
    where = ", ".join(
        f"{spec.name} on {spec.host}:{spec.port}" if spec.port else spec.name for spec in specs
    )
    return f"\nReady ({took:.0f} s): {where}. Ctrl-C stops them.\n"


@handoffs_app.command("list")
def handoffs_list(as_json: bool = typer.Option(False, "--json", help="JSON output.")) -> None:
    """Lists open hand-offs, emergencies first."""
    from bot.db.session import session_scope
    from bot.handoff.service import open_handoffs

    with session_scope() as session:
        rows: list[dict[str, str | int]] = [
            {
                "id": h.id,
                "conversation_id": h.resident.conversation_id,
                "reason": h.reason,
                "created_at": h.created_at.isoformat(),
            }
            for h in open_handoffs(session=session)
        ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        typer.echo(
            f"{row['id']:>5}  {row['reason']:<13} {str(row['created_at'])[:19]}  "
            f"{row['conversation_id']}"
        )
    if not rows:
        typer.echo("No conversation is waiting for a person.")


@teams_app.command("import")
def teams_import(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="YAML or CSV file.")],
) -> None:
    """Creates or updates teams from a file (slug, name, level, province_code,
    telegram_chat_id, ward_codes)."""
    from bot.db.session import session_scope
    from bot.teams.service import TeamImportError, import_teams

    try:
        with session_scope() as session:
            count = import_teams(session=session, path=path, actor="cli")
    except TeamImportError as exc:
        typer.echo(f"Not imported: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Imported {count} teams.")


@teams_app.command("import-demo")
def teams_import_demo(
    if_empty: bool = typer.Option(False, "--if-empty", help="Only when no team exists yet."),
) -> None:
    """Imports the demo teams shipped in data/teams/demo_teams.yml."""
    from bot.db.session import session_scope
    from bot.settings import PROJECT_ROOT
    from bot.teams.service import has_teams, import_teams

    with session_scope() as session:
        if if_empty and has_teams(session=session):
            typer.echo("Teams exist already; demo teams not imported.")
            return
        count = import_teams(
            session=session, path=PROJECT_ROOT / "data" / "teams" / "demo_teams.yml", actor="cli"
        )
    typer.echo(f"Imported {count} demo teams.")


def _ward_label(ward: Ward | None) -> str | None:
    return ward.label if ward else None


@teams_app.command("list")
def teams_list(as_json: bool = typer.Option(False, "--json", help="JSON output.")) -> None:
    """Lists the teams with the wards they cover."""
    from bot.db.session import session_scope
    from bot.places.wards import get_ward
    from bot.teams.service import list_teams

    with session_scope() as session:
        rows: list[dict[str, Any]] = [
            {
                "slug": t.slug,
                "name": t.name,
                "level": t.level,
                "province_code": t.province_code,
                "telegram_chat_id": t.telegram_chat_id,
                "wards": [
                    {
                        "code": w.ward_code,
                        "name": _ward_label(get_ward(w.ward_code)),
                    }
                    for w in t.wards
                ],
            }
            for t in list_teams(session=session)
        ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        wards = ", ".join(w["code"] for w in row["wards"]) or "-"
        chat = row["telegram_chat_id"] or "no chat"
        typer.echo(f"{row['slug']:<20} {row['level']:<9} {chat:<16} {row['name']}  [{wards}]")


@requests_app.command("list")
def requests_list(
    ward: str | None = typer.Option(None, help="Ward code, e.g. 26743."),
    status: str | None = typer.Option(None, help="new, assigned, in_progress, resolved, …"),
    team: str | None = typer.Option(None, help="Team slug."),
    limit: int = typer.Option(200, help="At most this many."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Lists aid requests by priority score, highest first."""
    from bot.db.session import session_scope
    from bot.places.wards import get_ward
    from bot.requests.codes import format_ref
    from bot.requests.models import RequestStatus
    from bot.requests.service import list_aid_requests
    from bot.requests.validation import format_phone

    if status and status not in set(RequestStatus):
        raise typer.BadParameter(f"status must be one of {', '.join(RequestStatus)}")
    with session_scope() as session:
        rows: list[dict[str, Any]] = []
        for r in list_aid_requests(
            session=session, ward_code=ward, status=status, team_slug=team, limit=limit
        ):
            place = get_ward(r.ward_code)
            rows.append(
                {
                    "ref": format_ref(r.ref_code),
                    "status": r.status,
                    "priority": r.priority,
                    "priority_score": r.priority_score,
                    "priority_reasons": r.priority_reasons,
                    "needs": r.needs,
                    "ward_code": r.ward_code,
                    "ward": place.label if place else None,
                    "team": r.team.slug if r.team else None,
                    "team_name": r.team.name if r.team else None,
                    "routing": r.routing_note,
                    "household_size": r.household_size,
                    "vulnerable": r.vulnerable,
                    "address": r.address_detail,
                    "phone": r.phone,
                    "phone_display": format_phone(r.phone),
                    "description": r.description,
                    "created_at": r.created_at.isoformat(),
                }
            )
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        typer.echo(
            f"{row['ref']}  P{row['priority']} {row['priority_score']:>3}đ  {row['status']:<11} "
            f"{','.join(row['needs']):<20} "
            f"{row['ward'] or row['ward_code']}  → {row['team'] or '-'}"
        )
    if not rows:
        typer.echo("No request matches.")


@requests_app.command("set-status")
def requests_set_status(
    ref: str = typer.Argument(..., help="Reference code, e.g. 7KQ2-M9XA."),
    status: str = typer.Argument(..., help="assigned, in_progress, resolved, rejected, duplicate"),
    reason: str = typer.Option("", help="Why (kept in the history)."),
    by: str = typer.Option("", help="Who (default: the OS user)."),
) -> None:
    """Moves a request along its workflow, recording who, when and why."""
    import getpass

    from bot.db.session import session_scope
    from bot.requests.codes import parse_ref
    from bot.requests.models import RequestStatus
    from bot.requests.service import StatusChangeNotAllowed, set_status

    code = parse_ref(ref)
    if code is None or status not in set(RequestStatus):
        raise typer.BadParameter("give a code like 7KQ2-M9XA and a known status")
    actor = f"cli:{by or getpass.getuser()}"
    try:
        with session_scope() as session:
            request = set_status(
                session=session,
                ref_code=code,
                status=RequestStatus(status),
                actor=actor,
                reason=reason,
            )
            typer.echo(f"{ref.upper()} is now {request.status}.")
    except LookupError:
        typer.echo(f"No request {ref}.", err=True)
        raise typer.Exit(1) from None
    except StatusChangeNotAllowed as exc:
        typer.echo(f"Not allowed: {exc}", err=True)
        raise typer.Exit(1) from None


@content_app.command("check")
def content_check() -> None:
    """Checks the content files and lists the example values that replies still use."""
    from pydantic import ValidationError

    from bot.content.service import check_content, example_content_in_use

    try:
        get_settings()
    except ValidationError as exc:  # production refusing the content (or other settings)
        for error in exc.errors():
            typer.echo(f"problem: {error['msg']}", err=True)
        raise typer.Exit(1) from None
    # No directory given: the live content, i.e. the files with admins' edits laid over them.
    problems = check_content()
    for problem in problems:
        typer.echo(f"problem: {problem}", err=True)
    if problems:
        raise typer.Exit(1)
    examples = example_content_in_use()
    for example in examples:
        typer.echo(f"example: {example}")
    if examples:
        typer.echo(
            f"{len(examples)} example value(s) or file(s) in use: residents get the fallbacks "
            "(national lines, general wording) instead, and ENV=production refuses to start."
        )
    typer.echo("Content files are usable.")


@app.command()
def worker() -> None:
    """Runs the workers alone: inbound jobs (residents' turns) and outbound messages.

    Use it when the web app does not run them (WORKER_IN_PROCESS=false).
    """
    from bot.worker import run_worker

    asyncio.run(run_worker())


@channels_app.command("incidents")
def channels_incidents(
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
    limit: int = typer.Option(50, help="How many, newest first."),
) -> None:
    """Lists undeliverable replies, residents outside the reply window, token failures."""
    from bot.channels.incidents import recent_incidents
    from bot.db.session import session_scope

    with session_scope() as session:
        rows: list[dict[str, Any]] = [
            {
                "id": i.id,
                "channel": i.channel,
                "kind": i.kind,
                "conversation_id": i.conversation_id,
                "code": i.code,
                "detail": i.detail,
                "created_at": i.created_at.isoformat(),
            }
            for i in recent_incidents(session=session, limit=limit)
        ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        typer.echo(
            f"{row['id']:>5}  {row['created_at'][:19]}  {row['channel']:<8} {row['kind']:<20} "
            f"{row['code'] or '':<6} {row['conversation_id'] or ''}"
        )
    if not rows:
        typer.echo("No channel incidents.")


@outbound_app.command("list")
def outbound_list(
    status: str | None = typer.Option(
        None, help="pending, sent, failed_retrying, dead or skipped."
    ),
    conversation: str | None = typer.Option(None, help="Only this conversation id."),
    limit: int = typer.Option(50, help="How many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Lists outbound messages with their delivery state (never their text)."""
    from bot.db.session import session_scope
    from bot.outbound.models import OutboundStatus
    from bot.outbound.service import DeliveryState, list_messages

    if status and status not in set(OutboundStatus):
        raise typer.BadParameter(f"status must be one of {', '.join(OutboundStatus)}")
    with session_scope() as session:
        rows: list[dict[str, Any]] = []
        for message in list_messages(
            session=session,
            status=OutboundStatus(status) if status else None,
            conversation_id=conversation,
            limit=limit,
        ):
            state = DeliveryState.of(message)
            rows.append(
                {
                    "id": state.id,
                    "kind": state.kind,
                    "channel": state.channel,
                    "conversation_id": message.conversation_id,
                    "status": state.status,
                    "skip_reason": state.skip_reason,
                    "attempts": state.attempts,
                    "last_error": state.last_error,
                    "sent_at": state.sent_at.isoformat() if state.sent_at else None,
                    "updated_at": state.updated_at.isoformat(),
                }
            )
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        state = row["status"] + (f":{row['skip_reason']}" if row["skip_reason"] else "")
        typer.echo(
            f"{row['id']:>6}  {row['updated_at'][:19]}  {row['channel']:<8} {row['kind']:<18} "
            f"{state:<24} tries {row['attempts']:<3} {row['last_error'] or ''}"
        )
    if not rows:
        typer.echo("No outbound message matches.")


@outbound_app.command("replay")
def outbound_replay(
    message_id: int | None = typer.Argument(None, help="The id shown by `outbound list`."),
    all_dead: bool = typer.Option(False, "--all-dead", help="Every dead letter."),
) -> None:
    """Puts dead letters back in the queue with fresh tries (the worker sends them)."""
    from bot.db.session import session_scope
    from bot.outbound.service import NotReplayable, replay, replay_all_dead

    if (message_id is None) == (not all_dead):
        raise typer.BadParameter("give a message id or --all-dead")
    try:
        with session_scope() as session:
            if all_dead:
                count = replay_all_dead(session=session)
            else:
                if message_id is None:
                    raise RuntimeError("message_id is missing")
                replay(session=session, message_id=message_id)
                count = 1
    except LookupError:
        typer.echo(f"No outbound message {message_id}.", err=True)
        raise typer.Exit(1) from None
    except NotReplayable as exc:
        typer.echo(f"Not replayed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{count} message(s) queued again.")


@outbound_app.command("resume")
def outbound_resume(channel: str = typer.Argument(..., help="telegram, zalo, …")) -> None:
    """Lifts the pause of a channel whose token was refused (after fixing the token)."""
    import redis.asyncio as aioredis

    from bot.outbound.sender import ChannelPauses

    url = get_settings().redis_url
    if not url:
        typer.echo(
            "Without REDIS_URL the pause lives inside the web app: restart it to resume.",
            err=True,
        )
        raise typer.Exit(1)

    async def resume() -> bool:
        redis = aioredis.Redis.from_url(url, decode_responses=True)
        try:
            return await ChannelPauses(redis).resume(channel)
        finally:
            await redis.connection_pool.disconnect()

    was_paused = asyncio.run(resume())
    typer.echo(f"{channel} resumed." if was_paused else f"{channel} was not paused.")


@jobs_app.command("dead")
def jobs_dead(
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
    limit: int = typer.Option(50, help="How many, newest first."),
) -> None:
    """Lists inbound jobs that failed every try (never their text)."""
    from bot.db.session import session_scope
    from bot.delivery.service import dead_jobs

    with session_scope() as session:
        rows: list[dict[str, Any]] = [
            {
                "id": d.id,
                "channel": d.channel,
                "kind": d.kind,
                "conversation_id": d.conversation_id,
                "error": d.error,
                "attempts": d.attempts,
                "replay_requested": d.replay_requested_at is not None,
                "created_at": d.created_at.isoformat(),
            }
            for d in dead_jobs(session=session, limit=limit)
        ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        replay_mark = "  (replay asked)" if row["replay_requested"] else ""
        typer.echo(
            f"{row['id']:>5}  {row['created_at'][:19]}  {row['channel']:<8} {row['kind']:<11} "
            f"{row['error']:<24} tries {row['attempts']}  {row['conversation_id']}{replay_mark}"
        )
    if not rows:
        typer.echo("No dead job.")


@jobs_app.command("replay")
def jobs_replay(
    dead_id: int | None = typer.Argument(None, help="The id shown by `jobs dead`."),
    all_dead: bool = typer.Option(False, "--all-dead", help="Every dead job."),
) -> None:
    """Asks the worker to put dead jobs back on the queue (it does so within a minute)."""
    from bot.db.session import session_scope
    from bot.delivery.service import request_replay

    if (dead_id is None) == (not all_dead):
        raise typer.BadParameter("give a dead job id or --all-dead")
    with session_scope() as session:
        count = request_replay(session=session, dead_job_id=None if all_dead else dead_id)
    if not count:
        typer.echo("No such dead job (or its replay is already asked).", err=True)
        raise typer.Exit(1)
    typer.echo(f"{count} job(s) will be queued again by the worker.")


async def _with_rasa_and_redis(work: Any) -> Any:
    from bot.conversations.rasa_client import RasaClient
    from bot.infra.redis import get_redis

    settings = get_settings()
    rasa = RasaClient(settings)
    try:
        return await work(settings, get_redis(), rasa)
    finally:
        await rasa.aclose()


@privacy_app.command("purge")
def privacy_purge(
    dry_run: bool = typer.Option(False, "--dry-run", help="Count only; delete nothing."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Deletes the personal data older than PRIVACY_RETENTION_MONTHS (the worker does it daily)."""
    import getpass

    from bot.privacy.runtime import purge_expired

    async def work(settings: Any, redis: Any, rasa: Any) -> Any:
        return await purge_expired(
            settings=settings,
            redis=redis,
            tracker_store=rasa,
            actor=f"cli:{getpass.getuser()}",
            dry_run=dry_run,
        )

    purge = asyncio.run(_with_rasa_and_redis(work))
    detail = purge.audit_detail()
    if as_json:
        typer.echo(json.dumps({"dry_run": dry_run, **detail}, ensure_ascii=False))
        return
    verb = "Would delete" if dry_run else "Deleted"
    typer.echo(f"{verb} personal data older than {purge.cutoff:%Y-%m-%d}:")
    for name, count in sorted(purge.rows.items()):
        typer.echo(f"  {name}: {count}")
    if not purge.rows:
        typer.echo("  nothing")
    if not dry_run:
        typer.echo(
            f"  Redis keys: {purge.keys}; Rasa trackers erased: {purge.trackers}, "
            f"trimmed of old events: {purge.trackers_trimmed}"
            + (f" ({purge.trackers_failed} not reachable)" if purge.trackers_failed else "")
        )


@privacy_app.command("erase")
def privacy_erase(
    conversation_id: str = typer.Argument(..., help="e.g. telegram:123456789"),
) -> None:
    """Erases everything about one conversation (a resident's request made by other means)."""
    import getpass

    from bot.privacy.runtime import erase_conversation
    from bot.residents.service import InvalidConversationId, check_conversation_id

    try:
        check_conversation_id(conversation_id)
    except InvalidConversationId:
        typer.echo("Not a conversation id (telegram:<id>, zalo:<id> or web:<id>).", err=True)
        raise typer.Exit(2) from None

    async def work(settings: Any, redis: Any, rasa: Any) -> Any:
        return await erase_conversation(
            settings=settings,
            redis=redis,
            tracker_store=rasa,
            conversation_id=conversation_id,
            actor=f"cli:{getpass.getuser()}",
        )

    erasure = asyncio.run(_with_rasa_and_redis(work))
    rows = ", ".join(f"{name} {count}" for name, count in sorted(erasure.rows.items()))
    typer.echo(f"Erased rows: {rows or 'none'}; Redis keys: {erasure.keys}.")
    if erasure.tracker is False:
        typer.echo("Rasa was not reachable: its tracker was NOT erased; run again.", err=True)
        raise typer.Exit(1)


@demo_app.command("seed")
def demo_seed(
    requests: int = typer.Option(..., "--requests", min=1, max=5_000_000, help="How many."),
    days: int = typer.Option(120, min=1, max=3650, help="Spread over the last N days."),
    seed: int | None = typer.Option(None, help="Random seed (same data again)."),
) -> None:
    """Fills the database with realistic demo requests, residents and hand-offs."""
    from bot.db.session import session_scope
    from bot.demo.seed import seed_demo

    if get_settings().env == "production":
        typer.echo("Refused: demo data on a production hotline (ENV=production).", err=True)
        raise typer.Exit(1)
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        if done == total or done % 100_000 == 0:
            typer.echo(f"  {done:,} / {total:,} requests ({time.monotonic() - started:.0f} s)")

    with session_scope() as session:
        summary = seed_demo(
            session=session, requests=requests, days=days, seed=seed, progress=progress
        )
    typer.echo(
        f"Added {summary.requests} requests, {summary.residents} residents, "
        f"{summary.handoffs} hand-offs ({summary.teams} demo teams) "
        f"in {time.monotonic() - started:.1f} s."
    )


@dashboard_app.command("rebuild-rollups")
def dashboard_rebuild_rollups(
    since: str | None = typer.Option(
        None, "--since", help="YYYY-MM-DD: only the days from this date (default: all)."
    ),
) -> None:
    """Recomputes the dashboard's daily roll-ups from the requests (after a restore, an
    import or a manual fix of the database)."""
    from datetime import date

    from bot.db.session import session_scope
    from bot.requests.rollups import rebuild_rollups

    try:
        first = date.fromisoformat(since) if since else None
    except ValueError:
        typer.echo("--since must be a date, YYYY-MM-DD.", err=True)
        raise typer.Exit(2) from None
    started = time.monotonic()
    with session_scope() as session:
        rows = rebuild_rollups(session=session, since=first)
    typer.echo(
        f"Roll-ups rebuilt{f' from {first}' if first else ''}: {rows} rows "
        f"in {time.monotonic() - started:.1f} s."
    )


@report_app.command("daily")
def report_daily(
    day: str | None = typer.Option(None, "--date", help="YYYY-MM-DD (default: yesterday)."),
    send: bool = typer.Option(False, "--send", help="Queue it to REPORT_TELEGRAM_CHAT_ID."),
    xlsx: Annotated[
        Path | None, typer.Option("--xlsx", help="Also write it as an XLSX file.")
    ] = None,
) -> None:
    """Prints the daily report (new, resolved, overdue, emergencies, hand-offs) of one day."""
    from datetime import date

    from bot.db.session import session_scope
    from bot.reports.daily import daily_report, report_text, send_report, write_report_xlsx
    from bot.reports.daily import yesterday as default_day

    try:
        chosen = date.fromisoformat(day) if day else default_day()
    except ValueError:
        raise typer.BadParameter("--date must be YYYY-MM-DD") from None
    with session_scope() as session:
        report = daily_report(session=session, day=chosen)
        typer.echo(report_text(report))
        if xlsx is not None:
            write_report_xlsx(report, xlsx)
            typer.echo(f"Written to {xlsx}.")
        if send:
            message = send_report(session=session, report=report, actor=_cli_actor())
            if message is None:
                typer.echo("Not sent: set REPORT_TELEGRAM_CHAT_ID.", err=True)
                raise typer.Exit(1)
            typer.echo(f"Queued to the admins' Telegram group (outbound message {message.id}).")


def _print_one_time_password(username: str, password: str) -> None:
    # On the terminal only, once: the hotline never logs or stores it in clear.
    typer.echo(f"One-time password for {username}: {password}")
    typer.echo("It is shown only now; the user must change it at first sign-in.")


@users_app.command("create")
def users_create(
    username: str = typer.Argument(..., help="Login name: a-z, 0-9, '.', '-', '_' (3-64)."),
    role: str = typer.Option(..., help="admin, staff or team."),
    team: Annotated[
        list[str] | None,
        typer.Option("--team", help="Team slug (repeat); required for the team role."),
    ] = None,
    name: str = typer.Option("", help="Display name (default: the username)."),
) -> None:
    """Creates an account and prints its one-time password once."""
    from bot.db.session import session_scope
    from bot.users.service import UserError, create_user

    try:
        with session_scope() as session:
            account = create_user(
                session=session,
                username=username,
                role=role,
                display_name=name or None,
                team_slugs=team or [],
                actor=_cli_actor(),
            )
            created = account.user.username
    except UserError as exc:
        typer.echo(f"Not created: {exc}", err=True)
        raise typer.Exit(1) from None
    if account.one_time_password is None:
        raise RuntimeError("account.one_time_password is missing")
    typer.echo(f"Created {role} {created}.")
    _print_one_time_password(created, account.one_time_password)


@users_app.command("update")
def users_update(
    username: str = typer.Argument(..., help="Login name."),
    role: str | None = typer.Option(None, help="New role: admin, staff or team."),
    team: Annotated[
        list[str] | None,
        typer.Option("--team", help="Team slug (repeat): replaces the user's teams."),
    ] = None,
    name: str | None = typer.Option(None, help="New display name."),
) -> None:
    """Changes an account's role, teams or display name."""
    from bot.db.session import session_scope
    from bot.users.service import UserError, update_user

    try:
        with session_scope() as session:
            user = _account(session, username)
            update_user(
                session=session,
                user=user,
                actor=_cli_actor(),
                role=role,
                team_slugs=team,
                display_name=name,
            )
            summary = (
                f"{user.username}: {user.role}, teams {','.join(t.slug for t in user.teams) or '-'}"
            )
    except UserError as exc:
        typer.echo(f"Not changed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(summary)


@users_app.command("create-first-admin")
def users_create_first_admin(
    username: str = typer.Option("admin", help="Login name of the first admin."),
) -> None:
    """Creates an admin when no account exists yet (./dev up), printing its one-time password once."""
    from bot.db.session import session_scope
    from bot.users.service import create_user, has_users

    with session_scope() as session:
        if has_users(session=session):
            typer.echo("Accounts exist already; no admin created.")
            return
        account = create_user(
            session=session,
            username=username,
            role="admin",
            display_name="Quản trị viên",
            actor="cli:first-run",
        )
    if account.one_time_password is None:
        raise RuntimeError("account.one_time_password is missing")
    typer.echo(f"Created the first admin account: {username}")
    _print_one_time_password(username, account.one_time_password)


@users_app.command("list")
def users_list(as_json: bool = typer.Option(False, "--json", help="JSON output.")) -> None:
    """Lists the accounts with their role, teams and state."""
    from bot.db.session import session_scope
    from bot.users.service import list_users

    with session_scope() as session:
        rows: list[dict[str, Any]] = [
            {
                "username": u.username,
                "display_name": u.display_name,
                "role": u.role,
                "teams": [t.slug for t in u.teams],
                "disabled": u.disabled,
                "must_change_password": u.must_change_password,
                "locked_until": u.locked_until.isoformat() if u.locked_until else None,
                "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
                "created_at": u.created_at.isoformat(),
            }
            for u in list_users(session=session)
        ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        state = "disabled" if row["disabled"] else "active"
        teams = ",".join(row["teams"]) or "-"
        typer.echo(
            f"{row['username']:<24} {row['role']:<6} {state:<9} {teams:<24} {row['display_name']}"
        )
    if not rows:
        typer.echo("No accounts yet: `hotline users create NAME --role admin`.")


def _change_user(username: str, change: str) -> str | None:
    """Runs one account change from the command line; returns a new one-time password if any."""
    from bot.db.session import session_scope
    from bot.users.service import (
        UserError,
        disable_user,
        enable_user,
        reset_password,
    )

    try:
        with session_scope() as session:
            user = _account(session, username)
            actor = _cli_actor()
            if change == "disable":
                disable_user(session=session, user=user, actor=actor)
            elif change == "enable":
                enable_user(session=session, user=user, actor=actor)
            else:
                return reset_password(session=session, user=user, actor=actor)
    except UserError as exc:
        typer.echo(f"Not changed: {exc}", err=True)
        raise typer.Exit(1) from None
    return None


def _account(session: Session, username: str) -> User:
    """The account of a username, or exit 1 saying there is none."""
    from bot.users.service import get_user_by_username

    user = get_user_by_username(session=session, username=username)
    if user is None:
        typer.echo(f"No account {username}.", err=True)
        raise typer.Exit(1)
    return user


def _cli_actor() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"[:64]


@users_app.command("disable")
def users_disable(username: str = typer.Argument(..., help="Login name.")) -> None:
    """Disables an account and ends all its sessions."""
    _change_user(username, "disable")
    typer.echo(f"{username} is disabled; their sessions have ended.")


@users_app.command("enable")
def users_enable(username: str = typer.Argument(..., help="Login name.")) -> None:
    """Lets a disabled account sign in again."""
    _change_user(username, "enable")
    typer.echo(f"{username} may sign in again.")


@users_app.command("reset-password")
def users_reset_password(username: str = typer.Argument(..., help="Login name.")) -> None:
    """Gives an account a new one-time password (printed once), unlocks it, ends its sessions."""
    password = _change_user(username, "reset")
    if password is None:
        raise RuntimeError("password is missing")
    _print_one_time_password(username.strip().lower(), password)


@advisories_app.command("list")
def advisories_list(limit: int = typer.Option(50, help="How many, newest first.")) -> None:
    """Lists advisories with their status and reach (not their text)."""
    from bot.advisories.service import list_advisories
    from bot.db.session import session_scope

    with session_scope() as session:
        rows = [
            (a.id, a.status, a.target_kind, len(a.target_codes), a.reach_total, a.title)
            for a in list_advisories(session=session, limit=limit)
        ]
    for id_, status, kind, areas, reach_total, title in rows:
        typer.echo(
            f"{id_:>5}  {status:<17} {kind:<9} {areas:>3} areas  reach {reach_total:<7} {title}"
        )
    if not rows:
        typer.echo("No advisories.")


@advisories_app.command("show")
def advisories_show(advisory_id: int = typer.Argument(..., help="The id shown by `list`.")) -> None:
    """Shows one advisory, its targets and its delivery report."""
    from bot.advisories.service import get_advisory, report
    from bot.db.session import session_scope

    with session_scope() as session:
        advisory = get_advisory(session=session, advisory_id=advisory_id)
        if advisory is None:
            typer.echo(f"No advisory {advisory_id}.", err=True)
            raise typer.Exit(1)
        result = report(session=session, advisory_id=advisory_id)
        typer.echo(f"#{advisory.id} {advisory.title} [{advisory.status}]")
        typer.echo(f"targets: {advisory.target_kind} {', '.join(advisory.target_codes) or '-'}")
        typer.echo(f"author user:{advisory.author_id}  approved by user:{advisory.approved_by_id}")
        typer.echo(f"send at: {advisory.send_at or 'now'}  reach: {advisory.reach_total}")
        typer.echo(advisory.text)
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(result.skipped.items())) or "none"
    typer.echo(
        f"queued {result.queued}: sent {result.sent}, failed {result.failed}, "
        f"pending {result.pending}, skipped {skipped}"
    )


if __name__ == "__main__":
    app()
