"""The ``rapport`` command line."""

from __future__ import annotations

import json
import os
import sys

import click

from shared.config import SERVICES, jwt_secret
from shared.logs import configure_logging


@click.group()
def main() -> None:
    """Rapport: the client-relationship backend for massage-therapy clinic chains."""
    configure_logging()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="Default: RAPPORT_GATEWAY_PORT or 8080.")
def run(host: str, port: int | None) -> None:
    """Run the embedded platform: four services, SQLite, in-process broker, gateway."""
    from rapport import embedded

    port = port or int(os.environ.get("RAPPORT_GATEWAY_PORT", "8080"))
    embedded.run(host, port, _banner)


def _banner(url: str, var) -> None:
    click.echo(
        f"""
Rapport is running (embedded mode).
  gateway    {url}   (/intake /sessions /followup /notify; docs at {url}/intake/docs)
  data       {var}   (one SQLite database per service; mail in {var}/mail)
  token      .venv/bin/rapport token --role manager --org demo --location downtown
  try        curl -H "Authorization: Bearer $TOKEN" {url}/intake/clients
Stop with Ctrl-C.
""",
        err=False,
    )
    sys.stdout.flush()


@main.command()
@click.option("--role", required=True, type=click.Choice(["org_admin", "manager", "front_desk", "therapist", "client"]))
@click.option("--org", required=True)
@click.option("--location", "locations", multiple=True, required=True, help="Repeat for several; '*' for every location (org_admin).")
@click.option("--sub", default=None, help="The subject: the client id for a client, the therapist id for a therapist.")
@click.option("--ttl", default=8 * 3600, show_default=True, help="Seconds until it expires.")
def token(role: str, org: str, locations: tuple[str, ...], sub: str | None, ttl: int) -> None:
    """Print a signed bearer token (HS256 with RAPPORT_JWT_SECRET or var/jwt-secret)."""
    from shared.auth import mint

    click.echo(mint(jwt_secret(), role=role, org=org, locations=locations, sub=sub, ttl_seconds=ttl))


@main.command()
@click.argument("names", nargs=-1, type=click.Choice(SERVICES))
def migrate(names: tuple[str, ...]) -> None:
    """Apply migrations to each named service's RAPPORT_DATABASE_URL (default: all)."""
    from rapport import services as host

    for name in names or SERVICES:
        service = host.build(name)
        service.migrate()
        service.close()
        click.echo(f"{name}: migrated")


@main.command()
@click.argument("name", type=click.Choice(SERVICES))
@click.argument("role", type=click.Choice(["web", "consumer", "relay"]))
@click.option("--bind", default="0.0.0.0:8000", show_default=True, help="web only")
@click.option("--workers", type=int, default=None, help="web only; default RAPPORT_WEB_WORKERS or 2")
@click.option("--migrate/--no-migrate", "run_migrations", default=False, help="Apply migrations first.")
def serve(name: str, role: str, bind: str, workers: int | None, run_migrations: bool) -> None:
    """Run one process of one service (what compose and `make up` start)."""
    from rapport import services as host
    from shared.runner import run_consumer, run_forever, run_relay

    os.environ["RAPPORT_PROCESS"] = f"{name}-{role}"
    configure_logging()
    if run_migrations:
        service = host.build(name)
        service.migrate()
        service.close()
    if role == "web":
        workers = workers or int(os.environ.get("RAPPORT_WEB_WORKERS", "2"))
        threads = os.environ.get("RAPPORT_WEB_THREADS", "4")
        os.execvp(
            sys.executable,
            [
                sys.executable, "-m", "gunicorn",
                "--config", "python:rapport.gunicorn_conf",
                "--bind", bind, "--workers", str(workers), "--threads", threads,
                f"{name}.app:create_app()",
            ],
        )  # fmt: skip
    service = host.build(name)
    run_forever(run_consumer if role == "consumer" else run_relay, service)


@main.command()
def up() -> None:
    """Start the local distributed mode (PostgreSQL, RabbitMQ, gunicorn, nginx)."""
    from rapport import local

    layout = local.Layout.from_env()
    try:
        local.up(layout)
    except local.LocalModeError as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        f"""
Rapport is running (local distributed mode).
  gateway    http://127.0.0.1:{layout.gateway_port}  (nginx)
  databases  {', '.join(layout.database_url(s) for s in SERVICES)}
  broker     {layout.broker_url}
  logs       {layout.log_dir}
  token      .venv/bin/rapport token --role manager --org demo --location downtown
Stop with `make down`.
"""
    )


@main.command()
def down() -> None:
    """Stop the local distributed mode."""
    from rapport import local

    stopped = local.down(local.Layout.from_env())
    click.echo(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@main.command()
def status() -> None:
    """Which processes of the local distributed mode are running."""
    from rapport import local

    layout = local.Layout.from_env()
    running = local.running_processes(layout)
    for name in local.expected_processes(layout):
        click.echo(f"{name:22} {'running pid ' + str(running[name]) if name in running else 'stopped'}")


@main.group()
def broker() -> None:
    """Broker topology."""


@broker.command("declare")
def broker_declare() -> None:
    """Declare the exchanges and every service's queues on RAPPORT_BROKER_URL."""
    from rapport import services as host

    built = {name: host.build(name) for name in SERVICES}
    host.declare_all(built)
    for service in built.values():
        service.close()
    click.echo("declared rapport.events, rapport.private and every service's queues")


@main.group()
def dlq() -> None:
    """Inspect and replay parked (dead-lettered) messages of a service."""


def _dead_letters(name: str):
    from rapport.dlq import DeadLetters
    from shared.config import Settings

    try:
        return DeadLetters(Settings.from_env(name))
    except ValueError as error:
        raise click.ClickException(str(error)) from error


@dlq.command("list")
@click.argument("name", type=click.Choice(SERVICES))
@click.option("--limit", default=100, show_default=True)
def dlq_list(name: str, limit: int) -> None:
    """One JSON line per parked message: event id, type, attempts, error."""
    for parked in _dead_letters(name).list(limit):
        click.echo(json.dumps(parked.summary()))


@dlq.command("show")
@click.argument("name", type=click.Choice(SERVICES))
@click.argument("event_id")
def dlq_show(name: str, event_id: str) -> None:
    """A parked message with its headers and body."""
    for parked in _dead_letters(name).list(10_000):
        if parked.event_id == event_id:
            click.echo(json.dumps(parked.detail(), indent=2, default=str))
            return
    raise click.ClickException(f"no parked message with event id {event_id}")


@dlq.command("replay")
@click.argument("name", type=click.Choice(SERVICES))
@click.argument("event_id", required=False)
@click.option("--all", "everything", is_flag=True, help="Replay every parked message.")
def dlq_replay(name: str, event_id: str | None, everything: bool) -> None:
    """Send parked messages back to the service's queue (processed once, thanks to the inbox)."""
    if not event_id and not everything:
        raise click.UsageError("give an EVENT_ID or --all")
    replayed = _dead_letters(name).replay(event_id, everything=everything)
    if not replayed:
        raise click.ClickException("nothing replayed: no such parked message")
    click.echo(f"replayed {len(replayed)}: {', '.join(replayed)}")


if __name__ == "__main__":
    main()

