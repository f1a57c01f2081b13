"""The load during the faults: reports at a steady rate (bench.mix: every catalog behaviour, both subject types,
recent dates), plus withdrawals of some listed reports so that measures are also lifted.

Every answer is kept with when it was asked and answered, so the suite can say what clients saw during each fault.
A report counts as accepted only when ingest answered 202; an error or a dropped connection is the client's
to retry (the report may or may not have been stored: ingest's database says which).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

import httpx

from bench.mix import report

LISTED = ("dishonest", "key_warning", "red")


@dataclass(frozen=True)
class Answer:
    action: str  # post | withdraw
    outcome: str  # the status code, or the exception name (ConnectError, ReadTimeout …)
    problem_type: str | None
    asked_s: float  # on the scenario's clock (LoadGenerator.clock)
    answered_s: float

    @property
    def seconds(self) -> float:
        return self.answered_s - self.asked_s


@dataclass
class LoadGenerator:
    url: str
    token: str
    rate: float = 25.0  # reports/s
    concurrency: int = 8
    timeout: float = 10.0  # longer than this is a hang
    withdraw_every_s: float = 1.0
    withdraw_after_s: float = 15.0  # well after classification: a withdrawal never overtakes its report on the bus
    seed: int = 2020
    clock: float = field(default_factory=time.monotonic)  # time.monotonic() at the scenario's start
    answers: list[Answer] = field(default_factory=list)
    accepted: dict[str, float] = field(default_factory=dict)  # report id → when ingest answered 202
    withdrawn: set[str] = field(default_factory=set)  # report ids ingest answered 200 to a withdrawal of
    _checked: set[str] = field(default_factory=set)

    async def run(self, stop: asyncio.Event) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        limits = httpx.Limits(max_connections=self.concurrency + 2, max_keepalive_connections=self.concurrency + 2)
        async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=self.timeout, limits=limits) as client:
            numbers = iter(range(1, 10**9))
            rng = random.Random(self.seed)
            await asyncio.gather(*(self._poster(client, stop, numbers, rng, i / self.rate) for i in range(self.concurrency)),
                                 self._withdrawer(client, stop))

    async def _poster(self, client: httpx.AsyncClient, stop: asyncio.Event, numbers, rng: random.Random, offset: float) -> None:  # noqa: ANN001
        interval = self.concurrency / self.rate
        next_at = time.monotonic() + offset
        while not stop.is_set():
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at + interval, time.monotonic())  # open loop, but no burst to catch up after an outage
            response = await self._call(client, "post", "/v1/reports", report(next(numbers), rng))
            if response is not None and response.status_code == 202:
                self.accepted[response.json()["id"]] = time.monotonic()

    async def _withdrawer(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        """A department withdraws a listed report (e.g. the penalty was revoked on appeal): its measures are lifted."""
        while not stop.is_set():
            await asyncio.sleep(self.withdraw_every_s)
            cutoff = time.monotonic() - self.withdraw_after_s
            candidate = next((rid for rid, at in self.accepted.items() if at < cutoff and rid not in self._checked), None)
            if candidate is None:
                continue
            self._checked.add(candidate)
            try:
                current = await client.get(f"/v1/reports/{candidate}")
            except httpx.HTTPError:
                continue
            if current.status_code != 200 or current.json().get("outcome") not in LISTED:
                continue
            response = await self._call(client, "withdraw", f"/v1/reports/{candidate}/withdraw",
                                        {"reason": "行政处罚决定经复议被撤销（故障注入测试）"})
            if response is not None and response.status_code == 200:
                self.withdrawn.add(candidate)

    async def _call(self, client: httpx.AsyncClient, action: str, path: str, body: dict) -> httpx.Response | None:
        asked = time.monotonic() - self.clock
        try:
            response = await client.post(path, json=body)
        except httpx.HTTPError as exc:
            self.answers.append(Answer(action, type(exc).__name__, None, asked, time.monotonic() - self.clock))
            return None
        problem = response.json().get("type") if response.headers.get("content-type") == "application/problem+json" else None
        self.answers.append(Answer(action, str(response.status_code), problem, asked, time.monotonic() - self.clock))
        return response
