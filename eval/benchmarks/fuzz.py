"""Fuzz the whole HTTP API with schemathesis, every check on: ``python -m viqa.eval.benchmarks.fuzz``.

    python -m viqa.eval.benchmarks.fuzz                       # a fake-pipeline app on a free loopback port
    python -m viqa.eval.benchmarks.fuzz --max-examples 30 --max-time 420 --seed 1
    VIQA_API_KEY=k viqa serve &                                # or a running server (loopback only):
    python -m viqa.eval.benchmarks.fuzz --url http://127.0.0.1:8000 --key k

It runs ``schemathesis run <url>/openapi.json --checks all`` bounded by ``--max-examples`` per operation and
``--max-time`` seconds for the whole run, sending the key (``X-API-Key``) so that writes are fuzzed rather
than refused, and prints schemathesis' report: every failure with the ``curl`` that reproduces it. The exit
status is schemathesis': 0 when no check failed. Without ``--url`` it starts, in this process, the API over
the tests' fake pipeline (answers from one sample report, writes that embed nothing) in a temporary
``VIQA_HOME``, so it needs a checkout (``tests/fakes.py``) and takes no models; with ``--url`` the server's
key must be given with ``--key`` (a server without one refuses every write it is fuzzed with).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from viqa.net import is_loopback

FAKE_KEY = "fuzz-key"
CONFIG = Path(__file__).with_name("fuzz.toml")  # the rules JSON Schema cannot state, operation by operation


@contextmanager
def fake_server(home: Path, key: str) -> Iterator[str]:
    """The API over the tests' fake pipeline, keyed with ``key``, under uvicorn on a free loopback port."""
    import uvicorn

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout, for tests.fakes
    from tests.fakes import FakeIndex, FakePipeline
    from viqa.api.main import create_app
    from viqa.settings import Settings

    settings = Settings(home=home, api_key=key)
    pipeline = FakePipeline(settings)
    app = create_app(lambda s: pipeline, settings, index_ops=FakeIndex(pipeline).ops)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not server.started or not app.state.service.ready.wait(timeout=10):
            raise RuntimeError("the fake-pipeline server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def schemathesis_command(url: str, key: str | None, max_examples: int, max_time: int, seed: int | None,
                         extra: list[str]) -> list[str]:
    """The ``schemathesis run`` command line for the API at ``url``."""
    command = [shutil.which("schemathesis") or "schemathesis", "--config-file", str(CONFIG), "run",
               f"{url}/openapi.json", "--checks", "all",
               "--max-examples", str(max_examples), "--max-time", str(max_time), "--workers", "1",
               "--request-timeout", "30", "--warnings", "off"]
    if key:
        command += ["--header", f"X-API-Key: {key}"]
    if seed is not None:
        command += ["--seed", str(seed)]
    return command + extra


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running viqa serve on loopback (default: a fake-pipeline app)")
    parser.add_argument("--key", help="the server's VIQA_API_KEY (with --url)")
    parser.add_argument("--max-examples", type=int, default=30, help="test cases per operation (30)")
    parser.add_argument("--max-time", type=int, default=420, help="seconds for the whole run (420)")
    parser.add_argument("--seed", type=int, default=None, help="schemathesis' random seed")
    parser.add_argument("extra", nargs="*", help="more schemathesis options, after --")
    args = parser.parse_args(argv)
    started = time.monotonic()
    if args.url:
        host = urlsplit(args.url).hostname
        if not is_loopback(host):
            parser.error(f"refusing to fuzz {host!r}: only loopback hosts may be targeted")
        command = schemathesis_command(args.url.rstrip("/"), args.key, args.max_examples, args.max_time, args.seed,
                                       args.extra)
        rc = subprocess.call(command, cwd=tempfile.gettempdir())
    else:
        home = Path(tempfile.mkdtemp(prefix="viqa-fuzz-"))
        try:
            with fake_server(home, FAKE_KEY) as url:
                command = schemathesis_command(url, FAKE_KEY, args.max_examples, args.max_time, args.seed,
                                               args.extra)
                rc = subprocess.call(command, cwd=home)  # schemathesis' cache of failures stays out of the checkout
        finally:
            shutil.rmtree(home, ignore_errors=True)
    print(f"fuzz: schemathesis exited {rc} after {time.monotonic() - started:.0f} s "
          f"({'clean' if rc == 0 else 'failures above'})")
    return rc


if __name__ == "__main__":
    sys.exit(main())
