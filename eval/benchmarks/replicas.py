"""Replicas benchmark: ``python -m viqa.eval.benchmarks.replicas`` serves the real app with 1, then 2 replicas
(Ray Serve, ``api.ray_serve``) and drives each with ``--clients`` threads for ``--seconds``.

    python -m viqa.eval.benchmarks.replicas --seconds 30 --clients 4 --out runs/bench/replicas.json

The replicas run the real ``Pipeline`` over this process's settings (``VIQA_HOME``, default ~/.viqa, whose
``--collection`` they ask), on a Ray started here with one CPU reserved per replica, its proxy on loopback. Each
client asks the gold file's questions in turn (``POST /v1/ask``), one at a time, waiting out a 503's Retry-After;
requests in flight at the deadline finish. Prints, per configuration, answers/s, the latency p50/p95 of the answers,
the 503s, the other errors, and how many answers each replica gave; writes them as JSON.
"""

from __future__ import annotations

import argparse
import os
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from viqa.eval.benchmarks.harness import LANG_SON_GOLD, format_table, latency_ms, write_json
from viqa.eval.benchmarks.loadtest import ASK_PATH, load_questions
from viqa.settings import Settings

REPLICA_HEADER = "x-viqa-replica"
TIMEOUT_S = 60.0  # one question, however loaded the machine: longer counts as an error


@dataclass
class Tally:
    """What the clients saw: latencies of the answers (ms), 503s, other errors by kind, answers by replica."""

    latencies_ms: list[float] = field(default_factory=list)
    busy: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    by_replica: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def drive(url: str, questions: list[str], collection: str, clients: int, seconds: float) -> dict[str, object]:
    """Ask ``questions`` at ``url`` from ``clients`` threads for ``seconds``; answers/s, latency, 503s, errors."""
    if clients < 1 or seconds <= 0 or not questions:
        raise ValueError("need clients >= 1, seconds > 0 and at least one question")
    tally = Tally()
    start = time.perf_counter()
    deadline = start + seconds

    def client(offset: int) -> None:
        # trust_env=False: no proxy from the environment, so requests go to loopback and nowhere else
        with httpx.Client(base_url=url, timeout=TIMEOUT_S, trust_env=False) as http:
            n = offset
            while time.perf_counter() < deadline:
                body = {"question": questions[n % len(questions)], "collection": collection}
                n += 1
                t0 = time.perf_counter()
                try:
                    response = http.post(ASK_PATH, json=body)
                except httpx.HTTPError as exc:
                    with tally.lock:
                        tally.errors[type(exc).__name__] += 1
                    continue
                ms = (time.perf_counter() - t0) * 1000
                with tally.lock:
                    if response.status_code == 200:
                        tally.latencies_ms.append(ms)
                        tally.by_replica[response.headers.get(REPLICA_HEADER, "?").split()[0]] += 1
                    elif response.status_code == 503:
                        tally.busy += 1
                    else:
                        tally.errors[f"HTTP {response.status_code}"] += 1
                if response.status_code == 503:
                    wait = float(response.headers.get("retry-after", "1"))
                    time.sleep(max(0.0, min(wait, deadline - time.perf_counter())))

    threads = [threading.Thread(target=client, args=(i * 7,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    return {
        "answers": len(tally.latencies_ms),
        "answers_per_s": round(len(tally.latencies_ms) / elapsed, 2),
        **latency_ms(tally.latencies_ms),
        "busy_503": tally.busy,
        "errors": dict(tally.errors.most_common()),
        "by_replica": dict(tally.by_replica.most_common()),
        "elapsed_s": round(elapsed, 1),
    }


def bench(replica_counts: list[int], questions: list[str], collection: str, clients: int, seconds: float,
          settings: Settings) -> list[dict[str, object]]:
    """One ``drive`` per replica count, each on a fresh deployment whose replicas have all loaded their models."""
    import ray
    from ray import serve

    from viqa.api.ray_serve import APP_NAME, build_app, start

    ray.init(address="local", num_cpus=max(replica_counts), include_dashboard=False, log_to_driver=False)
    try:
        port = free_port()
        start("127.0.0.1", port)
        url = f"http://127.0.0.1:{port}"
        rows = []
        for n in replica_counts:
            started = time.perf_counter()
            serve.run(build_app(n, settings=settings), name=APP_NAME, route_prefix="/")  # models loaded
            loaded_s = time.perf_counter() - started
            warm_up(url, questions[: 4 * n], collection)
            rows.append({"replicas": n, "clients": clients, "load_s": round(loaded_s, 1),
                         **drive(url, questions, collection, clients, seconds)})
            serve.delete(APP_NAME)
        return rows
    finally:
        serve.shutdown()
        ray.shutdown()


def warm_up(url: str, questions: list[str], collection: str) -> None:
    """Ask ``questions`` once each, one at a time (the replicas' first calls allocate); RuntimeError if one is not
    answered (no such collection, say)."""
    with httpx.Client(base_url=url, timeout=TIMEOUT_S, trust_env=False) as http:
        for question in questions:
            response = http.post(ASK_PATH, json={"question": question, "collection": collection})
            if response.status_code != 200:
                raise RuntimeError(f"warm-up question answered {response.status_code}: {response.text[:300]}")


def free_port() -> int:
    """A loopback port free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m viqa.eval.benchmarks.replicas", description=__doc__.splitlines()[0])
    p.add_argument("--replicas", default="1,2", help="Replica counts to compare, comma-separated.")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--gold", type=Path, default=LANG_SON_GOLD)
    p.add_argument("--collection", default="default")
    p.add_argument("--out", type=Path, default=Path("runs/bench/replicas.json"))
    args = p.parse_args(argv)
    counts = [int(n) for n in args.replicas.split(",")]
    if min(counts) < 1:
        p.error("--replicas: each count must be >= 1")
    settings = Settings()
    rows = bench(counts, load_questions(args.gold), args.collection, args.clients, args.seconds, settings)
    write_json(args.out, {"gold": str(args.gold), "collection": args.collection, "home": str(settings.home),
                          "threads_per_replica": settings.threads, "cpus": os.cpu_count(), "runs": rows})
    print(f"{args.gold.name}: POST /v1/ask, {args.clients} clients for {args.seconds:g} s, {os.cpu_count()} CPUs,"
          f" {settings.threads} threads per replica")
    table = [[r["replicas"], r["answers_per_s"], r["p50_ms"], r["p95_ms"], r["busy_503"],
              sum(r["errors"].values()), " ".join(str(v) for v in r["by_replica"].values())] for r in rows]
    print(format_table(["replicas", "answers/s", "p50 ms", "p95 ms", "503s", "errors", "by replica"], table, 1))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
