"""A whole in-process stack shared by the tests of one module (each test uses its own users)."""

import pytest_asyncio

from tests.integration.stack import running_stack


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(module_settings):
    async with running_stack(module_settings, executors=1) as running:
        yield running
