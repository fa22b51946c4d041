"""The template worker pool (audit F3): renders run in other processes, the wall-clock and memory
limits are enforced by killing the worker, the pool recovers, and the event loop never stalls."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from services.blocks.bounds import MAX_OUTPUT_CHARS, MAX_REPEAT
from services.blocks.data_list_ops import ZipListsBlock
from services.blocks.io import AgentOutputBlock
from services.blocks.sandbox import TemplatePool, TemplateRenderError, TemplateTimeout
from services.blocks.text import CombineTextsBlock, FillTextTemplateBlock, TextReplaceBlock
from services.blocks.time_blocks import CountdownTimerBlock
from services.domain.blocks.base import BlockInputError, RunContext
from services.infra.fair_slots import Slots

NESTED_LOOPS = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}done"
# Within the step budget (a few thousand steps) but seconds of CPU each: only the clock stops it.
BLIND_SPOT = "{% for i in range(1000) %}{{ ('ab ' * 300000)|wordwrap(5)|length }}{% endfor %}"
MEMORY_BOMB = "{{ range(1000)|map('string')|map('center', 900000)|list|length }}"  # ~900 MB of strings


@pytest.fixture
async def pool():
    pool = TemplatePool(workers=2, timeout_s=1.5, memory_mb=256)
    yield pool
    await pool.aclose()


def pids(pool: TemplatePool) -> set[int]:
    return {w.proc.pid for w in pool._all}  # which processes serve the pool


async def test_renders_in_another_process_started_lazily(pool):
    assert pool.started == 0 and not pids(pool)
    assert await pool.render("Hello {{ name }}{{ missing }}", {"name": "Ada"}) == "Hello Ada"
    assert await pool.render("{{ tag }}", {"tag": "<b>"}, escape_html=True) == "&lt;b&gt;"
    assert pool.started == 1 and os.getpid() not in pids(pool)


async def test_f3_timeout_kills_the_worker_and_the_pool_recovers(pool):
    await pool.render("warm", {})
    (first,) = pids(pool)
    started = time.monotonic()
    with pytest.raises(TemplateTimeout, match=r"template took longer than 1.5s"):
        await pool.render(BLIND_SPOT, {})
    assert time.monotonic() - started < 10  # killed at the limit, not after 1000 iterations
    assert pool.killed == 1

    async def gone() -> bool:
        try:
            os.kill(first, 0)
        except ProcessLookupError:
            return True
        return False

    deadline = time.monotonic() + 10
    while not await gone():
        assert time.monotonic() < deadline, "the timed-out worker is still alive"
        await asyncio.sleep(0.05)
    assert await pool.render("next {{ n }}", {"n": 1}) == "next 1"
    assert first not in pids(pool) and pool.started == 2


async def test_f3_memory_bomb_fails_with_a_clear_error_and_the_pool_recovers(pool):
    with pytest.raises(TemplateRenderError, match="256 MB memory limit"):
        await pool.render(MEMORY_BOMB, {})
    assert await pool.render("{{ 1 + 1 }}", {}) == "2"


async def test_f3_the_event_loop_keeps_turning_while_templates_burn_cpu(pool):
    await asyncio.gather(pool.render("a", {}), pool.render("b", {}))  # both workers started
    gaps: list[float] = []

    async def ticker(stop: asyncio.Event) -> None:
        last = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    stop = asyncio.Event()
    tick = asyncio.create_task(ticker(stop))
    results = await asyncio.gather(pool.render(NESTED_LOOPS, {}), pool.render(BLIND_SPOT, {}),
                                   return_exceptions=True)
    stop.set()
    await tick
    assert "steps" in str(results[0]) and isinstance(results[1], TemplateTimeout)
    assert max(gaps) < 1.0  # a render on the loop would have frozen it for the whole render


async def test_a_cancelled_render_never_answers_the_next_caller(pool):
    slow = asyncio.create_task(pool.render(BLIND_SPOT, {}))
    await asyncio.sleep(0.3)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    assert await pool.render("{{ x }}", {"x": "fresh"}) == "fresh"


async def test_more_renders_than_workers_queue_up(pool):
    outs = await asyncio.gather(*(pool.render("{{ i }}", {"i": i}) for i in range(6)))
    assert outs == [str(i) for i in range(6)] and pool.started <= 2


async def test_a_full_pool_serves_users_round_robin():
    """Alice queues four renders that each run to the limit; Bob's render waits for about one of
    them, not for all four (a first-come queue would make him wait for every one)."""
    pool = TemplatePool(workers=1, timeout_s=0.5, memory_mb=256)
    try:
        await pool.render("warm", {})
        alice = [asyncio.create_task(pool.render(BLIND_SPOT, {}, owner="alice")) for _ in range(4)]
        await asyncio.sleep(0.05)
        assert await pool.render("{{ who }}", {"who": "bob"}, owner="bob") == "bob"
        assert sum(not task.done() for task in alice) >= 2
        for outcome in await asyncio.gather(*alice, return_exceptions=True):
            assert isinstance(outcome, TemplateTimeout)
    finally:
        await pool.aclose()


async def test_fair_slots_survive_cancelled_waiters():
    slots = Slots(1, per_user=1)
    await slots.acquire("a")
    waiting = [asyncio.create_task(slots.acquire(owner)) for owner in ("a", "b", "a")]
    await asyncio.sleep(0)
    waiting[1].cancel()
    await asyncio.gather(waiting[1], return_exceptions=True)
    slots.release("a")
    await waiting[0]
    slots.release("a")
    await waiting[2]  # b left the queue, so the slot goes on to a's second request
    slots.release("a")
    assert slots.held == 0
    await asyncio.wait_for(slots.acquire("c"), 1)


async def test_close_stops_the_workers():
    pool = TemplatePool(workers=1, timeout_s=5, memory_mb=256)
    await pool.render("x", {})
    (pid,) = pids(pool)
    await pool.aclose()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(TemplateRenderError, match="shut down"):
        await pool.render("x", {})


# -- the blocks use the pool from their RunContext ------------------------------------------------

async def run(block_cls, data, ctx=None):
    return [pair async for pair in block_cls().execute(data, ctx or RunContext())]


async def test_f3_template_blocks_fail_clearly_through_the_pool(pool):
    ctx = RunContext(templates=pool)
    out = await run(FillTextTemplateBlock, {"values": {}, "format": NESTED_LOOPS}, ctx)
    assert out[0][0] == "error" and "steps" in out[0][1]
    out = await run(FillTextTemplateBlock, {"values": {}, "format": "{{ 'x' * 10**10 }}"}, ctx)
    assert out[0][0] == "error" and "10,000,000,000 characters" in out[0][1]
    out = await run(FillTextTemplateBlock, {"values": {"n": "Ada"}, "format": "Hi {{ n }}"}, ctx)
    assert out == [("output", "Hi Ada")]
    out = await run(AgentOutputBlock, {"name": "o", "value": 1, "format": BLIND_SPOT}, ctx)
    assert out[0][0] == "output" and "template took longer than 1.5s" in out[0][1]


# -- amplification bounds of text and list blocks (F5, block level) -------------------------------

async def test_f5_text_replace_with_empty_old_is_refused_before_building():
    out = await run(TextReplaceBlock, {"text": "a" * 31_000, "old": "", "new": "b" * 1000})
    assert out[0][0] == "error" and f"{MAX_OUTPUT_CHARS:,}" in out[0][1]
    assert await run(TextReplaceBlock, {"text": "abc", "old": "", "new": "-"}) == [("output", "-a-b-c-")]


async def test_f5_combine_texts_counts_the_delimiter():
    out = await run(CombineTextsBlock, {"input": ["x"] * 20_000, "delimiter": "d" * 1000})
    assert out[0][0] == "error" and "combined text" in out[0][1]


async def test_f5_zip_lists_padding_is_bounded():
    out = await run(ZipListsBlock, {"lists": [list(range(100_000)), *([[]] * 20)], "pad_to_longest": True})
    assert out[0][0] == "error" and "items" in out[0][1]
    out = await run(ZipListsBlock, {"lists": [list(range(10_000)), []], "pad_to_longest": True,
                                    "fill_value": "f" * 10_000})
    assert out[0][0] == "error" and "padding" in out[0][1]


async def test_f3_countdown_repeat_is_bounded():
    with pytest.raises(BlockInputError, match="repeat"):
        await run(CountdownTimerBlock, {"repeat": 5_000_000, "seconds": 0})
    out = await run(CountdownTimerBlock, {"repeat": MAX_REPEAT, "seconds": 0, "input_message": "m" * 20_000})
    assert out[0][0] == "error" and "repeated messages" in out[0][1]
    assert len(await run(CountdownTimerBlock, {"repeat": MAX_REPEAT, "seconds": 0})) == MAX_REPEAT


def test_a_worker_ends_itself_past_its_cpu_headroom():
    """Backstop for a parent that cannot kill (it died mid-render): RLIMIT_CPU ends the worker."""
    import pickle
    import signal
    import subprocess
    import sys

    from services.blocks.sandbox.worker import FRAME

    boot = "from services.blocks.sandbox.worker import worker_main; worker_main(256, 0.5)"
    proc = subprocess.Popen([sys.executable, "-c", boot], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        header = proc.stdout.read(FRAME.size)
        assert pickle.loads(proc.stdout.read(FRAME.unpack(header)[0]))[0] == "ready"
        request = pickle.dumps((BLIND_SPOT, {}, False))
        proc.stdin.write(FRAME.pack(len(request)) + request)
        proc.stdin.flush()
        assert proc.wait(timeout=30) == -signal.SIGXCPU
    finally:
        proc.kill()
        proc.wait()
