"""A small open-loop HTTP/1.1 load client on raw asyncio sockets (uvloop when installed), run in
a process of its own by scripts/bench_webhooks.py so that it does not share the server's loop.

httpx with hundreds of requests in flight measures mostly itself; this client only writes
prepared bytes and reads a status line, headers and a Content-Length body.

    python scripts/http_load.py SPEC.json   →  prints one JSON object with the timings

SPEC: {"host", "port", "mode": "rate"|"burst", "requests": [[method, path, headers, body]…],
       "rate": deliveries per second (rate mode), "connections": sockets to keep open}
Rate mode sends request i at t0 + i/rate and measures from that moment (a request waiting for a
free connection is counted as waiting: no coordinated omission). Burst mode opens one socket per
request first, then writes them all at once and measures from that instant.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any


def encode(
    host: str, port: int, method: str, path: str, headers: dict[str, str], body: str
) -> bytes:
    raw = body.encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if method != "GET" or raw:
        lines.append(f"Content-Length: {len(raw)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + raw


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def rate_mode(spec: dict[str, Any], payloads: list[bytes]) -> dict[str, Any]:
    host, port, rate = spec["host"], spec["port"], float(spec["rate"])
    idle: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(int(spec["connections"])):
        idle.put_nowait(await asyncio.open_connection(host, port))
    timings: list[float] = []
    statuses: dict[str, int] = {}

    async def one(payload: bytes, due: float) -> None:
        reader, writer = await idle.get()
        try:
            writer.write(payload)
            status = await read_response(reader)
        except (OSError, asyncio.IncompleteReadError) as exc:
            statuses[type(exc).__name__] = statuses.get(type(exc).__name__, 0) + 1
            idle.put_nowait(await asyncio.open_connection(host, port))
            return
        timings.append((time.perf_counter() - due) * 1000)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        idle.put_nowait((reader, writer))

    tasks = []
    start = time.perf_counter() + 0.05
    late = 0.0
    for i, payload in enumerate(payloads):
        due = start + i / rate
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        else:
            late = max(late, -wait)
        tasks.append(asyncio.create_task(one(payload, due)))
    await asyncio.gather(*tasks)
    took = time.perf_counter() - start
    return {
        "timings": timings,
        "statuses": statuses,
        "seconds": took,
        "scheduler_late_ms": late * 1000,
    }


async def burst_mode(spec: dict[str, Any], payloads: list[bytes]) -> dict[str, Any]:
    host, port = spec["host"], spec["port"]
    conns = [await asyncio.open_connection(host, port) for _ in payloads]
    timings: list[float] = []
    statuses: dict[str, int] = {}

    async def one(conn: Conn, start: float) -> None:
        reader, _ = conn
        try:
            status = await read_response(reader)
        except (OSError, asyncio.IncompleteReadError) as exc:
            statuses[type(exc).__name__] = statuses.get(type(exc).__name__, 0) + 1
            return
        timings.append((time.perf_counter() - start) * 1000)
        statuses[str(status)] = statuses.get(str(status), 0) + 1

    start = time.perf_counter()
    for (_, writer), payload in zip(conns, payloads, strict=True):
        writer.write(payload)
    await asyncio.gather(*(one(c, start) for c in conns))
    took = time.perf_counter() - start
    for _, writer in conns:
        writer.close()
    return {"timings": timings, "statuses": statuses, "seconds": took, "scheduler_late_ms": 0.0}


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    payloads = [encode(spec["host"], spec["port"], *r) for r in spec["requests"]]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    runner = rate_mode if spec["mode"] == "rate" else burst_mode
    cpu = time.process_time()
    result = asyncio.run(runner(spec, payloads))
    result["client_cpu_seconds"] = time.process_time() - cpu
    print(json.dumps(result))


if __name__ == "__main__":
    main()
