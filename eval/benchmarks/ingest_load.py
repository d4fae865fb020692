"""Questions under a large ingest: ``python -m viqa.eval.benchmarks.ingest_load`` compares question latency idle and
while a ~20 MB document is being indexed, on a running local server (issue 22's target: p95 within 2× of idle).

    VIQA_HOME=/tmp/viqa-load viqa ingest data/sample && (VIQA_HOME=/tmp/viqa-load viqa serve &) && \\
    python -m viqa.eval.benchmarks.ingest_load --url http://127.0.0.1:8000 --pid "$(pgrep -nf 'viqa serve')" \\
        --clients 20 --seconds 60 --out runs/ingest-load.json

Phases: (1) ``--clients`` workers ask questions for ``--seconds`` (idle); (2) one upload of a ``--mb`` document
(the sample report, repeated with numbered sections so that no passage repeats) into ``--collection``; (3) once
the job is running, the same load again. Prints p50/p95 for both, their ratio, whether the job was still running
at the end of phase 3 (if not, the ingest was too short to load the service and the ratio says little), and the
RSS of the server and of its child processes (the index worker). Loopback hosts only.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx

from viqa.eval.benchmarks.harness import LANG_SON_GOLD, SAMPLE_DIR, read_rss_mb, write_json
from viqa.eval.benchmarks.loadtest import check_url, load_questions, run_load, summarise

TARGET_RATIO = 2.0


def big_document(mb: float, sample: Path = SAMPLE_DIR / "lang-son-bao-cao-kt-xh-thang-11-2023.txt") -> str:
    """About ``mb`` MB (UTF-8) of Vietnamese report text: the sample repeated, each copy under its own heading."""
    base = sample.read_text(encoding="utf-8")
    parts, size, n = [], 0, 0
    while size < mb * 2**20:
        n += 1
        part = f"Phần {n}. Bản sao số {n} của báo cáo.\n\n{base}\n\n"
        parts.append(part)
        size += len(part.encode("utf-8"))
    return "".join(parts)


def _children_rss_mb(pid: int) -> float:
    """Summed RSS (MB) of the direct children of ``pid`` (the index worker), 0 if none."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                total += read_rss_mb(int(child))["rss_mb"]
            except (OSError, KeyError):
                pass
    return round(total, 1)


def _memory(pid: int | None) -> dict[str, float] | None:
    if pid is None:
        return None
    try:
        return {**read_rss_mb(pid), "children_rss_mb": _children_rss_mb(pid)}
    except (OSError, KeyError):
        return None


def _load(args: argparse.Namespace, url: str, questions: list[str]) -> dict[str, object]:
    tally, elapsed = asyncio.run(run_load(url, questions, clients=args.clients, seconds=args.seconds,
                                          max_requests=100_000, timeout_s=args.timeout, api_key=args.api_key))
    return summarise(tally, elapsed)


def main(argv: list[str] | None = None) -> None:
    """Command line: idle load, upload, load under the ingest; print and write JSON."""
    p = argparse.ArgumentParser(prog="python -m viqa.eval.benchmarks.ingest_load", description=__doc__.splitlines()[0])
    p.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL (loopback only)")
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60.0, help="length of each load phase")
    p.add_argument("--mb", type=float, default=19.5, help="document size (the upload limit is max_upload_mb)")
    p.add_argument("--collection", default="ingest-load", help="collection the big document goes to")
    p.add_argument("--questions", type=Path, default=LANG_SON_GOLD, help="JSON lines with a 'question'")
    p.add_argument("--api-key", default=None, help="sent as X-API-Key if the server requires one")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--pid", type=int, default=None, help="server process id, for RSS")
    p.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    args = p.parse_args(argv)
    try:
        url = check_url(args.url)
        questions = load_questions(args.questions)
    except (ValueError, OSError) as exc:
        p.error(str(exc))
    headers = {"X-Requested-With": "viqa", **({"X-API-Key": args.api_key} if args.api_key else {})}
    result: dict[str, object] = {"url": url, "clients": args.clients, "seconds": args.seconds, "mb": args.mb,
                                 "memory_before": _memory(args.pid)}
    print(f"phase 1: {args.clients} clients for {args.seconds} s, idle", flush=True)
    result["idle"] = _load(args, url, questions)
    text = big_document(args.mb)
    with httpx.Client(base_url=url, headers=headers, timeout=120, trust_env=False) as client:
        started = time.perf_counter()
        name = f"ingest-load-{int(time.time())}.txt"  # a new id each run, so that it is never skipped as unchanged
        answer = client.post(f"/v1/collections/{args.collection}/documents",
                             files={"file": (name, text.encode("utf-8"), "text/plain")})
        result["upload_s"] = round(time.perf_counter() - started, 2)
        if answer.status_code != 202:
            sys.exit(f"the upload was refused: {answer.status_code} {answer.text[:300]}")
        job_id = answer.json()["id"]
        for _ in range(600):  # the worker process may take a few seconds to start
            if client.get(f"/v1/jobs/{job_id}").json()["status"] != "queued":
                break
            time.sleep(0.5)
        print(f"phase 3: the same load while job {job_id} ingests {args.mb} MB", flush=True)
        result["under_ingest"] = _load(args, url, questions)
        job = client.get(f"/v1/jobs/{job_id}").json()
    result["job_status_after"] = job["status"]
    result["memory_after"] = _memory(args.pid)
    idle, busy = result["idle"], result["under_ingest"]
    ratio = busy["p95_ms"] / idle["p95_ms"] if idle.get("p95_ms") and busy.get("p95_ms") else None
    result["p95_ratio"] = None if ratio is None else round(ratio, 2)
    result["meets_target"] = ratio is not None and ratio <= TARGET_RATIO and job["status"] == "running"
    print(f"idle:         p50 {idle['p50_ms']} ms, p95 {idle['p95_ms']} ms, {idle['errors']} errors")
    print(f"under ingest: p50 {busy['p50_ms']} ms, p95 {busy['p95_ms']} ms, {busy['errors']} errors")
    print(f"p95 ratio {result['p95_ratio']} (target <= {TARGET_RATIO}); the job was {job['status']} at the end"
          + ("" if job["status"] == "running" else " (it finished early: use a larger --mb or a shorter --seconds)"))
    print(f"memory before {result['memory_before']}, after {result['memory_after']}")
    if args.out is not None:
        write_json(args.out, result)
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
