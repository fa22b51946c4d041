"""``agentloom up``'s supervisor with fake children: a dead child starts again after a pause that
doubles while it keeps dying, resets once it ran steadily, and a start that fails is retried."""

from __future__ import annotations

import pytest

from services.dev import supervision
from services.dev.supervision import Backoff, Child, Supervisor


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(supervision.time, "monotonic", fake)
    return fake


class Fake(Child):
    def __init__(self, name: str, failures: int = 0) -> None:
        self.name, self.running, self.starts, self.failures = name, False, 0, failures

    def start(self) -> None:
        self.starts += 1
        if self.failures:
            self.failures -= 1
            raise RuntimeError("port busy")
        self.running = True

    def alive(self) -> bool:
        return self.running

    def stop(self, timeout_s: float) -> None:
        self.running = False


def test_backoff_doubles_while_a_child_keeps_dying_and_resets_after_a_steady_run(clock):
    backoff = Backoff()
    backoff.started()
    assert [backoff.died() for _ in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    backoff.started()
    clock.now += supervision.STEADY_S
    assert backoff.died() == 0.5


def test_a_dead_child_is_started_again_after_its_pause(clock):
    supervisor, child = Supervisor(), Fake("broker")
    supervisor.start(child)
    child.running = False
    supervisor.restart_dead()
    assert child.starts == 1  # the pause first
    clock.now += 0.5
    supervisor.restart_dead()
    assert child.alive() and child.starts == 2 and supervisor.restarts["broker"] == 1
    child.running = False  # dies again at once: the next pause is longer
    supervisor.restart_dead()
    clock.now += 0.5
    supervisor.restart_dead()
    assert child.starts == 2
    clock.now += 0.5
    supervisor.restart_dead()
    assert child.starts == 3 and child.alive()


def test_a_failed_start_is_retried_and_nothing_restarts_while_stopping(clock):
    supervisor, child = Supervisor(), Fake("postgres")
    supervisor.start(child)
    child.running, child.failures = False, 1
    for _ in range(4):  # each pass: a death seen (pause), or a start once the pause is over
        clock.now += 5
        supervisor.restart_dead()
    assert child.alive() and child.starts == 3  # the first, one failed start, then a good one
    supervisor.stop_all(timeout_s=0.1)
    assert not child.alive()
    supervisor.restart_dead()
    assert not child.alive()


def test_a_revived_service_is_down_until_its_new_process_reports_ready(clock):
    class Service(Fake, supervision.ServiceChild):
        beats = True

        def __init__(self, name):
            Fake.__init__(self, name)
            self.proc = type("P", (), {"pid": 4242})()

    supervisor, executor, broker = Supervisor(), Service("executor"), Fake("broker")
    supervisor.start(executor)
    supervisor.start(broker)
    assert supervisor.down(set()) == []
    executor.running = broker.running = False
    supervisor.restart_dead()
    assert supervisor.down(set()) == ["broker", "executor"]
    clock.now += 1
    supervisor.restart_dead()  # both running again
    assert supervisor.down(set()) == ["executor"]  # the broker is back; the executor is not ready yet
    assert supervisor.down({4242}) == []


def test_a_dead_services_leftovers_are_killed_with_its_group(tmp_path):
    """uvicorn's workers outlived a kill -9 of their master and kept its port; a service runs in a
    process group of its own and what it leaves behind is killed before it is started again."""
    import os
    import signal
    import subprocess
    import time

    child = supervision.ServiceChild("api", dict(os.environ), tmp_path, 0)
    child.proc = subprocess.Popen(["sh", "-c", "sleep 60 & echo $!; wait"], stdout=subprocess.PIPE, text=True,
                                  start_new_session=True)
    worker = int(child.proc.stdout.readline())
    os.kill(child.proc.pid, signal.SIGKILL)
    child.proc.wait()
    assert os.path.exists(f"/proc/{worker}")  # the leftover, still running
    child.reap()
    deadline = time.monotonic() + 5
    while _running(worker):
        assert time.monotonic() < deadline, "the leftover survived"
        time.sleep(0.05)


def _running(pid: int) -> bool:
    from pathlib import Path

    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return False


def test_up_starts_one_of_each_service_and_the_copies_asked_for():
    from services.dev.local_stack import CHILDREN, child_plan

    assert child_plan({}) == [(service, 1) for service in CHILDREN]
    plan = child_plan({"executor": 2, "projector": 3, "relay": 5})  # the relay is not scaled
    assert plan.count(("relay", 1)) == 1 and ("relay", 2) not in plan
    assert [i for s, i in plan if s == "executor"] == [1, 2]
    assert [i for s, i in plan if s == "projector"] == [1, 2, 3]
    with pytest.raises(ValueError, match="give 1 to 8"):
        child_plan({"executor": 0})


def test_copies_of_a_service_have_their_own_name_log_and_backoff(tmp_path, clock, monkeypatch):
    """Two executors: the second is ``executor-2``, so one dying is restarted on its own backoff and
    /health names the copy that is down; both run ``serve executor``."""
    first = supervision.ServiceChild("executor", {}, tmp_path, 0)
    second = supervision.ServiceChild("executor", {}, tmp_path, 0, instance=2)
    assert (first.name, second.name) == ("executor", "executor-2")
    commands = []

    class Popen:
        def __init__(self, cmd, **_kwargs):
            commands.append(cmd[-2:])
            self.pid = 4000 + len(commands)

        def poll(self):
            return None

    monkeypatch.setattr(supervision.subprocess, "Popen", Popen)
    supervisor = Supervisor()
    supervisor.start(first)
    supervisor.start(second)
    assert commands == [["serve", "executor"], ["serve", "executor"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["executor-2.log", "executor.log"]
    assert set(supervisor.backoff) == {"executor", "executor-2"}
    second.proc = None  # the copy died
    assert supervisor.down(set()) == ["executor-2"]
