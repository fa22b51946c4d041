"""Story tests for the command handlers and the event store contract, run at two speeds.

Each story is given recorded events, runs one command and checks exactly which new events it
recorded, or that it was refused and recorded nothing. The story classes here hold the bodies;
``tests/unit`` collects them over ``MemoryEventStore`` and ``tests/integration`` over the real
PostgreSQL store, so both stores answer to the same stories.

These modules are not collected on their own (their names do not start with ``test_``); their
asserts are rewritten so failures show values.
"""

import pkgutil

import pytest

pytest.register_assert_rewrite(*(f"{__name__}.{module.name}" for module in pkgutil.iter_modules(__path__)))
