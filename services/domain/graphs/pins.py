"""Dynamic pin names: how one link can address a piece of a value, and how pieces are reassembled.

A link's pin name may carry a path after the base field name, so graphs can wire into or out of
parts of structured values without a dedicated block (AutoGPT-compatible syntax):

* ``items_$_0``      -> ``items[0]``        (list index)
* ``values_#_name``  -> ``values["name"]``  (dict key)
* ``obj_@_attr``     -> ``obj.attr``        (object attribute)

Steps nest in any order (``deep_#_key_$_0_@_data``). The AI orchestrator additionally emits
*tool pins* ``tools_^_{sink_node_id}_~_{field}``, which address one input of one downstream node.

Everything here is pure and total over strings: bad paths give ``None`` (output side) or are
kept verbatim (input side) so one odd pin name never breaks a whole execution.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

LIST_SPLIT = "_$_"
DICT_SPLIT = "_#_"
OBJC_SPLIT = "_@_"
TOOL_NODE_SPLIT = "_^_"
TOOL_FIELD_SPLIT = "_~_"
TOOLS_PIN = "tools"
PATH_DELIMITERS = (LIST_SPLIT, DICT_SPLIT, OBJC_SPLIT)
_TOOL_PREFIX = TOOLS_PIN + TOOL_NODE_SPLIT

# A pin like ``x_$_999999999`` would otherwise make the merge pad a list with a billion Nones.
MAX_LIST_INDEX = 100_000

Token = tuple[str, str]


class PinObject:
    """The attribute holder built for ``_@_`` pins when no object exists yet.

    Plain attributes only; equality compares attributes so assembled inputs can be compared in
    tests and de-duplicated like dicts.
    """

    def __init__(self, **attrs: Any) -> None:
        self.__dict__.update(attrs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PinObject) and vars(self) == vars(other)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"PinObject({inner})"

    __hash__ = None  # type: ignore[assignment]  # mutable, like a dict


def _first_delimiter(text: str) -> int:
    """Index of the earliest path delimiter in ``text``, or -1."""
    found = [i for i in (text.find(d) for d in PATH_DELIMITERS) if i >= 0]
    return min(found) if found else -1


def split_pin(name: str) -> tuple[str, str]:
    """``(base, path)``: the base field name and the raw path after it ('' when plain)."""
    pos = _first_delimiter(name)
    return (name, "") if pos < 0 else (name[:pos], name[pos:])


def _tokenize(path: str) -> list[Token] | None:
    """Turn ``_$_0_#_key`` into ``[("_$_", "0"), ("_#_", "key")]``; None when malformed."""
    tokens: list[Token] = []
    while path:
        delim = next((d for d in PATH_DELIMITERS if path.startswith(d)), None)
        if delim is None:
            return None
        path = path[len(delim):]
        end = _first_delimiter(path)
        ident, path = (path, "") if end < 0 else (path[:end], path[end:])
        if not ident:
            return None
        tokens.append((delim, ident))
    return tokens


def is_tool_pin(name: str) -> bool:
    """True for the orchestrator's ``tools`` pin and its per-sink ``tools_^_…`` variants."""
    return name == TOOLS_PIN or name.startswith(_TOOL_PREFIX)


def sanitize_pin_name(name: str) -> str:
    """The schema field a pin belongs to: path stripped, every tool pin folded into ``tools``.

    Validation and required-field checks only look at this base name, which is why any
    ``values_#_<anything>`` link into a block with a ``values`` input is accepted.
    """
    base, _ = split_pin(name)
    return TOOLS_PIN if is_tool_pin(base) else base


def _tool_target(output_name: str) -> tuple[str, str] | None:
    """``(sink_node_id, field)`` addressed by a ``tools_^_{node}_~_{field}`` output name."""
    rest = output_name[len(_TOOL_PREFIX):]
    node_id, sep, field = rest.partition(TOOL_FIELD_SPLIT)
    return (node_id, field) if sep and node_id and field else None


def parse_execution_output(
    output_name: str,
    value: Any,
    link_source_name: str,
    sink_node_id: str | None = None,
    sink_pin_name: str | None = None,
) -> Any:
    """The part of one yielded ``(output_name, value)`` that a link named ``link_source_name`` carries.

    Returns None when the link does not take this output or its path does not resolve; the
    executor treats None as "nothing to send". Tool pins are delivered only to the node and pin
    they name, so the link's sink must be known (ValueError otherwise: a wiring bug, not data).
    """
    if link_source_name == output_name:
        return value
    if link_source_name == TOOLS_PIN and output_name.startswith(_TOOL_PREFIX):
        if sink_node_id is None or sink_pin_name is None:
            raise ValueError("sink_node_id and sink_pin_name must be provided for tool pin routing")
        return value if _tool_target(output_name) == (sink_node_id, sink_pin_name) else None
    if not link_source_name.startswith(output_name):
        return None
    tokens = _tokenize(link_source_name[len(output_name):])
    return None if tokens is None else _select(value, tokens)


_MISSING = object()


def _step(current: Any, delim: str, ident: str) -> Any:
    """One path step on the output side; ``_MISSING`` when it cannot be taken."""
    if delim == LIST_SPLIT:
        if not isinstance(current, (list, tuple)) or not ident.isdigit():
            return _MISSING
        index = int(ident)
        return current[index] if index < len(current) else _MISSING
    if delim == DICT_SPLIT:
        if isinstance(current, Mapping) and ident in current:
            return current[ident]
        return _MISSING
    # Attributes: never private/dunder names or methods, so a graph cannot walk into internals.
    if ident.startswith("_") or isinstance(current, Mapping):
        return _MISSING
    attr = getattr(current, ident, _MISSING)
    return _MISSING if callable(attr) else attr


def _select(value: Any, tokens: list[Token]) -> Any:
    for delim, ident in tokens:
        value = _step(value, delim, ident)
        if value is _MISSING:
            return None
    return value


def merge_execution_input(data: dict[str, Any]) -> dict[str, Any]:
    """Assemble flattened dynamic-pin keys into containers, in place, and return ``data``.

    ``{"v_#_a": 1, "v_#_b": 2}`` gains ``"v": {"a": 1, "b": 2}``; the flattened keys stay (the
    recorded node input shows both, as AutoGPT's does). Keys are applied in insertion order, so a
    later key whose path needs a different container type replaces the earlier container. A key
    whose path is malformed is kept as a plain value. A non-integer list index is a ValueError.
    """
    merged: dict[str, Any] = {}
    owned: dict[int, Any] = {}  # containers built here may be mutated; anything else is copied
    for key, value in list(data.items()):
        base, path = split_pin(key)
        tokens = _tokenize(path) if path else None
        if tokens is None:
            merged[key] = value
            continue
        merged[base] = _assign(merged.get(base), tokens, value, owned)
    data.update(merged)
    return data


def _own(container: Any, owned: dict[int, Any]) -> Any:
    owned[id(container)] = container
    return container


def _as_list(current: Any, owned: dict[int, Any]) -> list:
    if isinstance(current, list) and id(current) in owned:
        return current
    return _own(list(current) if isinstance(current, (list, tuple)) else [], owned)


def _as_dict(current: Any, owned: dict[int, Any]) -> dict:
    if isinstance(current, dict) and id(current) in owned:
        return current
    return _own(dict(current) if isinstance(current, Mapping) else {}, owned)


def _as_object(current: Any, owned: dict[int, Any]) -> Any:
    if id(current) in owned and hasattr(current, "__dict__"):
        return current
    usable = hasattr(current, "__dict__") and not isinstance(current, type)
    return _own(copy.copy(current) if usable else PinObject(), owned)


def _list_index(ident: str) -> int:
    try:
        index = int(ident)
    except ValueError:
        raise ValueError("index must be an integer") from None
    if index < 0 or index > MAX_LIST_INDEX:
        raise ValueError(f"index must be between 0 and {MAX_LIST_INDEX}")
    return index


def _assign(current: Any, tokens: list[Token], value: Any, owned: dict[int, Any]) -> Any:
    """Return ``current`` (or a replacement container) with ``value`` stored along ``tokens``."""
    if not tokens:
        return value
    (delim, ident), rest = tokens[0], tokens[1:]
    if delim == LIST_SPLIT:
        index = _list_index(ident)
        items = _as_list(current, owned)
        items.extend([None] * (index + 1 - len(items)))
        items[index] = _assign(items[index], rest, value, owned)
        return items
    if delim == DICT_SPLIT:
        mapping = _as_dict(current, owned)
        mapping[ident] = _assign(mapping.get(ident), rest, value, owned)
        return mapping
    obj = _as_object(current, owned)
    setattr(obj, ident, _assign(getattr(obj, ident, None), rest, value, owned))
    return obj
