"""The trained model: one versioned folder under models/ holding the NLU pipeline, the dialogue policies and
the domain they were trained on.

```
models/20261125-224512-1a2b3c4d/
  metadata.json     format, Conductor version, fingerprint of the training input, what parts it holds
  nlu/              the NLU pipeline (JSON, numpy arrays, spaCy's own serialisation)
  dialogue/         the policies (JSON and numpy arrays) and the domain
```
Nothing in it is a pickle: loading a model runs no code from it. A model is written to a hidden temporary
folder and renamed into place, so a crash mid-training never leaves a half-written model behind. Training
again with an unchanged project reuses the latest model with the same fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from bot import __version__
from bot.errors import ConductorError, Problem
from bot.project.domain import Domain
from bot.project.loader import Project
from bot.project.nlu_data import dump_nlu
from bot.project.stories import dump_stories

if TYPE_CHECKING:
    from bot.dialogue.model import DialogueModel
    from bot.nlu import NLUPipeline

__all__ = ["MODEL_FORMAT", "LoadedModel", "find_model", "load_model", "project_fingerprint", "train_model"]

MODEL_FORMAT: Final = 1
METADATA_FILE: Final = "metadata.json"
NLU_DIR: Final = "nlu"
DIALOGUE_DIR: Final = "dialogue"
Progress = Callable[[str], None]


@dataclass
class LoadedModel:
    path: Path
    metadata: dict[str, Any]
    domain: Domain
    nlu: NLUPipeline | None
    dialogue: DialogueModel | None
    warnings: list[Problem] = field(default_factory=list)

    def parse(self, text: str) -> dict[str, Any]:
        """The NLU parse of `text` in Rasa's /model/parse shape (an empty parse when there is no NLU)."""
        if self.nlu is None:
            return {"text": text, "intent": {"name": None, "confidence": 0.0}, "intent_ranking": [], "entities": []}
        return self.nlu.parse(text)


def project_fingerprint(project: Project, parts: tuple[str, ...]) -> str:
    """A hash of everything training reads (config, domain, NLU data, stories and rules) and of every format
    this version checks when loading (the model's, the NLU artefact's, the CRF entity extractor's, the dialogue
    model's), so a format change makes `bot train` train again rather than reuse a model it cannot load."""
    from bot.dialogue.model import MODEL_FORMAT as DIALOGUE_FORMAT
    from bot.nlu.artefact import NLU_FORMAT
    from bot.nlu.entity_crf import CRF_FORMAT

    digest = hashlib.sha256()
    formats = {"format": MODEL_FORMAT, "nlu": NLU_FORMAT, "nlu_crf": CRF_FORMAT, "dialogue": DIALOGUE_FORMAT}
    digest.update(json.dumps({**formats, "version": __version__, "parts": parts}).encode())
    digest.update(project.config.fingerprint().encode())
    digest.update(json.dumps(project.domain.as_dict(), sort_keys=True, default=str).encode())
    if "nlu" in parts:
        digest.update(dump_nlu(project.nlu).encode())
    if "dialogue" in parts:
        digest.update(dump_stories([*project.stories, *project.rules]).encode())
    return digest.hexdigest()


def _model_dirs(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and (p / METADATA_FILE).exists() and not p.name.startswith(".")]
    return sorted(found, key=lambda p: p.name)


def _newest(models: list[Path]) -> Path:
    """The last of `models` (sorted by name, which holds the time to the second); of models trained within
    that second, whose names then sort by fingerprint, the one whose training finished last."""
    same_second = [model for model in models if model.name[:15] == models[-1].name[:15]]
    return max(same_second, key=_trained_at) if len(same_second) > 1 else models[-1]


def _trained_at(model: Path) -> float:
    try:
        return float(_read_metadata(model).get("trained_at", 0.0))
    except (ConductorError, TypeError, ValueError):
        return 0.0


def find_model(path: Path | str) -> Path:
    """The model at `path`: a model folder itself, or the newest model in a folder of models."""
    candidate = Path(path)
    if (candidate / METADATA_FILE).exists():
        return candidate
    models = _model_dirs(candidate)
    if not models:
        raise ConductorError.single(
            "no trained model was found here", candidate, hint="Train one with `bot train`, or pass --model."
        )
    return _newest(models)


def train_model(
    project: Project,
    out: Path | str = "models",
    *,
    parts: tuple[str, ...] = ("nlu", "dialogue"),
    force: bool = False,
    progress: Progress | None = None,
) -> tuple[Path, bool]:
    """Train the given parts and save them as a new model; returns (model folder, whether it was reused)."""
    say = progress or (lambda _message: None)
    out_dir = Path(out)
    fingerprint = project_fingerprint(project, parts)
    if not force:
        for existing in reversed(_model_dirs(out_dir)):
            meta = _read_metadata(existing)
            if meta.get("fingerprint") == fingerprint:
                say(f"Nothing changed since {existing.name}; reusing it (pass --force to train anyway).")
                return existing, True
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{fingerprint[:8]}"
    staging = out_dir / f".{name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        if "nlu" in parts:
            from bot.nlu import NLUPipeline

            say("Training the NLU pipeline…")
            components = project.config.pipeline
            pipeline = NLUPipeline.train(
                project.nlu,
                [{"name": c.name, **c.params} for c in components] if components else None,
                project.config.language,
                progress=say,
            )
            pipeline.save(staging / NLU_DIR)
        if "dialogue" in parts:
            from bot.dialogue.model import train_policies

            say("Training the dialogue policies…")
            dialogue = train_policies(project)
            dialogue.save(staging / DIALOGUE_DIR)
        else:
            (staging / DIALOGUE_DIR).mkdir()
            (staging / DIALOGUE_DIR / "domain.json").write_text(json.dumps(project.domain.as_dict()))
        metadata = {
            "format": MODEL_FORMAT,
            "conductor_version": __version__,
            "fingerprint": fingerprint,
            "trained_at": time.time(),
            "language": project.config.language,
            "parts": list(parts),
            "project": str(project.paths.root.resolve()),
        }
        (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2))
        final = out_dir / name
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final, False


def _read_metadata(folder: Path) -> dict[str, Any]:
    path = folder / METADATA_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConductorError.single(
            f"the model's metadata cannot be read ({exc})", path, hint="Train the model again with `bot train`."
        ) from None
    if not isinstance(data, dict):
        raise ConductorError.single("the model's metadata is not a JSON object", path, hint="Train again.")
    return data


def load_model(path: Path | str) -> LoadedModel:
    """Load the model at `path` (a model folder, or the newest in a folder of models)."""
    folder = find_model(path)
    metadata = _read_metadata(folder)
    if metadata.get("format") != MODEL_FORMAT:
        raise ConductorError.single(
            f"this model has format {metadata.get('format')!r} (Conductor {metadata.get('conductor_version')}); "
            f"this Conductor reads format {MODEL_FORMAT}",
            folder / METADATA_FILE,
            hint="Train the model again with this version: `bot train`.",
        )
    parts = metadata.get("parts") or []
    nlu = None
    if "nlu" in parts:
        from bot.nlu import NLUPipeline

        nlu = NLUPipeline.load(folder / NLU_DIR)
    dialogue = None
    if "dialogue" in parts:
        from bot.dialogue.model import DialogueModel

        dialogue = DialogueModel.load(folder / DIALOGUE_DIR)
        domain = dialogue.domain
    else:
        domain_file = folder / DIALOGUE_DIR / "domain.json"
        try:
            domain = Domain.from_dict(json.loads(domain_file.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise ConductorError.single(f"cannot read the model's domain ({exc})", domain_file) from None
    return LoadedModel(folder, metadata, domain, nlu, dialogue)
