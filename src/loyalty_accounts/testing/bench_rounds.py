"""The benchmark's timing of one round: the project's side, the raw side, the load average and the log."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from .bench_figures import Side
from .bench_raw import Replay
from .bench_wire import Recorder, Sent


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load() -> tuple[float, float, float]:
    return os.getloadavg()


def project_round(recorder: Recorder, action: Callable[[], int]) -> tuple[Side, list[Sent]]:
    """Time ``action`` (returns the operations it refused) on the project; its figures and accepted posts."""

    recorder.reset()
    cpu, wall = time.process_time(), time.perf_counter()
    refused = action()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    posts = recorder.accepted_posts()
    return Side(ops=0, wall_s=wall, cpu_s=cpu, requests=recorder.requests, refused=refused), posts


def raw_round(replay: Callable[[Replay], None]) -> Side:
    done = Replay()
    cpu, wall = time.process_time(), time.perf_counter()
    replay(done)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Side(ops=done.ops, wall_s=wall, cpu_s=cpu, requests=done.requests, refused=done.refused)
