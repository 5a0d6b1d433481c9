"""The project's import, run in a child process so its peak memory is its own.

:func:`run_import_child` is the child's body (``multiprocessing`` spawn
context: a fresh interpreter, so nothing the parent allocated counts). It
opens the app on the ledger, imports the order file with
``LoyaltyProgram.import_orders``, and reports wall time, client CPU, requests,
the growth of ``ru_maxrss`` (KiB on Linux) from just before the import to its
end, and how many requests were in flight at most. Every accepted post is
written to ``posts_file`` as it is answered (not kept), for the raw side to
replay; :func:`read_posts` reads them back one at a time.
"""

from __future__ import annotations

import resource
import struct
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, BinaryIO

from .bench_wire import Recorder, Sent

__all__ = ["run_import_child", "read_posts", "write_post"]

_HEADER = struct.Struct("<III")


def write_post(out: BinaryIO, sent: Sent) -> None:
    """Append ``sent``'s path, query and body to ``out`` (length-prefixed)."""

    path = sent.path.encode()
    key = (sent.idempotency_key or "").encode()
    out.write(_HEADER.pack(len(path), len(sent.query), len(sent.content)))
    out.write(path + sent.query + sent.content)
    out.write(struct.pack("<I", len(key)) + key)


def read_posts(path: Path) -> Iterator[Sent]:
    """The posts :func:`write_post` wrote to ``path``, in order, as POST requests answered 200."""

    with path.open("rb") as source:
        while header := source.read(_HEADER.size):
            n_path, n_query, n_content = _HEADER.unpack(header)
            blob = source.read(n_path + n_query + n_content)
            (n_key,) = struct.unpack("<I", source.read(4))
            key = source.read(n_key).decode() or None
            yield Sent(
                method="POST",
                path=blob[:n_path].decode(),
                query=blob[n_path : n_path + n_query],
                content=blob[n_path + n_query :],
                idempotency_key=key,
                status=200,
                thread=0,
            )


def run_import_child(url: str, ledger: str, orders: str, posts_file: str, chunk_size: int | None, conn: Connection) -> None:
    """Import ``orders`` into ``ledger`` at ``url``; send a dict of figures (or ``{"error": ...}``) on ``conn``."""

    result: dict[str, Any]
    try:
        from ..app import create_app

        app = create_app(ledger_url=url, ledger_name=ledger)
        program = app.program
        with open(posts_file, "wb") as out:
            with Recorder(sink=lambda sent: write_post(out, sent)) as recorder:
                rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                cpu, wall = time.process_time(), time.perf_counter()
                summary = program.import_orders(Path(orders), chunk_size=chunk_size)  # type: ignore[attr-defined]
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = {
            "wall_s": wall,
            "cpu_s": cpu,
            "requests": recorder.requests,
            "counts": dict(recorder.counts),
            "peak_in_flight": recorder.peak_in_flight,
            "peak_posts_in_flight": recorder.peak_posts_in_flight,
            "rss_growth_kib": max(0, rss_after - rss_before),
            "rss_peak_kib": rss_after,
            "posted": int(getattr(summary, "posted", 0)),
            "replayed": int(getattr(summary, "replayed", 0)),
            "refused": int(getattr(summary, "refused", 0)),
            "nothing": int(getattr(summary, "nothing", 0)),
            "invalid": len(getattr(summary, "invalid", ()) or ()),
        }
        app.close()
    except Exception as exc:  # the parent prints it; a child's traceback would be lost
        result = {"error": f"{type(exc).__name__}: {exc}"}
    conn.send(result)
    conn.close()
