"""viqa against Haystack on the same models: ``python -m viqa.eval.benchmarks.haystack`` prints a table and writes JSON.

Needs the bench extra (``pip install -e ".[bench]"``). Both systems run as HTTP servers on this
machine, started by this one run: ``viqa serve`` and ``python -m viqa.eval.benchmarks.haystack_baseline serve``
(Haystack 3, our e5 embedder and trained reader, viqa's own chunks). Measured for each:

- cold start: process start until ``/readyz`` answers 200 (indexes already built);
- EM/F1 on lang-son-dev (over the bundled report) and on a seeded sample of XQuAD-vi dev in open mode
  (over its paragraphs), with p50/p95 latency of ``POST /v1/ask``, every answer scored by
  ``eval.runner.score_item``. Questions go to the two servers in turn, the order alternating per question,
  after a warm-up;
- questions/s with 1 and with 4 concurrent clients (``benchmarks.loadtest``), one system at a time;
- peak RSS (``VmHWM``) of each server process.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from viqa.eval.benchmarks.harness import (
    LANG_SON_GOLD,
    SAMPLE_DIR,
    XQUAD_GOLD,
    answer_scores,
    format_table,
    latency_ms,
    read_rss_mb,
    report_collection,
    write_json,
)
from viqa.eval.benchmarks.loadtest import run_load
from viqa.eval.evaluate import context_collection
from viqa.eval.formats import GoldItem, load_gold
from viqa.eval.runner import ItemResult, score_item
from viqa.index.store import Collection
from viqa.models.embedder import Embedder
from viqa.qa.pipeline import Pipeline
from viqa.quiet import quiet_model_loading
from viqa.settings import Settings, get_settings

SYSTEMS = ("viqa", "haystack")


@dataclass
class Server:
    """A server process started by the benchmark."""

    name: str
    process: subprocess.Popen
    url: str
    cold_start_s: float = 0.0

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(name: str, args: list[str], log: Path, timeout_s: float = 600) -> Server:
    """Start ``python args... --port P`` and wait for ``/readyz``; the wait is its cold start."""
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HAYSTACK_TELEMETRY_ENABLED": "False"}
    started = time.perf_counter()
    with log.open("w") as fh:
        process = subprocess.Popen([sys.executable, "-m", *args, "--port", str(port)], env=env,
                                   stdout=fh, stderr=subprocess.STDOUT)
    server = Server(name, process, f"http://127.0.0.1:{port}")
    while time.perf_counter() - started < timeout_s:
        if process.poll() is not None:
            raise RuntimeError(f"{name} server exited with {process.returncode}; see {log}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=2, trust_env=False).status_code == 200:
                server.cold_start_s = time.perf_counter() - started
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{name} server not ready after {timeout_s} s; see {log}")


def haystack_store(collection: Collection, embedder: Embedder, work: Path) -> Path:
    """The collection's chunks embedded into a saved Haystack store (rebuilt only when the chunks change)."""
    chunks = collection.read_state(embedder.id, embedder.dim).chunks
    exported = json.dumps([{"id": c.chunk_id, "content": c.text} for c in chunks], ensure_ascii=False)
    digest = hashlib.sha1(exported.encode()).hexdigest()[:12]
    store = work / f"haystack-{collection.name}-{digest}.json"
    if not store.is_file():
        chunks_file = work / f"chunks-{collection.name}-{digest}.json"
        chunks_file.write_text(exported, encoding="utf-8")
        subprocess.run([sys.executable, "-m", "viqa.eval.benchmarks.haystack_baseline", "index",
                        "--chunks", str(chunks_file), "--store", str(store)], check=True,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return store


def ask(client: httpx.Client, server: Server, item: GoldItem, collection: str) -> ItemResult:
    """One ``POST /v1/ask`` of the item's question, scored by ``eval.runner``; raises on a non-2xx reply."""
    started = time.perf_counter()
    response = client.post(f"{server.url}/v1/ask", json={"question": item.question, "collection": collection})
    latency = (time.perf_counter() - started) * 1000
    if not response.is_success:
        raise RuntimeError(f"{server.name}: HTTP {response.status_code} for {item.question!r}: {response.text[:300]}")
    body = response.json()
    return score_item(item, body["answer"], float(body.get("confidence", 0.0)), latency)


def accuracy_pass(servers: list[Server], sets: dict[str, tuple[str, list[GoldItem]]], warmup: int = 3) -> dict:
    """Every question to every server in turn (order alternating), scored per system and gold set."""
    out: dict = {s.name: {} for s in servers}
    with httpx.Client(timeout=120, trust_env=False) as client:
        for collection, items in sets.values():
            for it in items[:warmup]:
                for server in servers:
                    ask(client, server, it, collection)
        for label, (collection, items) in sets.items():
            results: dict[str, list[ItemResult]] = {s.name: [] for s in servers}
            for n, it in enumerate(items):
                for server in servers if n % 2 == 0 else servers[::-1]:
                    results[server.name].append(ask(client, server, it, collection))
            for name, rows in results.items():
                out[name][label] = answer_scores(rows)
    return out


def throughput(server: Server, questions: list[str], collection: str, clients: int, seconds: float) -> dict:
    """Answers per second from ``clients`` concurrent clients, each waiting for its answer before asking again."""
    tally, elapsed = asyncio.run(run_load(server.url, questions, clients=clients, seconds=seconds,
                                          max_requests=10**6, timeout_s=300, collection=collection))
    return {"clients": clients, "answers_per_s": round(len(tally.latencies_ms) / elapsed, 2),
            "errors": sum(tally.errors.values()), **latency_ms(tally.latencies_ms, quantiles=(50,))}


def prepare(settings: Settings, corpus: Path, lang_son: Path, xquad: Path, sample: int, seed: int) -> dict:
    """The gold sets and their viqa collections (built incrementally)."""
    pipe = Pipeline(settings)
    ls = report_collection(settings, pipe.embedder, corpus)
    xq_items = load_gold(xquad)
    xq = context_collection(xq_items, pipe, xquad)
    picked = random.Random(seed).sample(xq_items, min(sample, len(xq_items)))
    return {"lang-son-dev": (ls.name, load_gold(lang_son)), f"xquad-vi-dev[{len(picked)}]": (xq, picked)}


def comparison_table(result: dict) -> str:
    """One row per measure, one column per system."""
    systems = [result["systems"][s] for s in SYSTEMS]
    rows: list[list[object]] = []
    for label in result["gold_sets"]:
        acc = [s["accuracy"][label] for s in systems]
        rows.append([f"{label} EM / F1", *(f"{a['em']:.1f} / {a['f1']:.1f}" for a in acc)])
        rows.append(["  abstained", *(f"{a['abstained']}/{a['unanswerable']}" for a in acc)])
        rows.append(["  p50 / p95 ms", *(f"{a['p50_ms']:.0f} / {a['p95_ms']:.0f}" for a in acc)])
    for i, c in enumerate(result["clients"]):
        rows.append([f"answers/s, {c} client{'s' if c > 1 else ''}", *(s["throughput"][i]["answers_per_s"]
                                                                       for s in systems)])
    rows.append(["cold start s", *(s["cold_start_s"] for s in systems)])
    rows.append(["peak RSS MB", *(s["peak_rss_mb"] for s in systems)])
    return format_table(["", *SYSTEMS], rows, digits=2)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m viqa.eval.benchmarks.haystack", description=__doc__.splitlines()[0])
    p.add_argument("--lang-son", type=Path, default=LANG_SON_GOLD)
    p.add_argument("--corpus", type=Path, default=SAMPLE_DIR)
    p.add_argument("--xquad", type=Path, default=XQUAD_GOLD)
    p.add_argument("--xquad-sample", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seconds", type=float, default=30.0, help="length of each throughput run")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    p.add_argument("--out", type=Path, default=Path("runs/bench/compare.json"))
    args = p.parse_args(argv)
    try:
        import haystack  # noqa: F401
    except ImportError:
        sys.exit('Haystack is not installed: pip install -e ".[bench]"')
    quiet_model_loading()
    settings = get_settings()
    work = settings.home / "bench"
    work.mkdir(parents=True, exist_ok=True)
    sets = prepare(settings, args.corpus, args.lang_son, args.xquad, args.xquad_sample, args.seed)
    embedder = Embedder.from_settings(settings)
    stores = {coll: haystack_store(Collection(settings.collections_dir, coll), embedder, work)
              for coll, _ in sets.values()}
    servers: list[Server] = []
    try:
        servers.append(start_server("viqa", ["viqa.cli", "serve"], work / "viqa-server.log"))
        servers.append(start_server("haystack", ["viqa.eval.benchmarks.haystack_baseline", "serve", "--stores",
                                                 *(f"{c}={s}" for c, s in stores.items())],
                                    work / "haystack-server.log"))
        accuracy = accuracy_pass(servers, sets)
        ls_collection, ls_items = sets["lang-son-dev"]
        questions = [it.question for it in ls_items]
        result = {"gold_sets": list(sets), "clients": args.clients, "seconds": args.seconds, "systems": {}}
        for server in servers:
            result["systems"][server.name] = {
                "cold_start_s": round(server.cold_start_s, 1),
                "accuracy": accuracy[server.name],
                "throughput": [throughput(server, questions, ls_collection, c, args.seconds) for c in args.clients],
                "peak_rss_mb": read_rss_mb(server.process.pid)["hwm_mb"],
            }
    finally:
        for server in servers:
            server.stop()
    write_json(args.out, result)
    print(comparison_table(result))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
