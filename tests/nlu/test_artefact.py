"""The saved model: layout without pickles, checksums, versions, and every way a folder can be wrong."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.errors import ConductorError
from bot.nlu import NLUPipeline
from bot.nlu.artefact import MANIFEST_FILE, NLU_FORMAT


@pytest.fixture
def model(saved_small_pipeline: Path, tmp_path: Path) -> Path:
    """A private copy of the saved small model, free to damage."""
    target = tmp_path / "nlu"
    shutil.copytree(saved_small_pipeline, target)
    return target


def _manifest(folder: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((folder / MANIFEST_FILE).read_text())


def test_layout_is_json_numpy_and_spacy(model: Path) -> None:
    files = sorted(p.relative_to(model).as_posix() for p in model.rglob("*") if p.is_file())
    assert {"nlu.json", "vocabulary.json", "arrays.npz", "tokenizer/tokenizer.json"} <= set(files)
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".joblib"))]
    with np.load(model / "arrays.npz", allow_pickle=False) as arrays:
        assert {"idf", "intent_weights", "intent_bias", "selector0_weights"} <= set(arrays.files)
        assert all(arrays[name].dtype != object for name in arrays.files)
    manifest = _manifest(model)
    assert manifest["format"] == NLU_FORMAT
    assert manifest["conductor_version"] and manifest["spacy_version"]
    assert set(manifest["checksums"]) == set(files) - {"nlu.json"}


def test_a_changed_file_is_refused(model: Path) -> None:
    with np.load(model / "arrays.npz", allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["intent_bias"] = arrays["intent_bias"] + 1
    np.savez(model / "arrays.npz", **arrays)
    with pytest.raises(ConductorError, match="changed after training") as caught:
        NLUPipeline.load(model)
    assert caught.value.problems[0].file == str(model / "arrays.npz")


@pytest.mark.parametrize("name", ["vocabulary.json", "tokenizer/tokenizer.json"])
def test_a_truncated_file_is_refused(model: Path, name: str) -> None:
    path = model / name
    path.write_bytes(path.read_bytes()[:10])
    with pytest.raises(ConductorError, match="checksum mismatch"):
        NLUPipeline.load(model)


def test_a_missing_file_is_refused(model: Path) -> None:
    (model / "vocabulary.json").unlink()
    with pytest.raises(ConductorError, match="a file of the NLU model is missing"):
        NLUPipeline.load(model)


def test_an_added_file_is_refused(model: Path) -> None:
    (model / "extra.py").write_text("print('hi')")
    with pytest.raises(ConductorError, match=r"a file training did not write: extra\.py"):
        NLUPipeline.load(model)


def test_another_format_version_is_refused(model: Path) -> None:
    manifest = _manifest(model)
    manifest.update({"format": NLU_FORMAT + 1, "conductor_version": "9.9.9"})
    (model / MANIFEST_FILE).write_text(json.dumps(manifest))
    newer = rf"format {NLU_FORMAT + 1} \(saved by Conductor 9\.9\.9\); Conductor .* reads format {NLU_FORMAT}"
    with pytest.raises(ConductorError, match=newer) as caught:
        NLUPipeline.load(model)
    assert "Train the model again" in (caught.value.problems[0].hint or "")


@pytest.mark.parametrize("content", ["{", "[]", '{"format": 1}'])
def test_a_broken_manifest_is_refused(model: Path, content: str) -> None:
    (model / MANIFEST_FILE).write_text(content)
    with pytest.raises(ConductorError):
        NLUPipeline.load(model)


def test_a_manifest_with_wrong_content_is_refused(model: Path) -> None:
    manifest = _manifest(model)
    manifest["intent"]["labels"] = manifest["intent"]["labels"][:-1]
    (model / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(ConductorError, match="the NLU model is malformed"):
        NLUPipeline.load(model)


def test_no_model_in_the_folder(tmp_path: Path) -> None:
    with pytest.raises(ConductorError, match="no NLU model here"):
        NLUPipeline.load(tmp_path)


def test_saving_replaces_an_earlier_model_but_not_other_files(small_pipeline: NLUPipeline, tmp_path: Path) -> None:
    target = tmp_path / "models" / "nlu"
    small_pipeline.save(target)
    small_pipeline.save(target)
    assert NLUPipeline.load(target).parse("hello")["intent"]["name"] == "greet"
    assert [p.name for p in target.parent.iterdir()] == ["nlu"]
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "domain.yml").write_text("version: '3.1'")
    with pytest.raises(ConductorError, match="not empty"):
        small_pipeline.save(tmp_path / "project")
    assert (tmp_path / "project" / "domain.yml").exists()
