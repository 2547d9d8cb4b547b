"""The `bot` command, shaped like Rasa's CLI so its users feel at home.

Every command catches `ConductorError` and prints its problems (file:line, what, hint) instead of a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from bot import LOG_FORMAT, __version__
from bot.errors import ConductorError, Problem, Severity
from bot.jsonio import not_utf8, typed_not_text

__all__ = ["app"]

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

app = typer.Typer(
    name="bot",
    help="Conductor: train, test and run chatbots built from Rasa 3.x projects and Conductor plugins.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
train_app = typer.Typer(help="Train a model from the project (NLU and dialogue).", invoke_without_command=True)
test_app = typer.Typer(help="Test a trained model on test stories and NLU test data.", invoke_without_command=True)
shell_app = typer.Typer(help="Talk to the trained bot on the command line.", invoke_without_command=True)
data_app = typer.Typer(help="Check the project's data, and split it for testing.", no_args_is_help=True)
plugins_app = typer.Typer(help="List and create skill plugins.", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(test_app, name="test")
app.add_typer(shell_app, name="shell")
app.add_typer(data_app, name="data")
app.add_typer(plugins_app, name="plugins")

F = TypeVar("F", bound=Callable[..., Any])


def print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        style = "red" if problem.severity is Severity.ERROR else "yellow"
        where = f"{problem.location}: " if problem.location else ""
        err_console.print(f"[{style}]{problem.severity.value}[/{style}] {where}{problem.message}", highlight=False)
        if problem.hint:
            err_console.print(f"  [dim]hint:[/dim] {problem.hint}", highlight=False)


def reports_errors(func: F) -> F:
    """Turn a `ConductorError` raised by a command into printed problems and exit code 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConductorError as exc:
            print_problems(exc.problems)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def not_built_yet(command: str, issue: int, what: str) -> None:
    err_console.print(
        f"`bot {command}` is not built yet: {what} arrives with issue #{issue}. Nothing was done.",
        highlight=False,
    )
    raise typer.Exit(2)


# --- options shared by several commands (Rasa's flag names) ---------------------------------------------
DomainOpt = Annotated[Path, typer.Option("--domain", "-d", help="Domain file or folder.")]
DataOpt = Annotated[list[Path] | None, typer.Option("--data", help="Training data files or folders (repeatable).")]
ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Model configuration file.")]
OutOpt = Annotated[Path, typer.Option("--out", help="Folder for trained models.")]
ModelOpt = Annotated[Path | None, typer.Option("--model", "-m", help="Model file or folder (latest if a folder).")]
EndpointsOpt = Annotated[Path, typer.Option("--endpoints", help="Endpoints file (stores, action server).")]
CredentialsOpt = Annotated[Path, typer.Option("--credentials", help="Channel credentials file.")]


def version_callback(value: bool) -> None:
    if value:
        console.print(f"Conductor {__version__} (Python {sys.version.split()[0]})")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Conductor: an async, multi-channel chatbot runtime that reads Rasa 3.x projects."""


# --- bot data validate ---------------------------------------------------------------------------------


def _project_paths(
    domain: Path | None, data: list[Path] | None, config: Path | None, tests: list[Path] | None = None
) -> Any:
    from bot.project.loader import ProjectPaths

    return ProjectPaths.discover(Path("."), domain=domain, config=config, data=data, tests=tests)


@data_app.command("validate")
@reports_errors
def data_validate(
    domain: Annotated[Path | None, typer.Option("--domain", "-d", help="Domain file or folder.")] = None,
    data: DataOpt = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Model configuration file.")] = None,
    tests: Annotated[
        list[Path] | None, typer.Option("--tests", help="Test stories / NLU test files or folders.")
    ] = None,
    fail_on_warnings: Annotated[
        bool, typer.Option("--fail-on-warnings", help="Exit with 1 when there are warnings.")
    ] = False,
) -> None:
    """Read the whole project, print a summary, and report every problem with file:line and a hint."""
    from bot.plugins import load_project_with_plugins
    from bot.project.summary import render_summary
    from bot.project.validation import validate_project

    project = load_project_with_plugins(_project_paths(domain, data, config, tests))
    problems = project.warnings + validate_project(project)
    render_summary(project, console)
    print_problems(problems)
    errors = sum(p.severity is Severity.ERROR for p in problems)
    warnings = len(problems) - errors
    if errors or (fail_on_warnings and warnings):
        console.print(f"[red]Validation failed:[/red] {errors} error(s), {warnings} warning(s).")
        raise typer.Exit(1)
    console.print(f"[green]The project is valid[/green] ({warnings} warning(s)).")


# --- bot data split nlu -------------------------------------------------------------------------------

split_app = typer.Typer(help="Split the project's data into training and test data.", no_args_is_help=True)
data_app.add_typer(split_app, name="split")


@split_app.command("nlu")
@reports_errors
def data_split_nlu(
    nlu: Annotated[
        Path | None, typer.Option("--nlu", "-u", help="NLU data file or folder; default: the project's data/.")
    ] = None,
    training_fraction: Annotated[
        float, typer.Option("--training-fraction", help="Share of each intent's examples for training (0 to 1).")
    ] = 0.8,
    random_seed: Annotated[
        int | None, typer.Option("--random-seed", help="Seed that makes the split the same on every run.")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for training_data.yml and test_data.yml.")
    ] = Path("train_test_split"),
) -> None:
    """Split the NLU data per intent into a training file and a held-out test file for `bot test nlu`."""
    from bot.project.nlu_split import read_nlu_to_split, split_nlu, write_nlu_split

    sources = [nlu] if nlu is not None else _project_paths(None, None, None).data
    data = read_nlu_to_split(sources)
    train, test = split_nlu(data, training_fraction, random_seed)
    print_problems(data.warnings + train.warnings)
    if not test.examples:
        raise ConductorError.single(
            "no example can be held out for testing: every intent has a single example",
            ", ".join(map(str, sources)),
            hint="Add at least two examples to each intent you want to test.",
        )
    train_file, test_file = write_nlu_split(train, test, out)
    for path, part in ((train_file, train), (test_file, test)):
        responses = f", {len(part.responses)} retrieval response(s)" if part.responses else ""
        console.print(
            f"Wrote {path}: {len(part.examples)} examples of {len(part.intents)} intents{responses}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"Next: `bot train nlu --data {train_file}`, then `bot test nlu --nlu {test_file}`.",
        highlight=False,
        soft_wrap=True,
    )


# --- bot init --------------------------------------------------------------------------------------------


def base_assistant_path() -> Path:
    """The base assistant (domain/ of the source tree) that `bot init` copies."""
    return Path(__file__).resolve().parents[1] / "domain"


@app.command("init")
@reports_errors
def init(
    path: Annotated[Path, typer.Argument(help="Folder for the new project (created if missing).")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that already exist.")] = False,
    instance: Annotated[
        Path | None, typer.Option("--instance", help="Create a client instance folder (conductor.yml, persona, …).")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="With --instance: the client's name.")] = None,
    plugin: Annotated[
        list[str] | None, typer.Option("--plugin", help="With --instance: a skill to enable (repeatable).")
    ] = None,
) -> None:
    """Create a new project from Conductor's base assistant, or with --instance a client instance folder."""
    import shutil

    if instance is not None:
        from bot.plugins.instance_scaffold import DEFAULT_INSTANCE_PLUGINS, create_instance

        folder = create_instance(instance, name=name, plugins=plugin or DEFAULT_INSTANCE_PLUGINS, force=force)
        console.print(f"Created the instance in {folder.resolve()}.")
        console.print(f"Next: edit {folder}/conductor.yml (settings, persona), then `cd {folder}` and `bot train`.")
        return

    source = base_assistant_path()
    if not (source / "domain.yml").exists():
        raise ConductorError.single(
            "the base assistant is missing from this installation", source, hint="Reinstall Conductor."
        )
    files = [p for p in sorted(source.rglob("*")) if p.is_file() and p.suffix in (".yml", ".yaml", ".md")]
    targets = [(f, path / f.relative_to(source)) for f in files]
    existing = [t for _, t in targets if t.exists()]
    if existing and not force:
        raise ConductorError(
            [
                Problem(
                    "this file already exists; `bot init` does not overwrite it",
                    str(t),
                    hint="Choose an empty folder (`bot init my-bot`) or pass --force.",
                )
                for t in existing
            ]
        )
    for src, dst in targets:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    console.print(f"Created a new project in {path.resolve()} ({len(targets)} files).")
    console.print(f"Next: `cd {path}` and `bot data validate`, then `bot train`.")


# --- train ------------------------------------------------------------------------------------------------

TrainDomainOpt = Annotated[Path | None, typer.Option("--domain", "-d", help="Domain file or folder.")]
TrainConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Model configuration file.")]
TrainOutOpt = Annotated[Path, typer.Option("--out", help="Folder for trained models.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Train even if nothing changed since the last model.")]


def _load_project(domain: Path | None, data: list[Path] | None, config: Path | None) -> Any:
    """The project with the base assistant and the plugins its conductor.yml enables merged in."""
    from bot.plugins import load_project_with_plugins

    return load_project_with_plugins(_project_paths(domain, data, config))


def _train(parts: tuple[str, ...], domain: Path | None, data: list[Path] | None, config: Path | None,
           out: Path, force: bool) -> None:
    import time

    from bot.model import train_model

    global _skip_teardown
    started = time.perf_counter()
    project = _load_project(domain, data, config)
    path, reused = train_model(project, out, parts=parts, force=force, progress=lambda m: console.print(m))
    if not reused:
        console.print(f"[green]Model trained[/green] in {time.perf_counter() - started:.2f} s: {path}")
    _skip_teardown = True


@train_app.callback()
@reports_errors
def train(
    ctx: typer.Context,
    domain: TrainDomainOpt = None,
    data: DataOpt = None,
    config: TrainConfigOpt = None,
    out: TrainOutOpt = Path("models"),
    force: ForceOpt = False,
) -> None:
    """Train NLU and dialogue into one model under models/ (`bot train nlu` / `bot train core` for one part)."""
    if ctx.invoked_subcommand is None:
        _train(("nlu", "dialogue"), domain, data, config, out, force)


def _part_trainer(parts: tuple[str, ...], summary: str) -> Callable[..., None]:
    """A `bot train <part>` command: the same options as `bot train`, training only `parts`."""

    @reports_errors
    def command(
        domain: TrainDomainOpt = None,
        data: DataOpt = None,
        config: TrainConfigOpt = None,
        out: TrainOutOpt = Path("models"),
        force: ForceOpt = False,
    ) -> None:
        _train(parts, domain, data, config, out, force)

    command.__doc__ = summary
    return command


train_app.command("core")(_part_trainer(("dialogue",), "Train the dialogue policies alone."))
train_app.command("nlu")(_part_trainer(("nlu",), "Train the NLU pipeline alone."))


# --- test -------------------------------------------------------------------------------------------------

TestModelOpt = Annotated[Path, typer.Option("--model", "-m", help="Model folder, or a folder of models.")]
ResultsOpt = Annotated[Path, typer.Option("--out", help="Folder for the test reports.")]
StoriesOpt = Annotated[list[Path] | None, typer.Option("--stories", "-s", help="Test stories files or folders.")]
FailOnErrorsOpt = Annotated[
    bool, typer.Option("--fail-on-prediction-errors", help="Exit with 1 when a test story fails.")
]


def _test_core(model_path: Path, stories: list[Path] | None, out: Path, fail_on_prediction_errors: bool) -> bool:
    from bot.dialogue.story_test import run_test_stories
    from bot.evaluation import write_html_report, write_story_reports
    from bot.model import load_model
    from bot.project.stories import load_stories

    model = load_model(model_path)
    if model.dialogue is None:
        raise ConductorError.single("this model has no dialogue part", model.path, hint="Train it with `bot train`.")
    warnings: list[Problem] = []
    if stories:
        blocks = load_stories(stories, test=True, warnings=warnings)
    else:
        blocks = _load_project(None, None, None).test_stories
    if not blocks:
        raise ConductorError.single(
            "no test stories were found", str(stories or "tests"), hint="Pass --stories tests/test_stories.yml."
        )
    print_problems(warnings)
    parse = model.parse if model.nlu is not None else None
    results = run_test_stories(model.dialogue, blocks, parse=parse, warnings=warnings)
    report = write_story_reports(out, [r.report() for r in results])
    write_html_report(out)
    failed = [r for r in results if not r.passed]
    for result in failed:
        err_console.print(f"[red]FAILED[/red] {result.name}", highlight=False)
        for line in result.failures():
            err_console.print(f"  {line}", highlight=False)
    accuracy = report.get("conversation_accuracy", {})
    console.print(
        f"Stories: {len(results) - len(failed)}/{len(results)} passed "
        f"(conversation accuracy {accuracy.get('accuracy', 0):.3f}). Reports in {out}/"
    )
    return not failed or not fail_on_prediction_errors


@test_app.callback()
@reports_errors
def test(
    ctx: typer.Context,
    model: TestModelOpt = Path("models"),
    stories: StoriesOpt = None,
    out: ResultsOpt = Path("results"),
    fail_on_prediction_errors: FailOnErrorsOpt = False,
) -> None:
    """Test the model on the test stories (and NLU test data), writing reports to results/."""
    if ctx.invoked_subcommand is None and not _test_core(model, stories, out, fail_on_prediction_errors):
        raise typer.Exit(1)


@test_app.command("core")
@reports_errors
def test_core(
    model: TestModelOpt = Path("models"),
    stories: StoriesOpt = None,
    out: ResultsOpt = Path("results"),
    fail_on_prediction_errors: FailOnErrorsOpt = False,
) -> None:
    """Check test stories the way `rasa test core` does (teacher forcing)."""
    if not _test_core(model, stories, out, fail_on_prediction_errors):
        raise typer.Exit(1)


# --- shell ------------------------------------------------------------------------------------------------


@shell_app.callback()
@reports_errors
def shell(ctx: typer.Context, model: TestModelOpt = Path("models")) -> None:
    """Chat with the trained bot in the terminal (`bot shell nlu` for NLU parses only)."""
    if ctx.invoked_subcommand is not None:
        return
    import asyncio

    from bot.config import load_endpoints
    from bot.dialogue.shell import run_shell
    from bot.model import load_model
    from bot.plugins import build_action_registry, load_instance
    from bot.runtime import Runtime

    loaded = load_model(model)
    endpoints = Path("endpoints.yml")
    settings = load_endpoints(endpoints) if endpoints.exists() else None
    runtime = Runtime(loaded, actions=build_action_registry(loaded, load_instance("."), settings))

    async def chat() -> None:
        try:
            await run_shell(runtime.processor)
        finally:
            await runtime.close()

    asyncio.run(chat())


@shell_app.command("nlu")
@reports_errors
def shell_nlu(model: TestModelOpt = Path("models")) -> None:
    """Type messages and see how the NLU parses them (Rasa's /model/parse JSON)."""
    import json

    loaded = _load_nlu_model(model)
    console.print("NLU model loaded. Type a message and press enter (empty line or Ctrl-D to exit).")
    while True:
        try:
            text = input("Your input -> ")
        except EOFError:
            break
        if not text.strip():
            break
        refusal = typed_not_text(text)
        if refusal is not None:
            console.print(refusal, style="red", markup=False)
            continue
        console.print_json(json.dumps(loaded.parse(text), ensure_ascii=False))


def _load_nlu_model(model: Path) -> Any:
    from bot.model import load_model

    loaded = load_model(model)
    if loaded.nlu is None:
        raise ConductorError.single(
            "this model has no NLU part", loaded.path, hint="Train one with `bot train` or `bot train nlu`."
        )
    return loaded


@app.command("parse")
@reports_errors
def parse(
    text: Annotated[str, typer.Argument(help="The message to parse.")],
    model: TestModelOpt = Path("models"),
) -> None:
    """Print the NLU parse of one message as Rasa's /model/parse JSON."""
    import json

    problem = not_utf8(text)
    if problem is not None:
        raise ConductorError.single(
            f"the message is not text: {problem}",
            hint="Set the terminal's encoding to UTF-8 (for example LANG=C.UTF-8) and give the message again.",
        )
    print(json.dumps(_load_nlu_model(model).parse(text), ensure_ascii=False, indent=2))


@test_app.command("nlu")
@reports_errors
def test_nlu(
    nlu: Annotated[
        list[Path] | None, typer.Option("--nlu", "-u", help="NLU test data (file or folder); default: tests/")
    ] = None,
    model: TestModelOpt = Path("models"),
    out: ResultsOpt = Path("results"),
    cross_validation: Annotated[
        bool, typer.Option("--cross-validation", help="Train and test on folds of the project's NLU data.")
    ] = False,
    folds: Annotated[int, typer.Option("--folds", "-f", min=2, help="Number of folds.")] = 5,
    domain: TrainDomainOpt = None,
    data: DataOpt = None,
    config: TrainConfigOpt = None,
) -> None:
    """Evaluate the NLU on annotated examples; writes intent and entity reports and report.html."""
    from bot.evaluation import write_html_report
    from bot.evaluation.nlu_test import cross_validate, evaluate_nlu
    from bot.project.nlu_data import load_nlu
    from bot.yamlio import iter_yaml_files

    if cross_validation:
        project = _load_project(domain, data, config)
        components = project.config.pipeline
        items = [{"name": c.name, **c.params} for c in components] if components else None
        cross_validate(project.nlu, items, project.config.language, folds, out, lambda m: console.print(m))
    else:
        loaded = _load_nlu_model(model)
        roots = nlu or [Path("tests")]
        files = [f for root in roots for f in iter_yaml_files(root)] if all(r.exists() for r in roots) else []
        test_data = load_nlu(files)
        if not test_data.examples:
            raise ConductorError.single(
                "no NLU test examples were found", ", ".join(map(str, roots)), hint="Pass --nlu data/test_nlu.yml."
            )
        reports = evaluate_nlu(loaded.nlu, test_data, out)
        if reports.intent_report is not None:
            console.print(f"Intent accuracy: {reports.intent_report.get('accuracy', 0):.4f} "
                          f"on {len(test_data.examples)} examples")
        for extractor, report in reports.entity_reports.items():
            micro = report.get("micro avg", {})
            console.print(f"{extractor}: entity F1 {micro.get('f1-score', 0):.4f}")
    write_html_report(out)
    console.print(f"Reports in {out}/")


@app.command("run")
@reports_errors
def run(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model folder, or a folder of models (latest).")] = Path(
        "models"
    ),
    endpoints: Annotated[Path, typer.Option("--endpoints", help="Endpoints file (stores, action server).")] = Path(
        "endpoints.yml"
    ),
    credentials: Annotated[Path, typer.Option("--credentials", help="Channel credentials file.")] = Path(
        "credentials.yml"
    ),
    port: Annotated[int, typer.Option("--port", "-p", help="Port to serve on.")] = 5005,
    interface: Annotated[str, typer.Option("--interface", "-i", help="Interface to bind.")] = "0.0.0.0",
    enable_api: Annotated[bool, typer.Option("--enable-api", help="Serve the HTTP API besides the channels.")] = False,
    auth_token: Annotated[str | None, typer.Option(
        "--auth-token", "-t", envvar="AUTH_TOKEN", show_default=False,
        help="Token for the HTTP API (?token=). Better from the environment than on the command line.",
    )] = None,
    jwt_secret: Annotated[str | None, typer.Option(
        "--jwt-secret", envvar="JWT_SECRET", show_default=False, help="Secret (or public key) to verify JWTs."
    )] = None,
    jwt_method: Annotated[str, typer.Option("--jwt-method", envvar="JWT_METHOD", help="JWT signing method.")] = "HS256",
    cors: Annotated[list[str] | None, typer.Option("--cors", help="Allowed CORS origin (repeatable; * any).")] = None,
    connector: Annotated[str | None, typer.Option(
        "--connector", help="Serve this channel alone (its credentials.yml section, if any)."
    )] = None,
    ssl_certificate: Annotated[Path | None, typer.Option(
        "--ssl-certificate", help="Certificate (PEM) to serve HTTPS with."
    )] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(
        "--ssl-keyfile", help="The certificate's private key (PEM), unless the certificate file holds it."
    )] = None,
    ssl_ca_file: Annotated[Path | None, typer.Option(
        "--ssl-ca-file", help="CA certificates (PEM) trusted for client certificates."
    )] = None,
    ssl_password: Annotated[str | None, typer.Option(
        "--ssl-password", envvar="SSL_PASSWORD", show_default=False, help="Password of an encrypted private key."
    )] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at INFO level (the default).")] = False,
    debug: Annotated[bool, typer.Option("--debug", "-vv", help="Log at DEBUG level (Conductor's own logs).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="Log warnings and errors only.")] = False,
    log_file: Annotated[Path | None, typer.Option(
        "--log-file", help="Also write the log to this file (appended)."
    )] = None,
    watch_models: Annotated[bool, typer.Option(
        "--watch-models/--no-watch-models",
        help="When --model is a folder of models, serve a newer model appearing there without a restart.",
    )] = True,
    watch_interval: Annotated[float, typer.Option(
        "--watch-interval", min=0.1, help="Seconds between two looks for a new model."
    )] = 2.0,
    tracker_cache: Annotated[int | None, typer.Option(
        "--tracker-cache", min=0, show_default=False,
        help="Conversations kept in memory between turns (each about 6 KB of RSS, plus 2.5 KB a message): the most "
        "recently active; others are read back from the tracker store. Default 1,000.",
    )] = None,
) -> None:
    """Serve the bot: the channels in credentials.yml, the web chat at /, and the HTTP API with --enable-api."""
    from bot.server import run as run_server
    from bot.server import tls_context

    configure_logging(log_level(verbose=verbose, debug=debug, quiet=quiet), log_file)
    if ssl_certificate is None and (ssl_keyfile or ssl_ca_file or ssl_password):
        raise ConductorError.single(
            "--ssl-keyfile, --ssl-ca-file and --ssl-password need --ssl-certificate",
            hint="Give the server's certificate with --ssl-certificate to serve HTTPS.",
        )
    ssl_context = (
        tls_context(ssl_certificate, ssl_keyfile, ssl_ca_file, ssl_password) if ssl_certificate is not None else None
    )
    run_server(
        model,
        endpoints,
        credentials,
        port,
        interface,
        enable_api,
        auth_token,
        jwt_secret,
        jwt_method,
        cors,
        watch_models=watch_models,
        watch_interval=watch_interval,
        tracker_cache=tracker_cache,
        connector=connector,
        ssl_context=ssl_context,
    )


_OWN_LOGGERS = ("bot", "channels")
"""Conductor's loggers: --debug opens these; libraries (aiohttp, SQLAlchemy, ...) stay at INFO."""


def log_level(*, verbose: bool = False, debug: bool = False, quiet: bool = False) -> int:
    """Rasa's logging flags: --quiet WARNING, -v INFO, -vv/--debug DEBUG; else the LOG_LEVEL environment
    variable (Rasa's too), else INFO. Two of the flags at once are an error."""
    import logging
    import os

    if sum((verbose, debug, quiet)) > 1:
        raise ConductorError.single(
            "--verbose, --debug and --quiet each set the log level: give one of them", hint="Keep the one you want."
        )
    if quiet:
        return logging.WARNING
    if debug:
        return logging.DEBUG
    if verbose:
        return logging.INFO
    name = os.environ.get("LOG_LEVEL", "").strip().upper()
    if not name:
        return logging.INFO
    level = logging.getLevelName(name)
    if not isinstance(level, int):
        raise ConductorError.single(
            f"the environment variable LOG_LEVEL is {name!r}, which is not a log level",
            hint="Set it to DEBUG, INFO, WARNING or ERROR, or unset it.",
        )
    return level


def configure_logging(level: int, log_file: Path | None = None) -> None:
    """Log to the console (stderr) and, with `log_file`, to that file too. At DEBUG only Conductor's own
    loggers go below INFO."""
    import logging

    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        except OSError as exc:
            raise ConductorError.single(
                f"--log-file: cannot write to {str(log_file)!r}: {exc.strerror or exc}",
                hint="Give a path in a folder this user may write to.",
            ) from None
    logging.basicConfig(level=max(level, logging.INFO), format=LOG_FORMAT, handlers=handlers, force=True)
    for name in _OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)


@plugins_app.command("list")
@reports_errors
def plugins_list() -> None:
    """List the skill plugins this instance can use: shipped, installed (entry points) and in plugins/."""
    from rich.table import Table

    from bot.plugins import list_plugins

    listing = list_plugins(".")
    table = Table(title="Plugins", title_justify="left")
    table.add_column("name", no_wrap=True)
    for column in ("version", "source", "enabled", "intents", "responses", "actions", "forms"):
        table.add_column(column, overflow="fold")
    for row in listing.plugins:
        table.add_row(
            row.name, row.version or "?", str(row.source), "yes" if row.enabled else "no",
            str(row.intents), str(row.responses), str(row.actions), str(row.forms),
        )
    console.print(table)
    print_problems([*listing.problems, *(p for row in listing.plugins for p in row.problems)])


@plugins_app.command("new")
@reports_errors
def plugins_new(
    name: Annotated[str, typer.Argument(help="The new plugin's name (lower_snake_case).")],
    folder: Annotated[Path, typer.Option("--folder", help="Where to create it.")] = Path("plugins"),
) -> None:
    """Create a working skill plugin (an intent, a response, an action and a passing test story)."""
    from bot.plugins import create_plugin

    path = create_plugin(name, folder)
    console.print(f"Created the plugin {name} in {path}.")
    console.print(f"Enable it in conductor.yml:\n  plugins:\n    {name}:\nthen `bot train` and `bot test`.")


_skip_teardown = False
"""Set by a command whose work is all on disk (training): `main` then exits without the interpreter's
teardown of spaCy's, SciPy's and scikit-learn's objects, which takes about half a second."""


def main() -> None:
    """The `bot` console command."""
    try:
        app()
    except SystemExit as done:
        if _skip_teardown and done.code in (0, None):
            import logging
            import os

            sys.stdout.flush()
            sys.stderr.flush()
            logging.shutdown()
            os._exit(0)
        raise


if __name__ == "__main__":
    main()
