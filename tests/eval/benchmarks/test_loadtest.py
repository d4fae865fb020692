"""The load test targets loopback only and stops at its time and request budgets (no network: a mock transport)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import httpx
import pytest

from viqa.eval.benchmarks.loadtest import Tally, check_url, is_loopback, load_questions, main, run_load, summarise


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST", "127.8.9.10", "::1", "[::1]"])
def test_loopback_hosts_are_accepted(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["10.0.0.1", "example.com", "0.0.0.0", "192.168.1.2", "127.0.0.1.example.com", ""])
def test_other_hosts_are_refused(host: str) -> None:
    assert not is_loopback(host)


def test_urls_on_loopback_pass_and_others_are_refused_naming_the_host() -> None:
    assert check_url("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    assert check_url("http://localhost:8000") == "http://localhost:8000"
    for url in ("http://10.0.0.1:8000", "https://example.com"):
        with pytest.raises(ValueError, match="only loopback hosts"):
            check_url(url)
    with pytest.raises(ValueError, match="http"):
        check_url("ftp://127.0.0.1/")


def test_the_command_refuses_a_remote_url_before_sending_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "Kim ngạch xuất khẩu tháng 11 đạt bao nhiêu?"}\n')
    with pytest.raises(SystemExit) as exit_:
        main(["--url", "http://10.0.0.1:8000", "--questions", str(questions), "--seconds", "1"])
    assert exit_.value.code == 2
    assert "refusing to load-test '10.0.0.1'" in capsys.readouterr().err


def test_questions_are_read_from_json_lines_and_a_line_without_one_is_named(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"question": "Câu một?"}) + "\n\n" + json.dumps({"question": "Câu hai?"}) + "\n")
    assert load_questions(path) == ["Câu một?", "Câu hai?"]
    path.write_text(json.dumps({"question": "Câu một?"}) + "\n" + json.dumps({"answers": []}) + "\n")
    with pytest.raises(ValueError, match="line 2"):
        load_questions(path)


def test_the_run_stops_at_the_request_budget_and_counts_errors() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        question = json.loads(request.content)["question"]
        seen.append(question)
        if question == "hỏng":
            return httpx.Response(500, json={"error": {"code": "internal"}})
        if question == "đứt":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"answer": "45,6 triệu USD"})

    tally, elapsed = asyncio.run(run_load("http://127.0.0.1:9", ["ổn", "hỏng", "đứt"], clients=4, seconds=30,
                                          max_requests=9, transport=httpx.MockTransport(handler)))
    assert tally.sent == len(seen) == 9 and elapsed < 30
    assert Counter(seen) == {"ổn": 3, "hỏng": 3, "đứt": 3}
    assert len(tally.latencies_ms) == 3 and tally.errors == {"HTTP 500": 3, "ConnectError": 3}


def test_the_run_stops_at_the_time_limit() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)
        return httpx.Response(200, json={})

    tally, elapsed = asyncio.run(run_load("http://127.0.0.1:9", ["q"], clients=2, seconds=0.2,
                                          max_requests=1_000_000, transport=httpx.MockTransport(handler)))
    assert 0 < tally.sent < 1_000 and 0.2 <= elapsed < 2


def test_the_summary_gives_throughput_percentiles_and_errors() -> None:
    tally = Tally(latencies_ms=[float(ms) for ms in range(1, 101)], errors=Counter({"HTTP 503": 2}), sent=102)
    summary = summarise(tally, elapsed_s=2.0)
    assert (summary["requests"], summary["ok"], summary["errors"]) == (102, 100, 2)
    assert (summary["requests_per_s"], summary["ok_per_s"]) == (51.0, 50.0)
    assert (summary["p50_ms"], summary["p95_ms"], summary["p99_ms"], summary["max_ms"]) == (50.0, 95.0, 99.0, 100.0)
    assert summary["errors_by_kind"] == {"HTTP 503": 2}
    assert summarise(Tally(), 1.0)["p50_ms"] is None
