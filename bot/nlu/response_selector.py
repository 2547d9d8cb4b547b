"""Response selection for retrieval intents (`faq/ask_x`): which response key of a retrieval intent fits.

The intent classifier learns the retrieval intent itself (`faq`), as Rasa's does; one selector per retrieval
intent then ranks its response keys with the same features and the same kind of calibrated linear model.
The parse output follows Rasa's shape: `response_selector[faq] = {"response": {...}, "ranking": [...]}`, with
`utter_action` being `utter_faq/ask_x`, the response name in the domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.nlu.featurizers import SparseRow
from bot.nlu.linear_model import LinearModel

__all__ = ["ResponseSelector"]


@dataclass
class ResponseSelector:
    retrieval_intent: str
    model: LinearModel
    """Labels are full intent names, `faq/ask_x`."""
    responses: dict[str, list[dict[str, Any]]]
    """`faq/ask_x` -> the response's variations (from the training data's `responses:`)."""
    ranking_length: int = 10

    def select(self, row: SparseRow) -> dict[str, Any]:
        confidences = self.model.confidences(row)
        order = np.argsort(-confidences, kind="stable")
        if self.ranking_length > 0:
            order = order[: self.ranking_length]
        ranking = [
            {"confidence": float(confidences[i]), "intent_response_key": self.model.labels[i]} for i in order
        ]
        best = ranking[0]
        key = str(best["intent_response_key"])
        return {
            "response": {
                "responses": [dict(variation) for variation in self.responses.get(key, [])],
                "confidence": best["confidence"],
                "intent_response_key": key,
                "utter_action": f"utter_{key}",
            },
            "ranking": ranking,
        }

    def description(self) -> dict[str, Any]:
        return {
            "retrieval_intent": self.retrieval_intent,
            "ranking_length": self.ranking_length,
            "responses": self.responses,
            **self.model.description(),
        }
