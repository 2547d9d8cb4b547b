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

from bot import __version__
from bot.errors import ConductorError, Problem, Severity

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
data_app = typer.Typer(help="Check the project's data.", no_args_is_help=True)
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
def main(
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
    from bot.project.loader import load_project
    from bot.project.summary import render_summary
    from bot.project.validation import validate_project

    project = load_project(_project_paths(domain, data, config, tests))
    problems = project.warnings + validate_project(project)
    render_summary(project, console)
    print_problems(problems)
    errors = sum(p.severity is Severity.ERROR for p in problems)
    warnings = len(problems) - errors
    if errors or (fail_on_warnings and warnings):
        console.print(f"[red]Validation failed:[/red] {errors} error(s), {warnings} warning(s).")
        raise typer.Exit(1)
    console.print(f"[green]The project is valid[/green] ({warnings} warning(s)).")


# --- bot init --------------------------------------------------------------------------------------------


def base_assistant_path() -> Path:
    """The base assistant (domain/ of the source tree) that `bot init` copies."""
    return Path(__file__).resolve().parents[1] / "domain"


@app.command("init")
@reports_errors
def init(
    path: Annotated[Path, typer.Argument(help="Folder for the new project (created if missing).")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that already exist.")] = False,
) -> None:
    """Create a new project from Conductor's base assistant (greetings, help, fallback, human handoff)."""
    import shutil

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


# --- commands that later issues fill in -------------------------------------------------------------------


@train_app.callback()
def train(ctx: typer.Context) -> None:
    """Train NLU and dialogue into one model under models/ (`bot train nlu` for the NLU alone)."""
    if ctx.invoked_subcommand is None:
        not_built_yet("train", 4, "training the dialogue policies")


@train_app.command("core")
def train_core() -> None:
    """Train the dialogue policies alone."""
    not_built_yet("train core", 4, "the dialogue engine")


@test_app.callback()
def test(ctx: typer.Context) -> None:
    """Test the model on test stories and NLU test data, writing reports to results/."""
    if ctx.invoked_subcommand is None:
        not_built_yet("test", 4, "testing stories")


@test_app.command("core")
def test_core() -> None:
    """Check test stories the way `rasa test core` does."""
    not_built_yet("test core", 4, "the dialogue engine")


@shell_app.callback()
def shell(ctx: typer.Context) -> None:
    """Chat with the trained bot in the terminal (`bot shell nlu` for NLU parses only)."""
    if ctx.invoked_subcommand is None:
        not_built_yet("shell", 4, "the dialogue engine")


@app.command("run")
def run() -> None:
    """Serve the bot: HTTP API and the channels in credentials.yml."""
    not_built_yet("run", 5, "the server")


@plugins_app.command("list")
def plugins_list() -> None:
    """List the available skill plugins."""
    not_built_yet("plugins list", 7, "the plugin architecture")


@plugins_app.command("new")
def plugins_new(name: Annotated[str, typer.Argument(help="The new plugin's name.")]) -> None:
    """Create a working skill plugin to start from."""
    not_built_yet("plugins new", 7, "the plugin architecture")


if __name__ == "__main__":
    app()
