"""Load test: ``python -m viqa.eval.benchmarks.loadtest`` sends concurrent ``POST /v1/ask`` to a local server.

    python -m viqa.eval.benchmarks.loadtest --url http://127.0.0.1:8000 --clients 20 --seconds 60 \\
        --questions ../shared/gold/lang-son-dev.jsonl --pid "$SERVER_PID" --out runs/load.json

Only loopback hosts (127.0.0.0/8, ``localhost``, ``::1``) are accepted. Each of ``--clients`` workers sends one
question at a time (cycling through the file) until ``--seconds`` have passed or ``--max-requests`` were sent;
requests in flight at the deadline are allowed to finish. Prints requests/s, latency p50/p95/p99 of the 2xx
answers, errors (non-2xx and exceptions) and, given ``--pid``, the server's RSS from ``/proc/<pid>/status``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from viqa.eval.benchmarks.harness import LANG_SON_GOLD, latency_ms, read_rss_mb, write_json
from viqa.net import is_loopback

ASK_PATH = "/v1/ask"


def check_url(url: str) -> str:
    """``url`` without a trailing slash if it is http(s) on a loopback host; ValueError otherwise."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a valid URL: {url!r} ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"not an http(s) URL with a host: {url!r}")
    if not is_loopback(parsed.host):
        raise ValueError(f"refusing to load-test {parsed.host!r}: only loopback hosts "
                         "(127.0.0.0/8, localhost, ::1) may be targeted")
    return str(parsed).rstrip("/")


def load_questions(path: Path) -> list[str]:
    """The ``question`` of every non-blank JSON line of ``path``; ValueError naming the line when one has none."""
    questions = []
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            question = json.loads(line)["question"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: line {n} is not a JSON object with a 'question' ({exc})") from None
        if not isinstance(question, str) or not question.strip():
            raise ValueError(f"{path}: line {n} has an empty or non-text 'question'")
        questions.append(question)
    if not questions:
        raise ValueError(f"{path}: no questions")
    return questions


@dataclass
class Tally:
    """What the workers saw: latencies of 2xx answers (ms), errors by kind, requests sent."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    sent: int = 0


def summarise(tally: Tally, elapsed_s: float) -> dict[str, object]:
    """Throughput, latency percentiles and error counts of a finished run."""
    done = len(tally.latencies_ms) + sum(tally.errors.values())
    lat = tally.latencies_ms
    return {
        "requests": done,
        "ok": len(lat),
        "errors": sum(tally.errors.values()),
        "errors_by_kind": dict(tally.errors.most_common()),
        "elapsed_s": round(elapsed_s, 3),
        "requests_per_s": round(done / elapsed_s, 2) if elapsed_s > 0 else 0.0,
        "ok_per_s": round(len(lat) / elapsed_s, 2) if elapsed_s > 0 else 0.0,
        **latency_ms(lat, quantiles=(50, 95, 99)),
        "max_ms": round(max(lat), 1) if lat else None,
    }


async def run_load(
    url: str,
    questions: list[str],
    *,
    clients: int,
    seconds: float,
    max_requests: int,
    timeout_s: float = 30.0,
    collection: str | None = None,
    api_key: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[Tally, float]:
    """Send ``POST {url}/v1/ask`` from ``clients`` workers until the time or request budget is spent.

    Returns the tally and the elapsed seconds (until the last in-flight request finished).
    """
    if clients < 1 or seconds <= 0 or max_requests < 1 or not questions:
        raise ValueError("need clients >= 1, seconds > 0, max_requests >= 1 and at least one question")
    tally = Tally()
    headers = {"X-API-Key": api_key} if api_key else {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    start = time.perf_counter()
    deadline = start + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline and tally.sent < max_requests:
            body: dict[str, object] = {"question": questions[tally.sent % len(questions)]}
            if collection is not None:
                body["collection"] = collection
            tally.sent += 1
            t0 = time.perf_counter()
            try:
                response = await client.post(ASK_PATH, json=body)
            except httpx.HTTPError as exc:
                tally.errors[type(exc).__name__] += 1
                continue
            if response.is_success:
                tally.latencies_ms.append((time.perf_counter() - t0) * 1000)
            else:
                tally.errors[f"HTTP {response.status_code}"] += 1

    # trust_env=False: no proxy from the environment, so requests go to the checked host and nowhere else
    async with httpx.AsyncClient(base_url=url, timeout=timeout_s, limits=limits, headers=headers,
                                 trust_env=False, transport=transport) as client:
        await asyncio.gather(*(worker(client) for _ in range(clients)))
    return tally, time.perf_counter() - start


def _rss_or_none(pid: int) -> dict[str, float] | None:
    """``read_rss_mb(pid)``, or None once the process is gone."""
    try:
        return read_rss_mb(pid)
    except (OSError, KeyError):
        return None


async def _sample_rss(pid: int, every_s: float, peak: list[float], stop: asyncio.Event) -> None:
    """Keep the largest RSS of ``pid`` seen in ``peak[0]`` until ``stop`` is set or the process is gone."""
    while not stop.is_set():
        rss = _rss_or_none(pid)
        if rss is None:
            return
        peak[0] = max(peak[0], rss["rss_mb"])
        try:
            await asyncio.wait_for(stop.wait(), every_s)
        except TimeoutError:
            pass


async def _run(args: argparse.Namespace, url: str, questions: list[str]) -> dict[str, object]:
    """The run with RSS sampled alongside when ``--pid`` is given."""
    before = _rss_or_none(args.pid) if args.pid is not None else None
    peak, stop = [0.0], asyncio.Event()
    sampler = asyncio.create_task(_sample_rss(args.pid, 0.5, peak, stop)) if args.pid is not None else None
    try:
        tally, elapsed = await run_load(url, questions, clients=args.clients, seconds=args.seconds,
                                        max_requests=args.max_requests, timeout_s=args.timeout,
                                        collection=args.collection, api_key=args.api_key)
    finally:
        stop.set()
        if sampler is not None:
            await sampler
    result: dict[str, object] = {"url": url, "clients": args.clients, "seconds": args.seconds,
                                 "max_requests": args.max_requests, "questions": len(questions),
                                 **summarise(tally, elapsed)}
    after = _rss_or_none(args.pid) if args.pid is not None else None
    if before is not None and after is not None:
        result["server"] = {"pid": args.pid, "rss_before_mb": before["rss_mb"], "rss_after_mb": after["rss_mb"],
                            "rss_max_sampled_mb": max(peak[0], after["rss_mb"]), "hwm_mb": after["hwm_mb"]}
    elif args.pid is not None:
        result["server"] = {"pid": args.pid, "error": "the process was gone before the run ended"}
    return result


def _report(result: dict[str, object]) -> str:
    """A few human-readable lines of a result."""
    def ms(key: str) -> str:
        return "-" if result[key] is None else f"{result[key]:.1f} ms"

    lines = [
        f"{result['requests']} requests in {result['elapsed_s']} s from {result['clients']} clients: "
        f"{result['requests_per_s']} req/s ({result['ok_per_s']} ok/s)",
        f"latency (2xx): p50 {ms('p50_ms')}, p95 {ms('p95_ms')}, p99 {ms('p99_ms')}, max {ms('max_ms')}",
        f"errors: {result['errors']}" + (f" {result['errors_by_kind']}" if result["errors"] else ""),
    ]
    server = result.get("server")
    if isinstance(server, dict) and "error" in server:
        lines.append(f"server RSS: {server['error']} (pid {server['pid']})")
    elif isinstance(server, dict):
        lines.append(f"server RSS: {server['rss_before_mb']} MB before, {server['rss_after_mb']} MB after, "
                     f"max sampled {server['rss_max_sampled_mb']} MB, peak (VmHWM) {server['hwm_mb']} MB")
    else:
        lines.append("server RSS: not measured (pass --pid)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command line: parse, check the target is loopback, run, print and write JSON."""
    p = argparse.ArgumentParser(prog="python -m viqa.eval.benchmarks.loadtest", description=__doc__.splitlines()[0])
    p.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL (loopback only)")
    p.add_argument("--clients", type=int, default=20, help="concurrent workers, one request each at a time")
    p.add_argument("--seconds", type=float, default=60.0, help="time budget; in-flight requests may finish")
    p.add_argument("--max-requests", type=int, default=100_000, help="request budget")
    p.add_argument("--questions", type=Path, default=LANG_SON_GOLD,
                   help="JSON lines with a 'question'")
    p.add_argument("--collection", default=None, help="collection to ask (default: the server's)")
    p.add_argument("--api-key", default=None, help="sent as X-API-Key if the server requires one")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds before one request counts as failed")
    p.add_argument("--pid", type=int, default=None, help="server process id, to report its RSS from /proc")
    p.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    args = p.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0 or args.max_requests < 1 or args.timeout <= 0:
        p.error("--clients and --max-requests must be >= 1, --seconds and --timeout > 0")
    try:
        url = check_url(args.url)
        questions = load_questions(args.questions)
        if args.pid is not None:
            read_rss_mb(args.pid)
    except (ValueError, OSError, KeyError) as exc:
        p.error(str(exc) if not isinstance(exc, KeyError) else f"no VmRSS/VmHWM for pid {args.pid}")
    result = asyncio.run(_run(args, url, questions))
    print(_report(result))
    if args.out is not None:
        write_json(args.out, result)
        print(f"written to {args.out}")
    if not result["ok"]:
        sys.exit("no request succeeded")


if __name__ == "__main__":
    main()
