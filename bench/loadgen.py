"""Load generator (a separate process): POSTs reports for a fixed time, closed-loop or at a fixed rate.

    python -m bench.loadgen --url http://127.0.0.1:8001 --token T --duration 30 --concurrency 32 [--rate 400]
        [--mode single|batch|bare] [--batch-size 500] --out results.json

aiohttp on uvloop rather than httpx: the generator shares the machine's two cores with everything it measures, so it
must spend as little CPU per request as it can (httpx costs about three times as much per request here).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time

import aiohttp
import orjson

from bench.mix import report


async def run(args: argparse.Namespace) -> dict:
    rng = random.Random(args.seed)
    headers = {"Content-Type": "application/json"}
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    sent: list[tuple[str, float]] = []  # (subject key, time posted) for latency matching
    statuses: dict[int, int] = {}
    errors: dict[str, int] = {}
    latencies: list[float] = []
    counter = iter(range(args.start, 10**12))
    deadline = time.monotonic() + args.duration
    interval = args.concurrency / args.rate if args.rate else 0.0
    accepted_items = 0
    bare_body = orjson.dumps({"payload": "x" * 1000})

    async def worker(session: aiohttp.ClientSession, offset: float) -> None:
        nonlocal accepted_items
        next_at = time.monotonic() + offset
        while time.monotonic() < deadline:
            if interval:
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                next_at += interval
            if args.mode == "bare":
                body, path = bare_body, "/bare"
            elif args.mode == "batch":
                body = orjson.dumps([report(next(counter), rng) for _ in range(args.batch_size)])
                path = "/v1/reports:batch"
            else:
                body, path = orjson.dumps(report(next(counter), rng)), "/v1/reports"
            started = time.monotonic()
            wall = time.time()
            try:
                async with session.post(path, data=body, headers=headers) as response:
                    status = response.status
                    payload = await response.read()
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                continue
            latencies.append(time.monotonic() - started)
            statuses[status] = statuses.get(status, 0) + 1
            if args.mode == "single" and status == 202:
                sent.append((orjson.loads(payload)["subject"]["key"], wall))
                accepted_items += 1
            elif args.mode == "batch" and status == 200:
                accepted_items += orjson.loads(payload)["accepted"]
            elif args.mode == "bare" and status == 200:
                accepted_items += 1

    connector = aiohttp.TCPConnector(limit=args.concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base_url=args.url, connector=connector, timeout=timeout) as session:
        began = time.monotonic()
        await asyncio.gather(*(worker(session, i * interval / max(args.concurrency, 1)) for i in range(args.concurrency)))
        elapsed = time.monotonic() - began
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else float("nan")

    return {
        "mode": args.mode, "duration_s": elapsed, "requests": len(latencies), "statuses": statuses, "errors": errors,
        "accepted_items": accepted_items, "items_per_s": accepted_items / elapsed,
        "http_p50_s": pct(0.50), "http_p95_s": pct(0.95), "http_p99_s": pct(0.99), "sent": sent,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", default="")
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=0.0, help="requests/s in total (open loop); 0 = as fast as possible")
    parser.add_argument("--mode", choices=["single", "batch", "bare"], default="single")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--start", type=int, default=1, help="first subject number (keeps runs' subjects apart)")
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    import uvloop

    uvloop.install()
    result = asyncio.run(run(args))
    with open(args.out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
