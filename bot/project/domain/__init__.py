"""The Rasa 3.x domain: intents, entities, slots, responses, actions, forms and session settings.

`load_domain` reads a domain file, a folder of domain files or a list of both, the way Rasa 3.6 does (its
schemas `rasa/shared/utils/schemas/domain.yml` and `.../training_data/schemas/responses.yml`, plus the checks
Rasa makes while building its `Domain`). Every mistake is collected and reported at once as one
`ConductorError` whose problems say what is wrong, at which file:line, and what to do. Things Rasa only warns
about become `Severity.WARNING` problems on `Domain.warnings`.

Where this reader is stricter than Rasa's schema it says so in the problem: an unknown top-level key is an
error here (Rasa ignores it silently, which hides a misspelt `respones:`).

`Domain.as_dict` gives the JSON shape Rasa hands to action servers as `domain` and returns from
`GET /domain`; `Domain.from_dict` reads it back. `parse_responses` reads a `responses:` section on its own
(an instance's persona overrides responses in the domain's shape).

Import from this package; its modules are the parts of one reader:

- `parts`: Rasa's built-in names (default intents and actions, reserved slots, slot and mapping types) and
  the frozen dataclasses a domain is made of (`Intent`, `Entity`, `Slot`, `SlotMapping`,
  `ResponseVariation`, `Action`, `Form`, `SessionConfig`, ...), each with its `as_dict`;
- `model`: `Domain` itself (names in Rasa's order, entities per intent, `as_dict` / `from_dict`), and how two
  domains merge (duplicates and conflicts) with the checks that need the whole domain;
- `reader`: `load_domain` (files and folders) and `DomainReader`, which turns one parsed YAML document into a
  `Domain` with a file:line problem for each mistake: the top level, intents, entities, actions, forms and
  settings;
- `slots` and `responses`: the readers of the `slots:` and `responses:` sections, which `DomainReader`
  inherits (`parse_responses` uses the latter alone);
- `shapes`: the base those readers share: where problems are collected, checks of the shapes YAML values
  take (mapping, list, text, true/false, names, known keys), and the wording of values in messages.
"""

from bot.project.domain.model import Domain
from bot.project.domain.parts import (
    BUILTIN_SLOT_TYPES,
    DEFAULT_ACTIONS,
    DEFAULT_INTENTS,
    DOMAIN_FORMAT_VERSION,
    ENTITY_LABEL_SEPARATOR,
    MAPPING_TYPES,
    MESSAGE_REFUSED_RESPONSE,
    REQUESTED_SLOT,
    RULE_SNIPPET_ACTION,
    SESSION_STARTED_METADATA_SLOT,
    Action,
    Entity,
    Form,
    Intent,
    MappingCondition,
    MappingType,
    ResponseCondition,
    ResponseVariation,
    SessionConfig,
    Slot,
    SlotMapping,
)
from bot.project.domain.reader import load_domain
from bot.project.domain.responses import parse_responses

__all__ = [
    "BUILTIN_SLOT_TYPES",
    "DEFAULT_ACTIONS",
    "DEFAULT_INTENTS",
    "DOMAIN_FORMAT_VERSION",
    "ENTITY_LABEL_SEPARATOR",
    "MAPPING_TYPES",
    "MESSAGE_REFUSED_RESPONSE",
    "REQUESTED_SLOT",
    "RULE_SNIPPET_ACTION",
    "SESSION_STARTED_METADATA_SLOT",
    "Action",
    "Domain",
    "Entity",
    "Form",
    "Intent",
    "MappingCondition",
    "MappingType",
    "ResponseCondition",
    "ResponseVariation",
    "SessionConfig",
    "Slot",
    "SlotMapping",
    "load_domain",
    "parse_responses",
]
