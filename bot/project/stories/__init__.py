"""Stories, rules and test stories in Rasa 3.x YAML: reading, checkpoint and `or` expansion, writing.

The format is the one Rasa checks with `rasa/shared/utils/schemas/stories.yml`: a file with `stories:` and/or
`rules:` lists; each item has a name, `steps` and optional `metadata`; a rule may also have a `condition`,
`conversation_start` and `wait_for_user_input`. Anything that schema rejects is an error here, with file,
line and a hint. Things Rasa accepts but skips with a warning (a story without steps, an intent written with
a leading `/`) are warnings, collected in the `warnings` list a caller passes in, or logged when it passes
none.

Slots in `slot_was_set` (and entities in an intent step) may be written by name only, meaning "set to some
value"; that is kept as the `ANY_VALUE` marker, and the domain decides later which value stands for it.

Import from this package; its modules are:

- `model`: the steps (`UserStep`, `ActionStep`, `SlotWasSetStep`, `OrStep`, ...) and `StoryBlock` as frozen
  dataclasses, the `ANY_VALUE` marker, the expansion limit, and where warnings go;
- `reader`: YAML to blocks (`parse_stories`, `load_story_file`, `load_stories`), with every problem at its
  file:line;
- `expansion`: `expand_or` and `resolve_checkpoints`, which turn blocks into linear stories as Rasa's
  training data generator does;
- `writer`: `dump_stories`, blocks back to Rasa 3.x YAML (with `# predicted:` comments for failed tests).
"""

from bot.project.stories.expansion import expand_or, resolve_checkpoints
from bot.project.stories.model import (
    ANY_VALUE,
    MAX_EXPANDED_STORIES,
    ActionStep,
    ActiveLoopStep,
    BotStep,
    CheckpointStep,
    ConditionStep,
    OrStep,
    SlotWasSetStep,
    Step,
    StoryBlock,
    StoryEntity,
    StoryKind,
    UserStep,
)
from bot.project.stories.reader import is_story_file, load_stories, load_story_file, parse_stories
from bot.project.stories.writer import dump_stories

__all__ = [
    "ANY_VALUE",
    "MAX_EXPANDED_STORIES",
    "ActionStep",
    "ActiveLoopStep",
    "BotStep",
    "CheckpointStep",
    "ConditionStep",
    "OrStep",
    "SlotWasSetStep",
    "Step",
    "StoryBlock",
    "StoryEntity",
    "StoryKind",
    "UserStep",
    "dump_stories",
    "expand_or",
    "is_story_file",
    "load_stories",
    "load_story_file",
    "parse_stories",
    "resolve_checkpoints",
]
