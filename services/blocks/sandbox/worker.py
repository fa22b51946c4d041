"""The template worker process: caps its own address space, then renders requests from stdin.

Started as a fresh interpreter (``python -c '...worker_main(<memory_mb>, <cpu_s>)'``, see ``pool.py``), never
forked from the threaded asyncio parent and without re-running the parent's main module.
``RLIMIT_AS`` makes a memory bomb fail inside this process with ``MemoryError`` (reported, and the
worker retires) instead of growing until the host's OOM killer picks a victim. The parent owns
the wall-clock limit: it kills this process when a render overruns. As a backstop (a parent that
died mid-render, a render that never yields), each render also gets ``RLIMIT_CPU`` headroom of
``cpu_s`` seconds, after which the kernel ends this process by itself.

Protocol on stdin/stdout: frames of a 4-byte big-endian length and a pickle. The worker sends
``("ready", pid)`` once, then answers each ``(source, values, escape_html)`` with ``reply()``'s
tuple. EOF on stdin (the parent went away) ends it. Stray prints go to stderr, never the pipe.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys
from typing import Any, BinaryIO

from jinja2 import TemplateError

from services.blocks.sandbox.environment import render_bounded

Reply = tuple  # ("ok", text) | ("error", message, retire: bool)


def reply(source: str, values: dict[str, Any], escape_html: bool, memory_mb: int | None = None) -> Reply:
    """Render and turn every failure into a message a user can act on."""
    try:
        return ("ok", render_bounded(source, values, escape_html=escape_html))
    except MemoryError:
        limit = f"its {memory_mb} MB memory limit" if memory_mb else "the available memory"
        return ("error", f"the template used more than {limit}", True)
    except RecursionError:
        return ("error", "the template nests or recurses too deeply", False)
    except TemplateError as exc:
        return ("error", str(exc) or type(exc).__name__, False)
    except Exception as exc:  # noqa: BLE001 - user code: any error is the template's
        return ("error", f"{type(exc).__name__}: {exc}", False)


def _limit_memory(memory_mb: int) -> None:
    import resource

    limit = memory_mb * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):  # pragma: no cover - a platform without RLIMIT_AS
        pass


FRAME = struct.Struct(">I")


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def write_frame(stream: BinaryIO, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(FRAME.pack(len(data)) + data)
    stream.flush()


def _limit_cpu(seconds: float) -> None:
    """Let the next render use at most ``seconds`` more CPU (soft limit: SIGXCPU ends us)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime + seconds) + 1
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.getrlimit(resource.RLIMIT_CPU)[1]))
    except (ValueError, OSError):  # pragma: no cover - a hard limit below the soft one
        pass


def worker_main(memory_mb: int, cpu_s: float | None = None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which closes us
    requests = sys.stdin.buffer
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr  # nothing printed may corrupt the answer pipe
    _limit_memory(memory_mb)
    write_frame(answers, ("ready", os.getpid()))
    while True:
        header = _read_exactly(requests, FRAME.size)
        body = header and _read_exactly(requests, FRAME.unpack(header)[0])
        if not body:
            return
        source, values, escape_html = pickle.loads(body)
        if cpu_s:
            _limit_cpu(cpu_s)
        answer = reply(source, values, escape_html, memory_mb)
        try:
            write_frame(answers, answer)
        except (BrokenPipeError, OSError):
            return
        if len(answer) > 2 and answer[2]:
            return  # after a MemoryError the parent starts a fresh worker
