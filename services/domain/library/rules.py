"""The library's rules and bounds, each in one place (pure): graph settings, folder names and
colours, nesting depth, preset names, list bounds."""

from __future__ import annotations

import re
from typing import Any

# AutoGPT's GraphSettings, with its defaults (a null value reads as the default).
SETTINGS_DEFAULTS: dict[str, bool] = {"human_in_the_loop_safe_mode": True, "sensitive_action_safe_mode": False}

MAX_FOLDER_DEPTH = 5          # levels: a root folder is level 1, so depth 0..4
MAX_FOLDER_NAME = 100
MAX_FOLDERS_PER_USER = 1000
MAX_ICON = 100
COLOR_PATTERN = r"^#[0-9A-Fa-f]{6}$"
MAX_SEARCH_TERM = 100
MAX_BULK_MOVE = 500
MAX_PRESET_NAME = 200
MAX_PRESET_DESCRIPTION = 10_000
MAX_PAGE_SIZE = 100


def normalised_settings(settings: dict[str, Any] | None = None) -> dict[str, bool]:
    """Known settings only, each a bool, missing or null ones at their default."""
    given = settings or {}
    return {name: bool(given[name]) if given.get(name) is not None else default
            for name, default in SETTINGS_DEFAULTS.items()}


def valid_color(color: str) -> bool:
    return re.fullmatch(COLOR_PATTERN, color) is not None
