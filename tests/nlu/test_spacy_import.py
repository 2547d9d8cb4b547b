"""spaCy imported without its command line (`bot.nlu.spacy_import`), each case in a fresh interpreter: what a
server imports when it loads a model, `spacy.info()` and `spacy.cli` still working, and the ordinary import
when a spaCy's package needs more of its command line."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.conftest import REPO_ROOT


def _run(code: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    found: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def test_the_tokenizer_loads_spacy_without_its_command_line_which_still_works_when_asked_for() -> None:
    found = _run(
        """
        import json, sys
        from bot.nlu.tokenizer import Tokenizer
        words = Tokenizer.create("en", None).tokenize("I can't log in!").words
        heavy = sorted(m for m in ("spacy.cli", "requests", "httpx", "weasel", "jinja2") if m in sys.modules)
        import spacy
        info = spacy.info()
        import spacy.cli
        print(json.dumps({"words": list(words), "heavy": heavy, "version": info["spacy_version"],
                          "download": callable(spacy.cli.download), "requests": "requests" in sys.modules}))
        """
    )
    assert found["words"] == ["i", "can", "not", "log", "in"]
    assert found["heavy"] == []
    assert found["version"]  # spacy.info() imported the command line and ran
    assert found["download"] is True and found["requests"] is True  # the real spacy.cli, imported on demand


def test_a_spacy_whose_package_needs_more_of_its_command_line_is_imported_the_ordinary_way() -> None:
    found = _run(
        """
        import json, sys
        from importlib.abc import MetaPathFinder

        class FailOnce(MetaPathFinder):
            # the first import of spacy.about fails, as if spaCy's __init__ needed something the stand-in lacks
            failed = False
            def find_spec(self, name, path=None, target=None):
                if name == "spacy.about" and not FailOnce.failed:
                    FailOnce.failed = True
                    raise ImportError("cannot import name 'something' from 'spacy.cli'")
                return None

        sys.meta_path.insert(0, FailOnce())
        from bot.nlu.spacy_import import import_spacy
        spacy = import_spacy()
        print(json.dumps({"failed_once": FailOnce.failed, "blank": type(spacy.blank("en")).__name__,
                          "real_cli": hasattr(sys.modules.get("spacy.cli"), "download")}))
        """
    )
    assert found == {"failed_once": True, "blank": "English", "real_cli": True}
