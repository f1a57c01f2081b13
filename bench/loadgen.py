"""Load generator (a separate process): POSTs reports for a fixed time, closed-loop or at a fixed rate.

    python -m bench.loadgen --url http://127.0.0.1:8001 --token T --duration 30 --concurrency 32 [--rate 400]
        [--mode single|batch|bare] [--batch-size 500] --out results.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time

import httpx

from bench.mix import report


async def run(args: argparse.Namespace) -> dict:
    rng = random.Random(args.seed)
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    headers = {"Authorization": f"Bearer {args.token}"}
    sent: list[tuple[str, float]] = []  # (subject key, time posted) for latency matching
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    counter = iter(range(args.start, 10**12))
    deadline = time.monotonic() + args.duration
    interval = args.concurrency / args.rate if args.rate else 0.0
    accepted_items = 0

    async def worker(client: httpx.AsyncClient, offset: float) -> None:
        nonlocal accepted_items
        next_at = time.monotonic() + offset
        while time.monotonic() < deadline:
            if interval:
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                next_at += interval
            if args.mode == "bare":
                body, path, n_items = {"payload": "x" * 1000}, "/bare", 1
            elif args.mode == "batch":
                body = [report(next(counter), rng) for _ in range(args.batch_size)]
                path, n_items = "/v1/reports:batch", args.batch_size
            else:
                body, path, n_items = report(next(counter), rng), "/v1/reports", 1
            started = time.monotonic()
            wall = time.time()
            try:
                response = await client.post(path, json=body, headers=headers)
            except httpx.HTTPError:
                statuses[0] = statuses.get(0, 0) + 1
                continue
            latencies.append(time.monotonic() - started)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if args.mode == "single" and response.status_code == 202:
                sent.append((response.json()["subject"]["key"], wall))
                accepted_items += 1
            elif args.mode == "batch" and response.status_code in (200, 207):
                for item in response.json().get("items", []):
                    if item.get("status") == 202:
                        accepted_items += 1
                        sent.append((item.get("subject_key") or "", wall))
            elif args.mode == "bare" and response.status_code == 200:
                accepted_items += n_items

    async with httpx.AsyncClient(base_url=args.url, limits=limits, timeout=30) as client:
        began = time.monotonic()
        await asyncio.gather(*(worker(client, i * interval / max(args.concurrency, 1)) for i in range(args.concurrency)))
        elapsed = time.monotonic() - began
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else float("nan")

    return {
        "mode": args.mode, "duration_s": elapsed, "requests": len(latencies), "statuses": statuses,
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
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(run(args))
    with open(args.out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
