"""Importing spaCy without its command line.

spaCy's package `__init__` imports `spacy.cli.info` for its `spacy.info()` function, and with it the whole of
`spacy.cli`: every command, and what they use (requests, httpx, typer, weasel, jinja2...). The NLU needs none
of it: it tokenizes with a blank or installed pipeline. Measured on the rasa-init server (2-core development
machine): 16 MB of memory and 0.14 s of start-up, a tenth of the server's memory.

`import_spacy()` imports spaCy with a stand-in for `spacy.cli.info` whose `info` imports the real command line
when called, so `spacy.info()` still works. The stand-ins leave `sys.modules` as soon as spaCy is imported, so
a later `import spacy.cli` (spaCy's own commands, `python -m spacy download`) imports the real one. A spaCy
version whose `__init__` needs more of `spacy.cli` than `info` makes the first attempt fail; spaCy is then
imported the ordinary way. Every module of Conductor that imports spaCy at run time calls this first.
"""

from __future__ import annotations

import sys
import types
from typing import Any

__all__ = ["import_spacy", "spacy_version"]

_STAND_INS = ("spacy.cli", "spacy.cli.info")


def import_spacy() -> types.ModuleType:
    """The `spacy` module, imported without `spacy.cli` if it was not imported yet."""
    loaded = sys.modules.get("spacy")
    if loaded is not None:
        return loaded
    if "spacy.cli" in sys.modules:  # someone imported the command line already: nothing to save
        import spacy

        return spacy
    package = types.ModuleType("spacy.cli", "Stand-in while spaCy is imported (bot.nlu.spacy_import).")
    package.__path__ = []  # a package nothing else can be imported from
    info_module = types.ModuleType("spacy.cli.info")
    info_module.info = _info  # type: ignore[attr-defined]
    sys.modules.update({"spacy.cli": package, "spacy.cli.info": info_module})
    try:
        import spacy
    except ImportError:
        _drop_stand_ins(package, info_module)
        import spacy  # this spaCy needs more of its command line at import: the ordinary way
    finally:
        _drop_stand_ins(package, info_module)
    if getattr(spacy, "cli", None) is package:
        delattr(spacy, "cli")  # the package attribute the import set; `import spacy.cli` sets the real one
    return spacy


def _drop_stand_ins(*stand_ins: types.ModuleType) -> None:
    for name, module in zip(_STAND_INS, stand_ins, strict=True):
        if sys.modules.get(name) is module:
            del sys.modules[name]


def _info(*args: Any, **kwargs: Any) -> Any:
    """`spacy.info`: imports spaCy's command line, then runs its `info`."""
    from spacy.cli.info import info

    return info(*args, **kwargs)


def spacy_version() -> str:
    """The installed spaCy's version (what a saved model records)."""
    return str(import_spacy().about.__version__)
