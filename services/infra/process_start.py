"""The last step of a long-running process's start, before it serves or consumes.

What every request may need is loaded first: the block catalogue (a graph's schema, a run's
nodes, the outputs of a run in a notification), ~0.2-0.5 s of imports that the first user's first
request would otherwise wait for in each process (a new stack's first graph read took 297 ms, the
next ones ~20 ms). Then the collector is tuned (``gc_tuning``), which moves everything loaded so
far out of its sight.
"""

from __future__ import annotations

from services.infra.gc_tuning import tune_gc


def finish_start(*, loads_blocks: bool = True) -> None:
    if loads_blocks:
        from services.domain.blocks.registry import all_blocks

        all_blocks()
    tune_gc()
