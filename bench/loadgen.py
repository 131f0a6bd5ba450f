"""A small HTTP/1.1 load generator for bench_api, run as its own process:

    python -m bench.loadgen HOST PORT PATH KEY CONCURRENCY SECONDS

Each of CONCURRENCY clients keeps one connection open and sends GET requests back to
back; prints one JSON line: requests, errors, seconds, req_per_s, p50_ms, p99_ms."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def _client(
    host: str, port: int, request: bytes, until: float, latencies: list[float]
) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    errors = 0
    while time.perf_counter() < until:
        started = time.perf_counter()
        writer.write(request)
        status = await _read_response(reader)
        latencies.append(time.perf_counter() - started)
        errors += status != 200
    writer.close()
    return errors


async def load(host: str, port: int, path: str, key: str, clients: int, seconds: float) -> dict:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    started = time.perf_counter()
    until = started + seconds
    errors = await asyncio.gather(
        *(_client(host, port, request, until, latencies) for _ in range(clients))
    )
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "errors": sum(errors),
        "seconds": round(elapsed, 2),
        "req_per_s": round(len(ordered) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
    }


def main() -> None:
    host, port, path, key, clients, seconds = sys.argv[1:7]
    result = asyncio.run(load(host, int(port), path, key, int(clients), float(seconds)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
