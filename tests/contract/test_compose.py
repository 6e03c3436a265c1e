"""Contract of the compose deployment: docker-compose.yml, services/*/Dockerfile, .dockerignore.

No Docker engine is needed. The files are parsed and held against the code they run: the
`rapport` command tree (resolved with click, choices and all), the environment variables the
code really reads, the settings those variables produce, and the gateway template that
`rapport up` renders too. Each check is a function returning the problems it finds; the tests
assert the real files have none, and the last tests show the checks catch broken copies.
"""

from __future__ import annotations

import ast
import copy
import importlib
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import click
import pytest
import yaml
from cryptography.fernet import Fernet

from rapport import local
from rapport.cli import main as rapport_cli
from shared.broker import QueueTopology
from shared.config import SERVICES, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"
DOC = ROOT / "docs" / "compose.md"
WEB_PORT = 8000
GATEWAY_PORT = 8080

ONE_SHOT_ROLES = {"migrate", "broker-init"}
LONG_RUNNING_ROLES = {"web", "consumer", "relay"}

# Variables the third-party images read themselves (from their own documentation).
IMAGE_ENV_ALLOWED = {
    "postgres": {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "POSTGRES_INITDB_ARGS", "PGDATA"},
    "rabbitmq": {"RABBITMQ_DEFAULT_USER", "RABBITMQ_DEFAULT_PASS", "RABBITMQ_DEFAULT_VHOST"},
    "axllent/mailpit": {"MP_MAX_MESSAGES", "MP_SMTP_AUTH_ACCEPT_ANY", "MP_SMTP_AUTH_ALLOW_INSECURE", "TZ"},
}

_INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)


# ------------------------------------------------------------------------------ reading


def load_compose(path: Path = COMPOSE_FILE) -> dict:
    with path.open() as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


def environment_of(service: dict) -> dict[str, str]:
    """A service's environment as a mapping, whichever of the two compose forms it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def depends_on_of(service: dict) -> dict[str, dict]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):  # the short form has no condition
        return {name: {} for name in deps}
    return {name: (spec or {}) for name, spec in deps.items()}


def interpolate(value: str, environ: dict[str, str]) -> str:
    """Compose's variable interpolation: $$, ${VAR}, ${VAR:-default}, ${VAR-default},
    ${VAR:?error}, ${VAR?error}. Raises LookupError where compose would refuse to start."""

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        value = environ.get(name)
        if op in (":-", ":?") and value == "":
            value = None
        if value is not None:
            return value
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            raise LookupError(f"{name}: {arg}")
        return ""

    return _INTERPOLATION.sub(replace, value)


def interpolation_names(text: str) -> set[str]:
    return {m.group("name") for m in _INTERPOLATION.finditer(text) if m.group("name")}


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def exec_form(arguments: str) -> list[str]:
    """A Dockerfile JSON (exec) form; shell form is rejected: signals must reach the process."""
    value = yaml.safe_load(arguments)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), arguments
    return value


def rapport_image_name(service: dict) -> str | None:
    """The Rapport service whose Dockerfile builds this container's image, if any."""
    build = service.get("build")
    if isinstance(build, dict):
        match = re.fullmatch(r"(?:\./)?services/([a-z]+)/Dockerfile", build.get("dockerfile", ""))
        if match:
            return match.group(1)
    image = str(service.get("image", ""))
    match = re.fullmatch(r"rapport/([a-z]+)(?::.*)?", image)
    return match.group(1) if match else None


def command_of(name: str, service: dict) -> list[str]:
    """What the container runs: compose's entrypoint/command, else the Dockerfile's CMD."""
    entry = service.get("entrypoint")
    command = service.get("command")
    for value in (entry, command):
        assert value is None or isinstance(value, list), f"{name}: use the exec (list) form"
    if entry or command:
        return [*(entry or []), *(command or [])]
    image = rapport_image_name(service)
    assert image, f"{name}: no command and no Rapport image"
    return dockerfile_cmd(ROOT / "services" / image / "Dockerfile")


def dockerfile_cmd(path: Path) -> list[str]:
    cmds = [args for keyword, args in dockerfile_instructions(path) if keyword == "CMD"]
    assert len(cmds) == 1, f"{path}: expected one CMD, found {len(cmds)}"
    return exec_form(cmds[0])


def resolve_rapport(argv: list[str]) -> tuple[click.Command, dict, list[str]]:
    """Resolves `rapport ...` through the real click command tree, validating every argument
    and option (unknown commands, bad choices and stray options raise click.UsageError).
    Returns the leaf command, its parsed parameters and the command path."""
    if not argv or argv[0] != "rapport":
        raise click.UsageError(f"not a rapport command: {argv!r}")
    command: click.Command = rapport_cli
    args = list(argv[1:])
    ctx = rapport_cli.make_context("rapport", list(args))
    path = ["rapport"]
    while isinstance(command, click.Group):
        if not args:
            raise click.UsageError(f"{' '.join(path)} needs a subcommand")
        name, sub, rest = command.resolve_command(ctx, args)
        if sub is None or command.get_command(ctx, name) is not sub:
            raise click.UsageError(f"no command {name!r} under {' '.join(path)}")
        path.append(name)
        ctx = sub.make_context(name, list(rest), parent=ctx)
        command, args = sub, rest
    return command, dict(ctx.params), path[1:]


def role_of(name: str, service: dict) -> str | None:
    """web | consumer | relay | migrate | broker-init for a Rapport container, else None."""
    if rapport_image_name(service) is None:
        return None
    _, params, path = resolve_rapport(command_of(name, service))
    if path == ["serve"]:
        return params["role"]
    if path == ["migrate"]:
        return "migrate"
    if path == ["broker", "declare"]:
        return "broker-init"
    return "other"


def rapport_containers(compose: dict) -> dict[str, tuple[str, str]]:
    """container name -> (role, the Rapport service it runs, or '*' for all of them)."""
    found = {}
    for name, service in compose["services"].items():
        role = role_of(name, service)
        if role is None:
            continue
        _, params, _ = resolve_rapport(command_of(name, service))
        if role == "migrate":
            names = params["names"]
            owner = names[0] if len(names) == 1 else "*"
        elif role == "broker-init":
            owner = "*"
        else:
            owner = params.get("name", "*")
        found[name] = (role, owner)
    return found


def names_read_by_code() -> set[str]:
    """Every RAPPORT_* name the code reads from the environment: a string literal passed to
    .get/.getenv/.pop/.setdefault or used as a subscript being read, in shared/, rapport/ and
    the service packages (their tests excluded)."""
    files = [*ROOT.glob("shared/**/*.py"), *ROOT.glob("rapport/**/*.py"), *ROOT.glob("services/*/**/*.py")]
    names: set[str] = set()
    pattern = re.compile(r"RAPPORT_[A-Z0-9_]+")
    for path in files:
        if "tests" in path.relative_to(ROOT).parts:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            candidates = []
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called in ("get", "getenv", "pop", "setdefault"):
                    candidates.append(node.args[0])
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
                candidates.append(node.slice)
            for candidate in candidates:
                if isinstance(candidate, ast.Constant) and isinstance(candidate.value, str):
                    if pattern.fullmatch(candidate.value):
                        names.add(candidate.value)
    return names


def template_names() -> set[str]:
    return set(re.findall(r"\$\{([A-Z_]+)\}", local.GATEWAY_TEMPLATE.read_text()))


def sample_environ(compose_text: str) -> dict[str, str]:
    """Values for the variables compose requires, as an operator's .env would give them."""
    environ = {"RAPPORT_JWT_SECRET": "compose-contract-" + "x" * 32}
    for name in interpolation_names(compose_text):
        if name.endswith("_DATA_KEY"):
            environ[name] = Fernet.generate_key().decode()
    return environ


# ------------------------------------------------------------------------------ checks
# Each returns a list of problems; an empty list means the contract holds.


def check_builds(compose: dict) -> list[str]:
    problems = []
    for name, service in compose["services"].items():
        build = service.get("build")
        if build is None:
            continue
        if isinstance(build, str):
            build = {"context": build}
        context = (ROOT / build.get("context", ".")).resolve()
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        if context != ROOT:
            problems.append(f"{name}: build context must be the repository root, not {context}")
        if not dockerfile.is_file():
            problems.append(f"{name}: Dockerfile {dockerfile} does not exist")
        image = rapport_image_name(service)
        if image is None:
            problems.append(f"{name}: builds {dockerfile}, which is no service's Dockerfile")
        elif service.get("image") and service["image"].split(":")[0] != f"rapport/{image}":
            problems.append(f"{name}: builds {image}'s Dockerfile but tags it {service['image']}")
    return problems


def check_commands(compose: dict) -> list[str]:
    problems = []
    for name, service in compose["services"].items():
        if rapport_image_name(service) is None:
            continue
        argv = command_of(name, service)
        try:
            _, params, path = resolve_rapport(argv)
        except click.ClickException as error:
            problems.append(f"{name}: `{shlex.join(argv)}` is no valid rapport command: {error.format_message()}")
            continue
        image = rapport_image_name(service)
        if path == ["serve"] or path == ["migrate"]:
            runs = [params["name"]] if path == ["serve"] else list(params["names"])
            if runs != [image]:
                problems.append(f"{name}: the {image} image runs {runs}; each image runs only its own service")
            if not name.startswith(f"{image}-"):
                problems.append(f"{name}: runs {image} but is not named {image}-<role>")
        elif path != ["broker", "declare"]:
            problems.append(f"{name}: runs `rapport {' '.join(path)}`, which compose has no use for")
        if path == ["serve"] and params["role"] == "web":
            if params["bind"] != f"0.0.0.0:{WEB_PORT}":
                problems.append(f"{name}: web must bind 0.0.0.0:{WEB_PORT}, not {params['bind']}")
        if path == ["serve"] and params["run_migrations"]:
            problems.append(f"{name}: migrations run in {image}-migrate, once, not in every process")
    return problems


def check_environment(compose: dict, read_by_code: set[str]) -> list[str]:
    problems = []
    for name, service in compose["services"].items():
        env = set(environment_of(service))
        image = str(service.get("image", "")).split(":")[0]
        if rapport_image_name(service):
            unknown = env - read_by_code
            what = "the code never reads"
        elif image == "nginx":
            unknown = env - template_names()
            what = "the gateway template never uses"
        elif image in IMAGE_ENV_ALLOWED:
            unknown = env - IMAGE_ENV_ALLOWED[image]
            what = f"the {image} image does not read"
        else:
            unknown, what = env, f"nothing is known about image {image!r}"
        if unknown:
            problems.append(f"{name}: sets {sorted(unknown)}, which {what}")
    return problems


def check_service_environment(compose: dict) -> list[str]:
    """Each Rapport process gets its own service's database, key, and the shared secrets."""
    problems = []
    services = compose["services"]
    containers = rapport_containers(compose)
    broker_urls = {environment_of(services[n]).get("RAPPORT_BROKER_URL") for n in containers}
    if len(broker_urls) != 1 or None in broker_urls:
        problems.append(f"every Rapport process needs the same RAPPORT_BROKER_URL; found {broker_urls}")
    elif "@rabbitmq:5672/" not in next(iter(broker_urls)):
        problems.append(f"RAPPORT_BROKER_URL must point at the rabbitmq service: {broker_urls}")
    for service_name in SERVICES:
        mine = {n: environment_of(services[n]) for n, (_, owner) in containers.items() if owner == service_name}
        roles = {containers[n][0] for n in mine}
        if roles != {"migrate", "web", "consumer", "relay"}:
            problems.append(f"{service_name}: containers for {sorted(roles)}; needs migrate, web, consumer, relay")
        if len({tuple(sorted(env.items())) for env in mine.values()}) > 1:
            problems.append(f"{service_name}: its processes must share one environment (database, key)")
        for container, env in mine.items():
            url = env.get("RAPPORT_DATABASE_URL", "")
            if not re.fullmatch(rf"postgresql://[^@]+@{service_name}-db:5432/{service_name}", url):
                problems.append(f"{container}: RAPPORT_DATABASE_URL {url!r} is not {service_name}-db's database")
            if not env.get("RAPPORT_JWT_SECRET", "").startswith("${RAPPORT_JWT_SECRET:?"):
                problems.append(f"{container}: RAPPORT_JWT_SECRET must be required from the environment")
            key = env.get("RAPPORT_DATA_KEY", "")
            if not key.startswith(f"${{RAPPORT_{service_name.upper()}_DATA_KEY:?"):
                problems.append(f"{container}: RAPPORT_DATA_KEY must be required as RAPPORT_{service_name.upper()}_DATA_KEY")
            if service_name == "followup" and "RAPPORT_FOLLOWUP_DELAY" not in env:
                problems.append(f"{container}: RAPPORT_FOLLOWUP_DELAY is not set")
            if service_name == "notify" and "smtp://mailpit:1025" not in env.get("RAPPORT_SMTP_URL", ""):
                problems.append(f"{container}: RAPPORT_SMTP_URL does not default to mailpit")
    return problems


def check_depends_on(compose: dict) -> list[str]:
    problems = []
    services = compose["services"]
    containers = rapport_containers(compose)
    for name, service in services.items():
        for target, spec in depends_on_of(service).items():
            if target not in services:
                problems.append(f"{name}: depends on {target}, which does not exist")
                continue
            condition = spec.get("condition")
            target_role = containers.get(target, (None,))[0]
            if target_role in ONE_SHOT_ROLES:
                expected = "service_completed_successfully"
            else:
                expected = "service_healthy"
            if condition != expected:
                problems.append(f"{name}: depends on {target} with condition {condition!r}, not {expected}")
            if condition == "service_healthy" and not has_healthcheck(target, services[target]):
                problems.append(f"{name}: waits for {target} to be healthy, but it has no healthcheck")
    for name, (role, owner) in containers.items():
        deps = depends_on_of(services[name])
        if role == "migrate" and f"{owner}-db" not in deps:
            problems.append(f"{name}: must wait for {owner}-db")
        if role in LONG_RUNNING_ROLES:
            for needed in (f"{owner}-db", f"{owner}-migrate"):
                if needed not in deps:
                    problems.append(f"{name}: must wait for {needed}")
        if role in ("consumer", "relay", "broker-init") and "rabbitmq" not in deps:
            problems.append(f"{name}: must wait for rabbitmq")
        if role == "relay" and "broker-init" not in deps:
            problems.append(f"{name}: publishes events, so must wait for broker-init (every queue declared)")
    if not any(role == "broker-init" for role, _ in containers.values()):
        problems.append("no container runs `rapport broker declare`")
    return problems


def has_healthcheck(name: str, service: dict) -> bool:
    check = service.get("healthcheck")
    if check is not None:
        return not check.get("disable") and bool(check.get("test"))
    image = rapport_image_name(service)  # a Rapport image brings the Dockerfile's HEALTHCHECK
    return bool(image) and any(k == "HEALTHCHECK" for k, _ in dockerfile_instructions(ROOT / "services" / image / "Dockerfile"))


def check_health_and_restarts(compose: dict) -> list[str]:
    problems = []
    services = compose["services"]
    containers = rapport_containers(compose)
    for name, service in services.items():
        role, owner = containers.get(name, (None, None))
        restart = service.get("restart", "no")
        check = service.get("healthcheck") or {}
        if role in ONE_SHOT_ROLES:
            if restart not in ("no", False):
                problems.append(f"{name}: a one-shot must not restart (restart: {restart!r})")
            if not check.get("disable"):
                problems.append(f"{name}: must disable the image's web healthcheck (it serves no port)")
            continue
        if restart != "unless-stopped":
            problems.append(f"{name}: long-running, so restart: unless-stopped (has {restart!r})")
        if role == "web":
            test = " ".join(check.get("test") or [])
            url = f"http://127.0.0.1:{WEB_PORT}/{owner}/healthz"
            if url not in test or "urllib" not in test:
                problems.append(f"{name}: healthcheck must fetch {url} with urllib, has {test!r}")
        elif role in ("consumer", "relay"):
            if not check.get("disable"):
                problems.append(f"{name}: serves no HTTP port, so must disable the image's web healthcheck")
        elif not has_healthcheck(name, service):
            problems.append(f"{name}: needs a healthcheck")
    for name, expected in (("rabbitmq", "rabbitmq-diagnostics -q ping"), ("intake-db", "pg_isready")):
        test = " ".join((services.get(name, {}).get("healthcheck") or {}).get("test") or [])
        if expected not in test:
            problems.append(f"{name}: healthcheck must run {expected!r}, has {test!r}")
    return problems


def check_gateway(compose: dict) -> list[str]:
    problems = []
    gateway = compose["services"].get("gateway")
    if gateway is None:
        return ["no gateway service"]
    if not str(gateway.get("image", "")).startswith("nginx:"):
        problems.append(f"gateway: image {gateway.get('image')!r} is not nginx")
    mounts = []
    for volume in gateway.get("volumes") or []:
        if isinstance(volume, str):
            source, target, *mode = volume.split(":")
            mounts.append((source, target, "ro" in mode))
        else:
            mounts.append((volume.get("source", ""), volume.get("target", ""), bool(volume.get("read_only"))))
    wanted = "/etc/nginx/templates/rapport.conf.template"
    matching = [m for m in mounts if m[1] == wanted]
    if not matching:
        problems.append(f"gateway: nothing mounted at {wanted}")
    for source, _, read_only in matching:
        if (ROOT / source).resolve() != local.GATEWAY_TEMPLATE.resolve():
            problems.append(f"gateway: mounts {source}, not the template `rapport up` renders")
        if not read_only:
            problems.append("gateway: mount the template read-only")
    env = environment_of(gateway)
    if set(env) != template_names():
        problems.append(f"gateway: sets {sorted(env)}, the template needs {sorted(template_names())}")
    if env.get("GATEWAY_PORT") != str(GATEWAY_PORT):
        problems.append(f"gateway: GATEWAY_PORT must be {GATEWAY_PORT}")
    for service_name in SERVICES:
        if env.get(f"{service_name.upper()}_UPSTREAM") != f"{service_name}-web:{WEB_PORT}":
            problems.append(f"gateway: {service_name.upper()}_UPSTREAM must be {service_name}-web:{WEB_PORT}")
    ports = [str(p) for p in gateway.get("ports") or []]
    if not any(interpolate(p, {}) == f"{GATEWAY_PORT}:{GATEWAY_PORT}" for p in ports):
        problems.append(f"gateway: must publish {GATEWAY_PORT}:{GATEWAY_PORT} by default, has {ports}")
    deps = depends_on_of(gateway)
    for service_name in SERVICES:
        if deps.get(f"{service_name}-web", {}).get("condition") != "service_healthy":
            problems.append(f"gateway: must wait for {service_name}-web to be healthy")
    return problems


def check_quorum(compose: dict, environ: dict[str, str]) -> list[str]:
    """Every consumer (and broker-init, which declares the same queues first) gets quorum
    queues with a delivery limit, through the settings the code really builds."""
    problems = []
    services = compose["services"]
    shapes = {}
    for name, (role, owner) in rapport_containers(compose).items():
        if role not in ("consumer", "broker-init"):
            continue
        env = {k: interpolate(v, environ) for k, v in environment_of(services[name]).items()}
        shape = tuple(env.get(k) for k in ("RAPPORT_QUEUE_TYPE", "RAPPORT_DELIVERY_LIMIT", "RAPPORT_RETRY_DELAYS"))
        shapes[name] = shape
        if env.get("RAPPORT_QUEUE_TYPE") != "quorum":
            problems.append(f"{name}: RAPPORT_QUEUE_TYPE must be quorum")
        if not env.get("RAPPORT_DELIVERY_LIMIT", "").isdigit() or int(env["RAPPORT_DELIVERY_LIMIT"]) < 1:
            problems.append(f"{name}: RAPPORT_DELIVERY_LIMIT must be a positive number")
            continue
        secrets = {"RAPPORT_JWT_SECRET": "x", "RAPPORT_DATA_KEY": Fernet.generate_key().decode()}
        environment = {**secrets, **env, "RAPPORT_VAR_DIR": "/nonexistent-so-nothing-is-generated"}
        settings = Settings.from_env(owner if owner in SERVICES else "intake", environment)
        main_queue = QueueTopology.for_service(settings, []).queues()[0]
        arguments = main_queue.queue_arguments
        if arguments.get("x-queue-type") != "quorum" or arguments.get("x-delivery-limit") != int(env["RAPPORT_DELIVERY_LIMIT"]):
            problems.append(f"{name}: the code would declare {main_queue.name} with {arguments}")
    if len(set(shapes.values())) > 1:
        problems.append(f"queues must be declared identically everywhere (PRECONDITION_FAILED otherwise): {shapes}")
    if not any(name for name, (role, _) in rapport_containers(compose).items() if role == "consumer"):
        problems.append("no consumer containers")
    return problems


def dockerignore_patterns() -> list[re.Pattern]:
    patterns = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("!"), "the matcher below does not handle exceptions"
        regex = ""
        for part in re.split(r"(\*\*/|\*|\?)", line.strip("/")):
            regex += {"**/": "(?:.*/)?", "*": "[^/]*", "?": "[^/]"}.get(part, re.escape(part))
        patterns.append(re.compile(regex))
    return patterns


def ignored(relative: str, patterns: list[re.Pattern]) -> bool:
    """Docker excludes a path when a pattern matches it or one of its parent folders."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(p.fullmatch(prefix) for p in patterns for prefix in prefixes)


def check_dockerfile(service_name: str, read_by_code: set[str]) -> list[str]:
    path = ROOT / "services" / service_name / "Dockerfile"
    if not path.is_file():
        return [f"{path} does not exist"]
    problems = []
    instructions = dockerfile_instructions(path)
    keywords = [k for k, _ in instructions]
    args = {k: [a for kk, a in instructions if kk == k] for k in set(keywords)}
    if args.get("FROM") != ["python:3.11-slim"]:
        problems.append(f"{service_name}: FROM {args.get('FROM')}, expected python:3.11-slim")
    users = args.get("USER", [])
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append(f"{service_name}: must run as a non-root USER")
    elif keywords.index("USER") < max(i for i, k in enumerate(keywords) if k in ("RUN", "COPY")):
        problems.append(f"{service_name}: USER must come after the install steps")
    installs = [a for a in args.get("RUN", []) if re.search(r"pip install\b.*\s(-e )?\.(\s|$)", a)]
    if not installs:
        problems.append(f"{service_name}: never pip-installs the project")
    for command in installs:
        if "-c requirements.lock" not in command or "--no-cache-dir" not in command:
            problems.append(f"{service_name}: install without the lock file or with pip's cache: {command}")
    if str(WEB_PORT) not in " ".join(args.get("EXPOSE", [])).split():
        problems.append(f"{service_name}: must EXPOSE {WEB_PORT}")
    env_text = " ".join(args.get("ENV", []))
    if "RAPPORT_LOG_FORMAT=json" not in env_text.split():
        problems.append(f"{service_name}: must set ENV RAPPORT_LOG_FORMAT=json")
    for var in re.findall(r"(RAPPORT_[A-Z0-9_]+)=", env_text):
        if var not in read_by_code:
            problems.append(f"{service_name}: ENV {var}, which the code never reads")
    cmd = dockerfile_cmd(path)
    if cmd != ["rapport", "serve", service_name, "web", "--bind", f"0.0.0.0:{WEB_PORT}"]:
        problems.append(f"{service_name}: CMD {cmd}")
    try:
        resolve_rapport(cmd)
    except click.ClickException as error:
        problems.append(f"{service_name}: CMD is no valid rapport command: {error.format_message()}")
    health = args.get("HEALTHCHECK", [])
    url = f"http://127.0.0.1:{WEB_PORT}/{service_name}/healthz"
    if len(health) != 1 or url not in health[0] or "urllib" not in health[0] or " CMD [" not in " " + health[0]:
        problems.append(f"{service_name}: HEALTHCHECK must fetch {url} with urllib (exec form), has {health}")
    return problems


# ------------------------------------------------------------------------------ tests


def test_the_compose_file_parses_as_the_compose_spec(compose):
    assert isinstance(compose, dict)
    assert "version" not in compose, "the compose spec has no version key"
    assert set(compose) <= {"name", "services", "volumes", "networks", "configs", "secrets"} | {
        k for k in compose if k.startswith("x-")
    }
    expected = {"rabbitmq", "broker-init", "gateway", "mailpit"} | {
        f"{s}-{part}" for s in SERVICES for part in ("db", "migrate", "web", "consumer", "relay")
    }
    assert expected <= set(compose["services"]), sorted(expected - set(compose["services"]))


def test_every_build_names_an_existing_dockerfile_of_its_service(compose):
    assert check_builds(compose) == []
    assert {rapport_image_name(s) for s in compose["services"].values() if s.get("build")} == set(SERVICES)


@pytest.mark.parametrize("service_name", SERVICES)
def test_dockerfile(service_name):
    assert check_dockerfile(service_name, names_read_by_code()) == []


def test_every_command_is_a_real_rapport_command(compose):
    assert check_commands(compose) == []
    roles = rapport_containers(compose)
    assert sorted(roles.values()) == sorted(
        [("broker-init", "*")] + [(role, s) for s in SERVICES for role in ("migrate", "web", "consumer", "relay")]
    )


def test_every_variable_compose_sets_is_read_by_the_code_or_the_image(compose):
    read = names_read_by_code()
    # The finder itself must find the names config.py reads, or this test proves nothing.
    assert {"RAPPORT_DATABASE_URL", "RAPPORT_BROKER_URL", "RAPPORT_QUEUE_TYPE", "RAPPORT_LOG_FORMAT"} <= read
    assert check_environment(compose, read) == []


def test_each_process_gets_its_own_database_and_key_and_the_shared_secrets(compose):
    assert check_service_environment(compose) == []


def test_compose_refuses_to_start_without_the_secrets(compose):
    text = COMPOSE_FILE.read_text()
    required = {m.group("name") for m in _INTERPOLATION.finditer(text) if m.group("op") in (":?", "?")}
    assert required == {"RAPPORT_JWT_SECRET"} | {f"RAPPORT_{s.upper()}_DATA_KEY" for s in SERVICES}
    web = environment_of(compose["services"]["intake-web"])
    with pytest.raises(LookupError, match="RAPPORT_JWT_SECRET"):
        interpolate(web["RAPPORT_JWT_SECRET"], {})
    with pytest.raises(LookupError):
        interpolate(web["RAPPORT_DATA_KEY"], {"RAPPORT_INTAKE_DATA_KEY": ""})


def test_the_environment_builds_valid_settings_for_every_process(compose):
    """What the code does with compose's values: Settings.from_env accepts each process's."""
    environ = sample_environ(COMPOSE_FILE.read_text())
    for name, (role, owner) in rapport_containers(compose).items():
        if owner not in SERVICES:
            continue
        env = {k: interpolate(v, environ) for k, v in environment_of(compose["services"][name]).items()}
        settings = Settings.from_env(owner, {**env, "RAPPORT_VAR_DIR": "/nonexistent-so-nothing-is-generated"})
        assert settings.database_url == f"postgresql://rapport:rapport@{owner}-db:5432/{owner}"
        assert settings.broker_url == "amqp://rapport:rapport@rabbitmq:5672/%2F"
        assert settings.queue_type == "quorum" and settings.delivery_limit == 20
        assert settings.jwt_secret == environ["RAPPORT_JWT_SECRET"]
        assert settings.data_key == environ[f"RAPPORT_{owner.upper()}_DATA_KEY"]
        if owner == "followup":
            assert settings.followup_delay.total_seconds() == 24 * 3600
        if owner == "notify":
            assert settings.smtp_url == "smtp://mailpit:1025"


def test_every_dependency_exists_and_waits_on_the_right_condition(compose):
    assert check_depends_on(compose) == []


def test_healthchecks_and_restart_policies(compose):
    assert check_health_and_restarts(compose) == []


def test_every_relay_waits_for_the_queues_to_be_declared(compose):
    relays = [n for n, (role, _) in rapport_containers(compose).items() if role == "relay"]
    assert len(relays) == len(SERVICES)
    for name in relays:
        assert depends_on_of(compose["services"][name])["broker-init"] == {"condition": "service_completed_successfully"}
    assert command_of("broker-init", compose["services"]["broker-init"]) == ["rapport", "broker", "declare"]


def test_the_gateway_serves_the_template_rapport_up_renders(compose):
    assert check_gateway(compose) == []


def test_the_template_rendered_with_composes_gateway_environment(compose):
    env = environment_of(compose["services"]["gateway"])
    rendered = local.render_gateway(local.GATEWAY_TEMPLATE.read_text(), env)
    assert f"listen {GATEWAY_PORT};" in rendered
    for service_name in SERVICES:
        assert re.search(
            rf"upstream rapport_{service_name}\s*\{{\s*server {service_name}-web:{WEB_PORT};", rendered
        ), service_name
        assert f"proxy_pass http://rapport_{service_name};" in rendered
    assert "${" not in rendered, "a template variable compose does not set"
    assert "$http_host" in rendered, "nginx's own variables must survive envsubst"


def test_quorum_queues_with_a_delivery_limit_on_every_consumer(compose):
    assert check_quorum(compose, sample_environ(COMPOSE_FILE.read_text())) == []


def test_the_dockerignore_keeps_out_local_state_but_not_the_sources():
    patterns = dockerignore_patterns()
    for excluded in (".venv/bin/python", "var/intake.db", ".git/HEAD", "tests/conftest.py", "bench/x.py",
                     "shared/__pycache__/db.cpython-311.pyc", "services/intake/tests/test_domain.py", ".env"):
        assert ignored(excluded, patterns), excluded
    needed = ["pyproject.toml", "requirements.lock", "shared/config.py", "rapport/cli.py"]
    for service_name in SERVICES:
        needed += [f"services/{service_name}/{service_name}/__init__.py", f"services/{service_name}/migrations/env.py"]
    for path in needed:
        assert not ignored(path, patterns), path


def test_every_service_finds_its_migrations_in_the_image():
    """`rapport migrate` looks for migrations beside each package (services/<name>/migrations,
    app.MIGRATIONS). They are not package data, so a regular `pip install .` leaves them out of
    site-packages and migrating fails; the images install the project editable instead, which
    keeps the packages, and so the migrations, in the copied source tree."""
    patterns = dockerignore_patterns()
    for service_name in SERVICES:
        dockerfile = (ROOT / "services" / service_name / "Dockerfile").read_text()
        assert re.search(r"^RUN pip install [^\n]*-e \.", dockerfile, re.M), service_name
        if not (ROOT / "services" / service_name / service_name / "app.py").exists():
            continue  # not assembled yet: no composition root to ask
        app = importlib.import_module(f"{service_name}.app")
        migrations = Path(app.MIGRATIONS).resolve()
        assert (migrations / "env.py").is_file(), f"{service_name}: no migrations at {migrations}"
        relative = migrations.relative_to(ROOT / "services" / service_name).as_posix()
        assert not ignored(f"services/{service_name}/{relative}/env.py", patterns)


def test_interpolated_variables_are_documented(compose):
    names = interpolation_names(COMPOSE_FILE.read_text())
    assert "RAPPORT_JWT_SECRET" in names
    example = ENV_EXAMPLE.read_text()
    doc = DOC.read_text()
    for name in names:
        assert re.search(rf"^#?{name}=", example, re.M), f"{name} missing from .env.example"
        assert name in doc, f"{name} missing from docs/compose.md"


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="no `docker compose` plugin here (it validates without an engine where installed)",
)
def test_docker_compose_config_accepts_the_file():
    environ = sample_environ(COMPOSE_FILE.read_text())
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True, text=True, env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/"), **environ},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------------------ the checks fail


def test_the_resolver_rejects_what_the_cli_rejects():
    with pytest.raises(click.UsageError):
        resolve_rapport(["rapport", "serve", "intake", "webb"])
    with pytest.raises(click.UsageError):
        resolve_rapport(["rapport", "serve", "billing", "web"])
    with pytest.raises(click.UsageError):
        resolve_rapport(["rapport", "serve", "intake", "web", "--port", "8000"])
    with pytest.raises(click.UsageError):
        resolve_rapport(["rapport", "broker", "delcare"])
    with pytest.raises(click.UsageError):
        resolve_rapport(["rapport", "broker"])
    _, params, path = resolve_rapport(["rapport", "serve", "sessions", "consumer"])
    assert path == ["serve"] and params["name"] == "sessions" and params["role"] == "consumer"


def _broken(compose: dict, mutate) -> dict:
    changed = copy.deepcopy(compose)
    mutate(changed["services"])
    return changed


def test_the_checks_catch_broken_compose_files(compose):
    read = names_read_by_code()
    environ = sample_environ(COMPOSE_FILE.read_text())

    def typo_in_env(s):
        s["intake-consumer"]["environment"]["RAPPORT_QUEUETYPE"] = "quorum"

    def relay_without_broker_init(s):
        del s["notify-relay"]["depends_on"]["broker-init"]

    def classic_consumer(s):
        s["sessions-consumer"]["environment"]["RAPPORT_QUEUE_TYPE"] = "classic"

    def other_delivery_limit(s):
        s["followup-consumer"]["environment"]["RAPPORT_DELIVERY_LIMIT"] = "5"

    def wrong_database(s):
        s["followup-web"]["environment"]["RAPPORT_DATABASE_URL"] = "postgresql://rapport:x@notify-db:5432/notify"

    def web_without_healthcheck(s):
        s["intake-web"]["healthcheck"] = {"disable": True}

    def bad_role(s):
        s["intake-consumer"]["command"] = ["rapport", "serve", "intake", "worker"]

    def other_template(s):
        s["gateway"]["volumes"] = ["./gateway/other.conf.template:/etc/nginx/templates/rapport.conf.template:ro"]

    def missing_dependency(s):
        s["intake-web"]["depends_on"]["intake-migrate"] = {"condition": "service_started"}

    def unknown_dockerfile(s):
        s["intake-web"]["build"] = {"context": ".", "dockerfile": "services/billing/Dockerfile"}

    def consumer_that_restarts_never(s):
        s["notify-consumer"]["restart"] = "no"

    cases = [
        (typo_in_env, lambda c: check_environment(c, read)),
        (relay_without_broker_init, check_depends_on),
        (classic_consumer, lambda c: check_quorum(c, environ)),
        (other_delivery_limit, lambda c: check_quorum(c, environ)),
        (wrong_database, check_service_environment),
        (web_without_healthcheck, check_health_and_restarts),
        (bad_role, check_commands),
        (other_template, check_gateway),
        (missing_dependency, check_depends_on),
        (unknown_dockerfile, check_builds),
        (consumer_that_restarts_never, check_health_and_restarts),
    ]
    for mutate, check in cases:
        assert check(compose) == [], mutate.__name__
        assert check(_broken(compose, mutate)) != [], f"{mutate.__name__} went unnoticed"
