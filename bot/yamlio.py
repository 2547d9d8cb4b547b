"""Reading YAML files safely, with line numbers, the way Rasa 3.x reads them.

* YAML 1.2 core-schema scalars, as Rasa's reader uses: `yes`, `no`, `on`, `off` stay strings; only
  `true`/`false` are booleans.
* Mappings and sequences come back as `YamlMap` / `YamlList`: a dict and a list that remember the line of
  themselves, of each key and of each item, so that later checks can say `file:line`.
* Safe: no Python tags, a size limit, binary files refused, duplicate keys refused, and alias expansion
  bounded so a "billion laughs" document is an error instead of a frozen process.
* `${VAR}` environment substitution for credentials.yml and endpoints.yml (`substitute_env`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.errors import ConductorError, Problem

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "YamlList",
    "YamlMap",
    "iter_yaml_files",
    "line_of",
    "parse_yaml",
    "read_text",
    "read_yaml",
    "substitute_env",
]

MAX_FILE_BYTES = 20 * 1024 * 1024
"""Larger files are refused: no Rasa project file comes near this, and reading one could exhaust memory."""

MAX_NODES = 2_000_000
"""The most YAML nodes a document may expand to once aliases are followed."""

try:  # the libyaml parser is several times faster; the pure-Python one behaves the same
    _BaseLoader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - libyaml missing
    _BaseLoader = yaml.SafeLoader


class YamlMap(dict[Any, Any]):
    """A mapping read from YAML that remembers where it and each of its keys stand (1-based lines)."""

    line: int | None = None
    key_lines: dict[Any, int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines = {}

    def line_of(self, key: Any) -> int | None:
        return self.key_lines.get(key, self.line)


class YamlList(list[Any]):
    """A sequence read from YAML that remembers where it and each of its items stand (1-based lines)."""

    line: int | None = None
    item_lines: list[int]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.item_lines = []

    def line_of(self, index: int) -> int | None:
        if 0 <= index < len(self.item_lines):
            return self.item_lines[index]
        return self.line


def describe_value(value: Any) -> str:
    """A short description of a parsed YAML value for error messages ("a mapping", "str 'x'", ...)."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"


def plain(value: Any) -> Any:
    """A copy of parsed YAML with plain dicts and lists (no line-number containers)."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def line_of(container: Any, key: Any = None) -> int | None:
    """The line of `container` (or of one of its keys or items), if it was read from YAML."""
    if key is not None and isinstance(container, YamlMap | YamlList):
        return container.line_of(key)
    return getattr(container, "line", None)


# --- YAML 1.2 core schema -------------------------------------------------------------------------------

_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")


class _Resolver(yaml.resolver.Resolver):
    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - PyYAML keeps its resolver table on the class


_Resolver.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))
_Resolver.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_Resolver.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
_Resolver.add_implicit_resolver("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""])


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Composes nodes only; `_build` turns them into Python values with line numbers."""


_Loader.yaml_implicit_resolvers = _Resolver.yaml_implicit_resolvers




def _scalar(node: ScalarNode) -> Any:
    tag, value = node.tag, node.value
    if tag == "tag:yaml.org,2002:str":
        return value
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        return value.lower() == "true"
    if tag == "tag:yaml.org,2002:int":
        if value.startswith("0o"):
            return int(value[2:], 8)
        if value.startswith("0x"):
            return int(value[2:], 16)
        return int(value)
    if tag == "tag:yaml.org,2002:float":
        lowered = value.lower()
        if lowered.endswith(".inf"):
            return float("-inf") if lowered.startswith("-") else float("inf")
        if lowered == ".nan":
            return float("nan")
        return float(value)
    if tag in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"):
        return value
    raise _NodeError(node, f"the tag {tag!r} is not allowed here", "Remove the tag; plain YAML values only.")


class _NodeError(Exception):
    def __init__(self, node: Node, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.line = node.start_mark.line + 1
        self.message = message
        self.hint = hint


def _count(node: Node, memo: dict[int, int]) -> int:
    """How many nodes `node` expands to with aliases followed, computed without expanding them."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # a recursive alias counts once instead of looping
    total = 1
    if isinstance(node, SequenceNode):
        total += sum(_count(child, memo) for child in node.value)
    elif isinstance(node, MappingNode):
        total += sum(_count(k, memo) + _count(v, memo) for k, v in node.value)
    memo[key] = min(total, MAX_NODES + 1)
    return memo[key]


def _build(node: Node, active: set[int]) -> Any:
    if isinstance(node, ScalarNode):
        return _scalar(node)
    if id(node) in active:
        raise _NodeError(node, "a YAML alias refers to a node that contains it", "Remove the recursive alias.")
    if node.tag not in ("tag:yaml.org,2002:seq", "tag:yaml.org,2002:map", "tag:yaml.org,2002:omap"):
        raise _NodeError(node, f"the tag {node.tag!r} is not allowed here", "Remove the tag; plain YAML only.")
    active.add(id(node))
    try:
        if isinstance(node, SequenceNode):
            seq = YamlList()
            seq.line = node.start_mark.line + 1
            for child in node.value:
                seq.append(_build(child, active))
                seq.item_lines.append(child.start_mark.line + 1)
            return seq
        if isinstance(node, MappingNode):
            mapping = YamlMap()
            mapping.line = node.start_mark.line + 1
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise _NodeError(key_node, "YAML merge keys (<<) are not supported", "Write the keys out.")
                key = _build(key_node, active)
                if isinstance(key, list | dict):
                    raise _NodeError(key_node, "a mapping key must be a plain value", "Use a string as the key.")
                if key in mapping:
                    raise _NodeError(
                        key_node,
                        f"the key {key!r} appears twice in one mapping (first on line {mapping.key_lines[key]})",
                        "Keep one of them; YAML mappings cannot repeat a key.",
                    )
                mapping[key] = _build(value_node, active)
                mapping.key_lines[key] = key_node.start_mark.line + 1
            return mapping
        raise _NodeError(node, "unsupported YAML node")  # pragma: no cover - PyYAML has only three kinds
    finally:
        active.discard(id(node))


def read_text(path: str | Path, what: str = "file") -> str:
    """Read a UTF-8 text file, refusing missing, oversized and binary files with a clear problem."""
    p = Path(path)
    if not p.exists():
        raise ConductorError.single(f"the {what} does not exist", p, hint="Check the path, or create the file.")
    if p.is_dir():
        raise ConductorError.single(f"expected a {what} but found a folder", p, hint="Point at a file.")
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ConductorError.single(
            f"the {what} is {size / 1e6:.1f} MB, over the {MAX_FILE_BYTES // (1024 * 1024)} MB limit",
            p,
            hint="Split it into several smaller files in the same folder.",
        )
    raw = p.read_bytes()
    if b"\x00" in raw[:8192]:
        raise ConductorError.single(f"the {what} is binary, not YAML text", p, hint="Point at a text file.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConductorError.single(
            f"the {what} is not valid UTF-8 (byte {exc.start})", p, line, "Save the file as UTF-8."
        ) from None
    return text


def parse_yaml(text: str, source: str | Path = "<string>") -> Any:
    """Parse one YAML document from text into plain values (with `YamlMap`/`YamlList` containers)."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = exc.problem or exc.context or "invalid YAML"
        raise ConductorError.single(
            f"this is not valid YAML: {what}",
            source,
            line,
            "Check the indentation and quoting around that line (a value with ': ' or '#' needs quotes).",
        ) from None
    except yaml.YAMLError as exc:
        raise ConductorError.single(f"this is not valid YAML: {exc}", source) from None
    if node is None:
        return None
    if _count(node, {}) > MAX_NODES:
        raise ConductorError.single(
            f"the YAML aliases expand to more than {MAX_NODES:,} values",
            source,
            node.start_mark.line + 1,
            "This looks like an alias bomb; write the data out without nested aliases.",
        )
    try:
        return _build(node, set())
    except _NodeError as exc:
        raise ConductorError.single(exc.message, source, exc.line, exc.hint) from None
    except (ValueError, RecursionError) as exc:
        raise ConductorError.single(f"this YAML cannot be read: {exc}", source) from None


def read_yaml(path: str | Path, what: str = "YAML file") -> Any:
    """Read and parse a YAML file; every failure is a `ConductorError` naming the file and line."""
    return parse_yaml(read_text(path, what), path)


_ENV_VAR = re.compile(r"\$\{([^}]*)\}")


def substitute_env(value: Any, source: str | Path, environ: dict[str, str] | None = None) -> Any:
    """Replace `${VAR}` in every string of a parsed YAML value with the environment variable's value.

    A variable that is not set is an error naming it, the file and the line, as Rasa does it.
    """
    env = os.environ if environ is None else environ
    problems: list[Problem] = []

    def visit(item: Any, line: int | None) -> Any:
        if isinstance(item, str):
            def replace(match: re.Match[str]) -> str:
                name = match.group(1)
                if name not in env:
                    problems.append(
                        Problem(
                            f"the environment variable {name!r} is not set",
                            str(source),
                            line,
                            f"Set {name} in the environment before starting, or remove '${{{name}}}'.",
                        )
                    )
                    return match.group(0)
                return env[name]

            return _ENV_VAR.sub(replace, item)
        if isinstance(item, YamlMap):
            for key in list(item):
                item[key] = visit(item[key], item.line_of(key))
            return item
        if isinstance(item, dict):
            return {k: visit(v, line) for k, v in item.items()}
        if isinstance(item, YamlList):
            for index in range(len(item)):
                item[index] = visit(item[index], item.line_of(index))
            return item
        if isinstance(item, list):
            return [visit(v, line) for v in item]
        return item

    result = visit(value, line_of(value))
    if problems:
        raise ConductorError(problems)
    return result


def iter_yaml_files(path: Path) -> Iterator[Path]:
    """The YAML files at `path`: the file itself, or every *.yml / *.yaml below a folder, sorted."""
    if path.is_file():
        yield path
        return
    yield from sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
