"""A small Rasa-format NLU data set that trains in about a second, and pipelines trained on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.nlu import NLUPipeline
from bot.project.nlu_data import TrainingData, parse_nlu
from bot.yamlio import parse_yaml

SMALL_NLU = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - hi there
    - good morning
    - hey
    - hello, how are you
    - good evening
- intent: goodbye
  examples: |
    - bye
    - goodbye
    - see you later
    - have a nice day
    - talk to you soon
    - bye bye
- intent: book_flight
  examples: |
    - book a flight to [Berlin](city)
    - I need a plane ticket to [Paris](city)
    - fly me to [London](city) please
    - I want to fly to [Rome](city)
    - get me a flight to [NYC]{"entity": "city", "value": "New York"}
    - book me a ticket to [Madrid](city)
    - a flight to [Vienna](city) tomorrow
- intent: check_weather
  examples: |
    - what's the weather like in [Berlin](city)
    - will it rain in [Paris](city) today
    - is it sunny in [London](city)
    - weather forecast for [Rome](city)
    - how hot is it in [Madrid](city)
    - do I need an umbrella
- intent: order_pizza
  examples: |
    - I want to order a pizza
    - get me a large pepperoni pizza
    - order two pizzas please
    - can I get a margherita
    - pizza delivery please
- intent: thank
  examples: |
    - thanks
- intent: faq/ask_name
  examples: |
    - what is your name
    - who are you
    - what should I call you
    - tell me your name
- intent: faq/ask_age
  examples: |
    - how old are you
    - what is your age
    - when were you born
    - are you old
- synonym: New York
  examples: |
    - NYC
    - new york city
- regex: zipcode
  examples: |
    - \\b[0-9]{5}\\b
- lookup: city
  examples: |
    - Berlin
    - Paris
responses:
  utter_faq/ask_name:
  - text: I am Conductor.
  - text: People call me Conductor.
  utter_faq/ask_age:
  - text: I was trained a second ago.
"""


def small_training_data() -> TrainingData:
    return parse_nlu(parse_yaml(SMALL_NLU, "small_nlu.yml"), "small_nlu.yml", text=SMALL_NLU)


def train_small(config: list[dict[str, Any]] | None = None) -> NLUPipeline:
    return NLUPipeline.train(small_training_data(), config, "en")


@pytest.fixture(scope="module")
def small_data() -> TrainingData:
    return small_training_data()


@pytest.fixture(scope="module")
def small_pipeline() -> NLUPipeline:
    """The default pipeline trained on the small data set (shared by the tests of one module)."""
    return train_small()


@pytest.fixture(scope="module")
def saved_small_pipeline(small_pipeline: NLUPipeline, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model") / "nlu"
    small_pipeline.save(folder)
    return folder
