"""Natural-language understanding: a trainable pipeline that turns a message into Rasa's parse JSON.

    pipeline = NLUPipeline.train(training_data, config_pipeline_items_or_None, "en")
    pipeline.parse("book a table for two")   # {"text", "intent", "entities", "intent_ranking", ...}
    pipeline.save(folder); NLUPipeline.load(folder)

See `pipeline` for the flow, `pipeline_config` for the components config.yml can name, `linear_model` for
the classifier and why it was chosen, `artefact` for the saved model's layout.
"""

from bot.nlu.components import EntityDict, EntityExtractor
from bot.nlu.pipeline import FALLBACK_INTENT, NLUPipeline, Progress, training_fingerprint
from bot.nlu.pipeline_config import DEFAULT_PIPELINE, KNOWN_COMPONENTS

Interpreter = NLUPipeline
"""Rasa's name for a trained NLU model that parses messages."""

__all__ = [
    "DEFAULT_PIPELINE",
    "FALLBACK_INTENT",
    "KNOWN_COMPONENTS",
    "EntityDict",
    "EntityExtractor",
    "Interpreter",
    "NLUPipeline",
    "Progress",
    "training_fingerprint",
]
