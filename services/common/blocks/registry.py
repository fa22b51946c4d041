"""Finds every block class in this package once, by id.

Block modules are discovered by walking the package, so adding a block is adding a class in a
module here; nothing else needs to change. Ids are checked for shape and uniqueness at load time.
"""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from functools import lru_cache

from services.common.blocks.base import Block

_NOT_BLOCK_MODULES = {"base", "registry", "testing"}


def _subclasses(cls: type[Block]) -> list[type[Block]]:
    found: list[type[Block]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


@lru_cache(maxsize=1)
def all_blocks() -> dict[str, type[Block]]:
    """Every concrete block class, keyed by its permanent id (disabled ones included)."""
    package = importlib.import_module("services.common.blocks")
    for info in pkgutil.walk_packages(package.__path__, prefix="services.common.blocks."):
        if info.name.rsplit(".", 1)[-1] not in _NOT_BLOCK_MODULES:
            importlib.import_module(info.name)
    blocks: dict[str, type[Block]] = {}
    for cls in _subclasses(Block):
        block_id = cls.__dict__.get("id")
        if not block_id or cls.__name__.endswith("Base"):
            continue
        if str(uuid.UUID(block_id)) != block_id:
            raise ValueError(f"block {cls.__name__} has a malformed id {block_id!r}")
        if block_id in blocks and blocks[block_id] is not cls:
            raise ValueError(f"duplicate block id {block_id}: {cls.__name__}, {blocks[block_id].__name__}")
        blocks[block_id] = cls
    return blocks


def get_block(block_id: str) -> type[Block] | None:
    return all_blocks().get(block_id)


def enabled_blocks() -> list[type[Block]]:
    return [b for b in all_blocks().values() if not b.disabled]
