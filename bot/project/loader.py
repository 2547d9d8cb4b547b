"""Find and read a whole Rasa-shaped project: domain, config, training data, rules, stories and test stories.

The file layout is Rasa's: `domain.yml` (or a `domain/` folder), `config.yml`, `data/` and `tests/`. Files in the
data folders are sorted by their content, as Rasa does: a YAML file with `nlu:`/`responses:` is NLU data, one
with `stories:`/`rules:` holds stories or rules (a file may hold both). Files in `tests/` (and files named
`test_*.yml` anywhere in the data) hold test stories and NLU test data.

Every file is read even when an earlier one is broken, so a user sees all problems in one run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import ModelConfig, load_model_config
from bot.errors import ConductorError, Problem, Severity
from bot.project.domain import Domain, load_domain
from bot.project.nlu_data import TrainingData, is_nlu_file, parse_nlu
from bot.project.stories import StoryBlock, is_story_file, parse_stories
from bot.yamlio import iter_yaml_files, parse_yaml, read_text

__all__ = ["Project", "ProjectPaths", "data_files", "load_project"]

TEST_FILE_PREFIX = "test_"


def data_files(root: Path) -> Iterator[tuple[Path, bool]]:
    """The YAML files of the data file or folder `root`, in the order the loader reads them, each with whether
    its name marks it as test data (`test_*.yml`: test stories and NLU test data, not training data).

    Whether a file holds NLU data or stories is up to its content: `is_nlu_file`, `is_story_file`.
    """
    for path in iter_yaml_files(root):
        yield path, path.name.startswith(TEST_FILE_PREFIX)


@dataclass(frozen=True)
class ProjectPaths:
    """Where a project's files are; Rasa's defaults relative to the project folder unless given."""

    root: Path
    domain: list[Path]
    config: Path
    data: list[Path]
    tests: list[Path]

    @classmethod
    def discover(
        cls,
        root: Path | str = ".",
        *,
        domain: Path | list[Path] | None = None,
        config: Path | None = None,
        data: list[Path] | None = None,
        tests: list[Path] | None = None,
    ) -> ProjectPaths:
        base = Path(root)
        if domain is None:
            domain_paths = [base / "domain.yml"]
            if not domain_paths[0].exists() and (base / "domain").is_dir():
                domain_paths = [base / "domain"]
        else:
            domain_paths = [domain] if isinstance(domain, Path) else list(domain)
        return cls(
            root=base,
            domain=domain_paths,
            config=config if config is not None else base / "config.yml",
            data=list(data) if data else [base / "data"],
            tests=list(tests) if tests is not None else [base / "tests"],
        )


@dataclass
class Project:
    """Everything a project holds, read and checked file by file (cross-file checks: bot.project.validation)."""

    paths: ProjectPaths
    domain: Domain
    config: ModelConfig
    nlu: TrainingData
    stories: list[StoryBlock]
    rules: list[StoryBlock]
    test_stories: list[StoryBlock]
    test_nlu: TrainingData
    files: list[Path] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.files: list[Path] = []
        self.nlu = TrainingData()
        self.test_nlu = TrainingData()
        self.blocks: list[StoryBlock] = []
        self.test_blocks: list[StoryBlock] = []

    def read_data_file(self, path: Path, test: bool) -> None:
        self.files.append(path)
        try:
            text = read_text(path, "data file")
            data: Any = parse_yaml(text, path)
            understood = False
            if is_nlu_file(data):
                understood = True
                nlu = parse_nlu(data, path, text=text)
                self.problems.extend(nlu.warnings)
                if test:
                    self.test_nlu = self.test_nlu.merge(nlu)
                else:
                    self.nlu = self.nlu.merge(nlu)
            if is_story_file(data):
                understood = True
                blocks = parse_stories(data, path, test=test, warnings=self.problems)
                (self.test_blocks if test else self.blocks).extend(blocks)
            if not understood and data is not None and not test:
                self.problems.append(
                    Problem(
                        "this data file has none of the keys nlu, responses, stories or rules; it was not read",
                        str(path),
                        1,
                        "Move it out of the data folder, or add the section it is meant to hold.",
                        Severity.WARNING,
                    )
                )
        except ConductorError as exc:
            self.problems.extend(exc.problems)

    def read_paths(self, roots: list[Path], test: bool, required: bool) -> None:
        for root in roots:
            if not root.exists():
                if required:
                    self.problems.append(
                        Problem(
                            "the training data folder or file does not exist",
                            str(root),
                            hint="Create data/ with nlu.yml, stories.yml and rules.yml, or pass --data.",
                        )
                    )
                continue
            for path, named_test in data_files(root):
                self.read_data_file(path, test or named_test)


def load_project(paths: ProjectPaths) -> Project:
    """Read the project at `paths`. Raises one `ConductorError` with every error found in any file."""
    collector = _Collector()
    domain = Domain()
    try:
        domain = load_domain(paths.domain)
        collector.problems.extend(domain.warnings)
    except ConductorError as exc:
        collector.problems.extend(exc.problems)
    config = ModelConfig()
    if paths.config.exists():
        try:
            config = load_model_config(paths.config)
            collector.problems.extend(config.warnings)
        except ConductorError as exc:
            collector.problems.extend(exc.problems)
    else:
        collector.problems.append(
            Problem(
                "there is no config file; Conductor's default pipeline and policies will be used",
                str(paths.config),
                hint="Run `bot init` for a project with a config.yml, or pass --config.",
                severity=Severity.WARNING,
            )
        )
    collector.read_paths(paths.data, test=False, required=True)
    collector.read_paths(paths.tests, test=True, required=False)

    errors = [p for p in collector.problems if p.severity is Severity.ERROR]
    if errors:
        raise ConductorError(errors + [p for p in collector.problems if p.severity is not Severity.ERROR])
    return Project(
        paths=paths,
        domain=domain,
        config=config,
        nlu=collector.nlu,
        stories=[b for b in collector.blocks if b.kind == "story"],
        rules=[b for b in collector.blocks if b.kind == "rule"],
        test_stories=[b for b in collector.test_blocks if b.kind in ("test", "story")],
        test_nlu=collector.test_nlu,
        files=collector.files,
        warnings=[p for p in collector.problems if p.severity is Severity.WARNING],
    )
