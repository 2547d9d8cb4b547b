"""The trained NLU pipeline on disk: a folder of JSON, numpy arrays and spaCy's own serialisation.

```
nlu/
  nlu.json           manifest: format, Conductor and spaCy versions, training fingerprint, the pipeline's
                     settings and labels, and the SHA-256 of every other file in the folder
  vocabulary.json    the feature names of each feature block
  arrays.npz         IDF weights and the linear models' weights (np.load with allow_pickle=False)
  tokenizer/         the language (JSON) and spaCy's tokenizer rules (spaCy's to_disk)
  entities/NN-Name/  each entity component's own files (JSON, crfsuite)
```
Nothing is a pickle, so loading a model runs no code from it. The checksums make a damaged or edited file an
error that says which file, instead of a model that quietly answers differently. A model saved by another
format version is refused with a hint to retrain. The folder is written beside its destination and renamed
into place, so a crash never leaves half a model.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from bot import __version__
from bot.errors import ConductorError

__all__ = [
    "ARRAYS_FILE",
    "MANIFEST_FILE",
    "NLU_FORMAT",
    "VOCABULARY_FILE",
    "read_arrays",
    "read_json_file",
    "read_manifest",
    "saved_fingerprint",
    "verify_files",
    "write_artefact",
]

NLU_FORMAT: Final = 1
MANIFEST_FILE: Final = "nlu.json"
VOCABULARY_FILE: Final = "vocabulary.json"
ARRAYS_FILE: Final = "arrays.npz"
_RETRAIN = "Train the model again with `bot train`."


def write_artefact(
    directory: Path,
    manifest: dict[str, Any],
    vocabularies: list[list[str]],
    arrays: dict[str, npt.NDArray[Any]],
    write_parts: Callable[[Path], None],
) -> None:
    """Write the model into `directory` (created, or replaced if it holds an earlier NLU model)."""
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()) and not (directory / MANIFEST_FILE).exists():
        raise ConductorError.single(
            "cannot save the NLU model here: the folder is not empty and holds no earlier NLU model",
            directory,
            hint="Choose an empty or new folder.",
        )
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = directory.parent / f".{directory.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        (staging / VOCABULARY_FILE).write_text(json.dumps(vocabularies, ensure_ascii=False), encoding="utf-8")
        save_arrays: Any = np.savez  # numpy's stub takes the keyword `allow_pickle` for an array name
        save_arrays(staging / ARRAYS_FILE, **arrays)
        write_parts(staging)
        manifest = {**manifest, "checksums": _checksums(staging)}
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        if directory.exists():
            shutil.rmtree(directory)
        staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest, after checking its format version (the files' checksums: `verify_files`)."""
    path = Path(directory) / MANIFEST_FILE
    if not path.exists():
        raise ConductorError.single(
            "no NLU model here (nlu.json is missing)", directory, hint="Pass the folder `save` wrote; " + _RETRAIN
        )
    manifest = read_json_file(path)
    if not isinstance(manifest, dict):
        raise ConductorError.single("the NLU manifest is not a JSON object", path, hint=_RETRAIN)
    found = manifest.get("format")
    if found != NLU_FORMAT:
        raise ConductorError.single(
            f"this NLU model has format {found!r} (saved by Conductor {manifest.get('conductor_version')}); "
            f"Conductor {__version__} reads format {NLU_FORMAT}",
            path,
            hint=_RETRAIN,
        )
    return manifest


def verify_files(directory: Path, manifest: dict[str, Any]) -> None:
    """Every file the manifest lists is there with its checksum, and there is no other file."""
    checksums = manifest.get("checksums")
    if not isinstance(checksums, dict):
        raise ConductorError.single("the NLU manifest has no checksums", directory / MANIFEST_FILE, hint=_RETRAIN)
    actual = _checksums(Path(directory))
    for name, digest in sorted(checksums.items()):
        if name not in actual:
            raise ConductorError.single("a file of the NLU model is missing", Path(directory) / name, hint=_RETRAIN)
        if actual[name] != digest:
            raise ConductorError.single(
                "a file of the NLU model was changed after training (checksum mismatch)",
                Path(directory) / name,
                hint=_RETRAIN,
            )
    extra = sorted(set(actual) - set(checksums))
    if extra:
        raise ConductorError.single(
            f"the NLU model folder holds a file training did not write: {extra[0]}", directory, hint=_RETRAIN
        )


def saved_fingerprint(directory: Path) -> str | None:
    """The training fingerprint of the model saved in `directory`, or None if there is no readable one."""
    try:
        manifest = json.loads((Path(directory) / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != NLU_FORMAT:
        return None
    fingerprint = manifest.get("fingerprint")
    return fingerprint if isinstance(fingerprint, str) else None


def read_json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConductorError.single(f"cannot read this NLU model file ({exc})", path, hint=_RETRAIN) from None


def read_arrays(directory: Path) -> dict[str, npt.NDArray[Any]]:
    path = Path(directory) / ARRAYS_FILE
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, KeyError) as exc:
        raise ConductorError.single(f"cannot read the NLU model's arrays ({exc})", path, hint=_RETRAIN) from None


def _checksums(directory: Path) -> dict[str, str]:
    sums = {}
    for path in sorted(directory.rglob("*")):
        name = path.relative_to(directory).as_posix()
        if path.is_file() and name != MANIFEST_FILE:
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
            sums[name] = digest.hexdigest()
    return sums
