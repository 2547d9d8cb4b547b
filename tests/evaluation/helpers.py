"""Checks shared by the evaluation tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def assert_valid_png(path: Path) -> tuple[int, int]:
    """The file is a PNG with a non-empty picture; returns its (width, height)."""
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE), f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 100 and height > 100, (width, height)
    assert data.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82"), f"{path.name} is truncated"
    return width, height
