"""Finds every block class of the catalogue once, by id.

The domain knows what a block is (``base``) and how to look one up (here); the block families live
in the catalogue layer, ``services.blocks``, one module per family. They are plug-ins: this module
names their package as a string and imports its top-level modules at the first lookup, so the
domain has no static import of any family (the families may do I/O; the domain may not). Adding a
block is adding a class in a family module; nothing else changes. Ids are checked for shape and
uniqueness at load time.
"""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from functools import lru_cache

from services.domain.blocks.base import Block

CATALOGUE_PACKAGE = "services.blocks"
# Modules of the catalogue package that hold helpers, not blocks (sub-packages are never walked).
_NOT_BLOCK_MODULES = {"testing", "bounds", "net_policy"}


def _subclasses(cls: type[Block]) -> list[type[Block]]:
    found: list[type[Block]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


@lru_cache(maxsize=1)
def all_blocks() -> dict[str, type[Block]]:
    """Every concrete block class, keyed by its permanent id (disabled ones included)."""
    package = importlib.import_module(CATALOGUE_PACKAGE)
    for info in pkgutil.iter_modules(package.__path__):
        if not info.ispkg and info.name not in _NOT_BLOCK_MODULES:
            importlib.import_module(f"{CATALOGUE_PACKAGE}.{info.name}")
    return index_blocks(_subclasses(Block))


def index_blocks(classes: list[type[Block]]) -> dict[str, type[Block]]:
    """Concrete block classes by id; a malformed or repeated id stops the process at start."""
    blocks: dict[str, type[Block]] = {}
    for cls in classes:
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
