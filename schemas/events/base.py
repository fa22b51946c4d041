"""Event payload base: permanent type names, class versions and upcasting.

Every event payload is a frozen pydantic model registered under a permanent ``TYPE`` string. A
change to a payload's fields bumps ``CLASS_VERSION`` and registers an upcaster from the previous
version, so events recorded years ago still decode into today's class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_REGISTRY: dict[str, type[Event]] = {}
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class Event(BaseModel):
    """Base of every recorded event payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    TYPE: ClassVar[str]
    CLASS_VERSION: ClassVar[int] = 1
    CONTEXT: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        type_name = cls.__dict__.get("TYPE")
        if type_name:
            existing = _REGISTRY.get(type_name)
            if existing is not None and existing.__qualname__ != cls.__qualname__:
                raise ValueError(f"event type {type_name!r} registered twice")
            _REGISTRY[type_name] = cls


def upcaster(type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function turning a payload of ``from_version`` into ``from_version + 1``."""

    def register(fn: Upcaster) -> Upcaster:
        _UPCASTERS[(type_name, from_version)] = fn
        return fn

    return register


class UnknownEventType(KeyError):
    pass


def event_class(type_name: str) -> type[Event]:
    try:
        return _REGISTRY[type_name]
    except KeyError:
        raise UnknownEventType(type_name) from None


def upcast(type_name: str, class_version: int, payload: dict[str, Any]) -> dict[str, Any]:
    """Bring a stored payload up to the current class version of its type."""
    cls = event_class(type_name)
    version = class_version
    while version < cls.CLASS_VERSION:
        step = _UPCASTERS.get((type_name, version))
        if step is None:
            raise ValueError(f"no upcaster for {type_name} v{version}")
        payload = step(payload)
        version += 1
    return payload


def decode_payload(type_name: str, class_version: int, payload: dict[str, Any]) -> Event:
    cls = event_class(type_name)
    return cls.model_validate(upcast(type_name, class_version, payload))


def registered_types() -> dict[str, type[Event]]:
    return dict(_REGISTRY)
