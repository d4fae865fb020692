"""Indexing jobs: journaled on disk, run one at a time where they cannot starve questions.

A job answered 202 is a promise. ``submit`` writes the job, and the documents it needs, under ``<home>/jobs``
before it returns; a registry over the same folder, after a restart or a crash, reports the finished jobs and runs
the others again (an ingest is idempotent: unchanged documents are skipped). Jobs run in a worker process with its
own embedder at a lower CPU priority (``WorkerProcess``), or on the registry's thread (``InThread``, where the
service's model lock lets questions go first). At shutdown a running job stops between embedding batches, or its
worker is killed after ``job_stop_s``: the commit is atomic, so nothing is lost but the work, and the job is still
queued in the journal.

Processes sharing a journal (the replicas of ``viqa serve --replicas N``) share it safely: one at a time, the
holder of an exclusive flock on the ``<home>/jobs`` folder itself, runs the jobs and cleans the journal; the others
journal what they are sent for it to run (it looks for new jobs every ``poll_s``), read jobs' states from the
journal, and wait for the lock, to take over when the holder stops.

>>> jobs = JobRegistry(InThread(lambda spec, cancel: IngestReport(added=[d.doc_id for d in spec.documents])))
>>> jobs.start()
>>> job = jobs.submit("ingest", "default", documents=[])
>>> jobs.get(job.id).status in {"queued", "running", "done"}
True
>>> jobs.shutdown()
"""

from __future__ import annotations

import base64
import dataclasses
import fcntl
import inspect
import json
import logging
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import ConfigDict, ValidationError
from pydantic.dataclasses import dataclass as pydantic_dataclass

from viqa.api.serial import EmbedderLike, SharedEmbedder
from viqa.errors import ViqaError
from viqa.files import write_text_atomic
from viqa.index.ingest import delete_documents, ingest_documents
from viqa.index.stores import open_collection
from viqa.settings import Settings
from viqa.types import Document, IngestReport

log = logging.getLogger("viqa.api.jobs")

JobKind = Literal["ingest", "delete"]
JobStatus = Literal["queued", "running", "done", "failed"]
JOURNAL_FORMAT = 1
STALE_S = 60.0  # a temp file or lone input younger than this may be another process's submit, still writing
_JOB_ID = re.compile(r"[0-9a-f]{32}")
_JOB_EXAMPLE = {
    "id": "5c0e4f9bd1e34c6f8f1c2a7b9d3e6a10", "kind": "ingest", "collection": "default", "status": "done",
    "message": "1 added, 0 replaced, 0 unchanged, 0 deleted; 42 passages",
    "report": {"added": ["thong-bao-12"], "replaced": [], "skipped": [], "deleted": [], "chunks": 42},
    "created_at": 1700000000.0, "started_at": 1700000000.1, "finished_at": 1700000004.2,
}


class JobInterrupted(Exception):
    """A job stopped before its commit because the service is shutting down; it stays queued in the journal."""


class JobFailed(ViqaError):
    """A job that failed for a reason told in its message (a worker process that died, an unreadable input)."""


def _document_json(doc: Document) -> dict[str, Any]:
    """``doc`` as JSON, its source file (if it carries one) in base64."""
    data = dataclasses.asdict(doc)
    data["source"] = None if doc.source is None else base64.b64encode(doc.source).decode("ascii")
    return data


def _document_from_json(data: dict[str, Any]) -> Document:
    source = data.get("source")
    return Document(**{**data, "tags": tuple(data.get("tags", ())), "pages": tuple(data.get("pages", ())),
                       "source": None if source is None else base64.b64decode(source)})


@dataclass(frozen=True)
class JobSpec:
    """What a job needs to run, again after a restart if need be: its kind, collection, documents or ids."""

    kind: JobKind
    collection: str
    documents: tuple[Document, ...] = ()
    doc_ids: tuple[str, ...] = ()
    replace: bool = False  # an ingest's documents may take the ids of other sources
    refused: tuple[tuple[str, str], ...] = ()  # (file, reason) for each uploaded file that could not be read

    def to_json(self) -> dict[str, Any]:
        return {"format": JOURNAL_FORMAT, "kind": self.kind, "collection": self.collection,
                "documents": [_document_json(d) for d in self.documents], "doc_ids": list(self.doc_ids),
                "replace": self.replace, "refused": [list(r) for r in self.refused]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobSpec:
        """The spec written by ``to_json``; KeyError, TypeError or ValueError if it is not one."""
        if data.get("format") != JOURNAL_FORMAT or data["kind"] not in ("ingest", "delete"):
            raise ValueError(f"not a job input of format {JOURNAL_FORMAT}")
        docs = tuple(_document_from_json(d) for d in data["documents"])
        return cls(data["kind"], str(data["collection"]), docs, tuple(str(i) for i in data["doc_ids"]),
                   bool(data.get("replace", False)),
                   tuple((str(name), str(reason)) for name, reason in data.get("refused", ())))


def ingest_embedder(settings: Settings) -> EmbedderLike:
    """The worker process's embedder: the service's model, with ``ingest_threads`` threads (loaded on first use)."""
    from viqa.models.embedder import Embedder

    return Embedder(settings.model_cache, settings.ingest_threads, settings.embed_batch_size,
                    settings.embedder_runtime, settings.passage_precision)


def _importable(fn: object) -> bool:
    """True for a module-level function, which the worker process can import by its name."""
    return (inspect.isfunction(fn) and fn.__qualname__ == fn.__name__ and fn.__name__ != "<lambda>"
            and fn.__module__ not in ("__main__", "__mp_main__"))


@dataclass(frozen=True)
class IndexOps:
    """The index writers jobs call, and the embedder a worker process builds; tests swap in fakes.

    Module-level functions can run in a worker process; anything else (the tests' bound methods, which change
    in-memory state) runs on the registry's thread.
    """

    ingest: Callable[..., IngestReport] = ingest_documents
    delete: Callable[..., IngestReport] = delete_documents
    embedder: Callable[[Settings], EmbedderLike] = ingest_embedder

    @property
    def importable(self) -> bool:
        return all(_importable(fn) for fn in (self.ingest, self.delete, self.embedder))

    def run(self, spec: JobSpec, embedder: Any, settings: Settings) -> IngestReport:
        """Do what ``spec`` says to its collection."""
        collection = open_collection(settings, spec.collection)
        if spec.kind == "ingest":
            report = self.ingest(collection, list(spec.documents), embedder, settings, replace=spec.replace)
            report.failed = {**dict(spec.refused), **report.failed}
            return report
        return self.delete(collection, list(spec.doc_ids), embedder, settings)


@pydantic_dataclass(frozen=True, config=ConfigDict(json_schema_extra={"examples": [_JOB_EXAMPLE]}))
class Job:
    """An indexing job; poll ``GET /v1/jobs/{id}`` until ``status`` is done (with its report) or failed."""

    id: str
    kind: JobKind
    collection: str
    status: JobStatus = "queued"
    message: str | None = None
    report: IngestReport | None = None
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None


class Runner(Protocol):
    """Where jobs run: ``run`` does one (raising JobInterrupted once ``cancel`` is set), ``idle`` is called when
    no job came for a while, ``close`` at shutdown."""

    def run(self, spec: JobSpec, cancel: threading.Event) -> IngestReport: ...

    def idle(self) -> None: ...

    def close(self) -> None: ...


class InThread:
    """Runs each job as ``fn(spec, cancel)`` on the registry's thread."""

    def __init__(self, fn: Callable[[JobSpec, threading.Event], IngestReport]) -> None:
        self.fn = fn

    def run(self, spec: JobSpec, cancel: threading.Event) -> IngestReport:
        return self.fn(spec, cancel)

    def idle(self) -> None:
        pass

    def close(self) -> None:
        pass


def stop_check(*flags: Any) -> Callable[[], None]:
    """A ``between_batches`` hook that raises JobInterrupted once any of ``flags`` (with ``is_set()``) is set."""

    def check() -> None:
        if any(f.is_set() for f in flags):
            raise JobInterrupted("the service is shutting down")

    return check


class WorkerProcess:
    """Runs jobs in a child process, at ``ingest_nice`` lower CPU priority, with its own embedder.

    The child is a fresh interpreter (``python -c``, not multiprocessing: the server's ``__main__`` is never
    imported again), fed pickled JobSpecs over a socket pair. It starts with the first job and exits after
    ``ingest_worker_idle_s`` without one, so the memory a large ingest took goes back. At a cancel it gets SIGTERM
    and stops between embedding batches; if it has not after ``job_stop_s`` (chunking, or the commit), it is killed.
    """

    def __init__(self, ops: IndexOps, settings: Settings) -> None:
        if not ops.importable:
            raise ValueError("a worker process needs index ops that are module-level functions")
        self.ops = ops
        self.settings = settings
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None

    @property
    def pid(self) -> int | None:
        """The worker's process id while it is alive."""
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    def _ensure(self) -> tuple[subprocess.Popen[bytes], Connection]:
        if self._process is not None and self._conn is not None and self._process.poll() is None:
            return self._process, self._conn
        self._discard()
        mine, theirs = socket.socketpair()
        path = os.pathsep.join(p or os.getcwd() for p in sys.path)  # the child imports what this process can
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", "from viqa.api.jobs import worker_entry; worker_entry()", str(theirs.fileno())],
                stdin=subprocess.DEVNULL, pass_fds=[theirs.fileno()], env={**os.environ, "PYTHONPATH": path},
            )
        finally:
            theirs.close()
        self._conn = Connection(mine.detach())
        self._conn.send((self.ops, self.settings))
        log.info("index worker process %d started", self._process.pid)
        return self._process, self._conn

    def _discard(self, kill: bool = False) -> None:
        """Forget the worker (killing it first if asked and still alive)."""
        if self._process is not None:
            if kill and self._process.poll() is None:
                self._process.kill()
            try:
                self._process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                log.warning("index worker %d did not exit", self._process.pid)
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None

    def run(self, spec: JobSpec, cancel: threading.Event) -> IngestReport:
        process, conn = self._ensure()
        try:
            conn.send(spec)
        except OSError:  # the worker died while idle: start another
            self._discard(kill=True)
            process, conn = self._ensure()
            conn.send(spec)
        deadline: float | None = None
        while True:
            if conn.poll(0.05):
                try:
                    outcome, value = conn.recv()
                except (EOFError, OSError):
                    outcome, value = "died", None
                break
            if process.poll() is not None and not conn.poll(0):
                outcome, value = "died", None
                break
            if cancel.is_set():
                if deadline is None:
                    process.send_signal(signal.SIGTERM)  # the worker stops at the next batch
                    deadline = time.monotonic() + self.settings.job_stop_s
                elif time.monotonic() > deadline:
                    log.warning("index worker %d did not stop in %.1f s: killed", process.pid,
                                self.settings.job_stop_s)
                    self._discard(kill=True)
                    raise JobInterrupted("killed at shutdown")
        if outcome == "done":
            return IngestReport(**value)
        if outcome == "failed":
            raise JobFailed(value)
        if outcome == "interrupted":
            self._discard(kill=True)
            raise JobInterrupted("stopped between batches")
        try:
            code = process.wait(timeout=2)  # the socket closes a moment before the process is reaped
        except subprocess.TimeoutExpired:
            code = None
        self._discard(kill=True)
        if cancel.is_set():
            raise JobInterrupted("the worker stopped at shutdown")
        raise JobFailed(f"the index worker process stopped unexpectedly (exit code {code}); see the server log")

    def idle(self) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker, if one is running (it exits at once when idle, or is killed)."""
        if self._process is None or self._conn is None:
            return
        try:
            self._conn.send(None)
        except OSError:
            pass
        try:
            self._process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass
        self._discard(kill=True)


class _Flag:
    """A flag a signal handler may set (no lock taken)."""

    def __init__(self) -> None:
        self.value = False

    def set(self, *_: object) -> None:
        self.value = True

    def is_set(self) -> bool:
        return self.value


def worker_entry() -> None:
    """``python -c`` entry of the worker process: the socket's fd is the last argument; (ops, settings) come first."""
    conn = Connection(int(sys.argv[-1]))
    try:
        ops, settings = conn.recv()
    except (EOFError, OSError):
        return
    worker_main(conn, ops, settings)


def worker_main(conn: Connection, ops: IndexOps, settings: Settings) -> None:
    """The worker: run each JobSpec received and answer (outcome, value); exit at None or a closed socket.

    SIGINT is ignored (a Ctrl-C reaches the service, which stops the worker); SIGTERM stops the job between
    batches.
    """
    terminated = _Flag()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, terminated.set)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s[worker]: %(message)s")
    try:
        os.nice(settings.ingest_nice)
    except OSError:
        log.warning("could not lower the index worker's CPU priority")
    check = stop_check(terminated)
    embedder = None
    while not terminated.is_set():
        try:
            spec = conn.recv()
        except (EOFError, OSError):
            return
        if spec is None:
            return
        try:
            if embedder is None:
                embedder = ops.embedder(settings)
            shared = SharedEmbedder(embedder, threading.RLock(), settings.embed_batch_size, check)
            check()
            outcome: tuple[str, Any] = ("done", dataclasses.asdict(ops.run(spec, shared, settings)))
        except JobInterrupted:
            outcome = ("interrupted", None)
        except ViqaError as exc:
            outcome = ("failed", exc.public)
        except Exception as exc:
            log.exception("job on %r failed", spec.collection)
            outcome = ("failed", f"internal error: {type(exc).__name__}")
        try:
            conn.send(outcome)
        except OSError:
            return
        if outcome[0] == "interrupted":
            return


class JobRegistry:
    """Runs submitted jobs one at a time (from ``start()`` on), journaled in ``folder`` (None: memory only), which
    ``recover()`` (or ``start()``) reads back.

    Remembers the last ``keep`` finished jobs; queued and running ones are never forgotten. A job the service died
    while running is run again at the next start, up to ``max_attempts`` runs in all, then reported failed.

    Over a journal that another process runs (it holds the folder's flock), a registry is a follower: ``submit``
    journals only, ``get`` and ``waiting`` read the journal, and its ``start()`` thread takes over once the flock is
    free.
    """

    def __init__(
        self, runner: Runner | None = None, folder: Path | None = None, keep: int = 1000, max_attempts: int = 3,
        idle_s: float = 60.0, stop_s: float = 3.0, poll_s: float = 1.0,
    ) -> None:
        if keep < 1 or max_attempts < 1:
            raise ValueError("keep and max_attempts must be >= 1")
        self.runner = runner
        self.folder = folder
        self.keep = keep
        self.max_attempts = max_attempts
        self.idle_s = idle_s
        self.stop_s = stop_s
        self.poll_s = poll_s
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._attempts: dict[str, int] = {}
        self._specs: dict[str, JobSpec] = {}  # memory-only registries keep the inputs here
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._recovered_once = False
        self._runner_lock: int | None = None  # the folder's descriptor, flocked, while this registry runs the jobs
        self.follower = False  # another process runs the journal (known once recover() has looked)
        self._unreadable: set[str] = set()

    @classmethod
    def for_settings(cls, runner: Runner | None, settings: Settings) -> JobRegistry:
        """A registry journaled in ``settings.jobs_dir``, bounded and timed by the settings."""
        return cls(runner, settings.jobs_dir, settings.jobs_keep, settings.job_max_attempts,
                   settings.ingest_worker_idle_s, settings.job_stop_s, settings.jobs_poll_s)

    # the journal: <folder>/<id>.json is the job, <folder>/<id>.input.json its JobSpec until it ends

    def _job_path(self, job_id: str) -> Path:
        assert self.folder is not None
        return self.folder / f"{job_id}.json"

    def _input_path(self, job_id: str) -> Path:
        assert self.folder is not None
        return self.folder / f"{job_id}.input.json"

    def _write(self, job: Job, attempts: int | None = None) -> None:
        if self.folder is not None:
            tries = self._attempts[job.id] if attempts is None else attempts
            entry = {"format": JOURNAL_FORMAT, "job": dataclasses.asdict(job), "attempts": tries}
            write_text_atomic(self._job_path(job.id), json.dumps(entry, ensure_ascii=False))

    def _read(self, path: Path) -> tuple[Job, int] | None:
        """The job journaled at ``path`` and its runs so far; None if it is gone, or unreadable (with a warning)."""
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            return Job(**entry["job"]), int(entry.get("attempts", 0))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError, ValidationError) as exc:
            log.warning("job journal %s is unreadable (%s): skipped", path.name, type(exc).__name__)
            return None

    def _take_lock(self) -> bool:
        """Hold an exclusive flock on the journal's folder (until ``shutdown``, or this process's end); False while
        another registry holds it."""
        if self._runner_lock is not None:
            return True
        assert self.folder is not None
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._runner_lock = fd
        return True

    def recover(self) -> None:
        """Load the journal (once, holding its folder's flock): finished jobs are reported, queued and interrupted ones
        queued again. Without the flock (another process runs the journal) this registry is a follower until it has it.
        """
        folder = self.folder
        if folder is None or self._recovered_once:
            return
        if not self._take_lock():
            if not self.follower:
                log.info("another process runs the jobs of %s: this one journals jobs for it", folder)
            self.follower = True
            return
        self._recovered_once = True
        young = time.time() - STALE_S  # newer files may be another process's submit, still writing
        for tmp in folder.glob(".*.tmp"):
            if _mtime(tmp) < young:
                tmp.unlink(missing_ok=True)
        self._take_in(only_queued=False)
        for path in folder.glob("*.input.json"):
            if path.name.removesuffix(".input.json") not in self._jobs and _mtime(path) < young:
                path.unlink(missing_ok=True)  # written by a submit that never returned: no promise was made
        self.follower = False
        self._prune()
        queued = sum(1 for j in self._jobs.values() if j.status == "queued")
        if self._jobs:
            log.info("job journal: %d jobs, %d queued to run", len(self._jobs), queued)

    def _take_in(self, only_queued: bool = True) -> None:
        """Track the journal's jobs this registry does not know yet, in the order they were submitted, and queue those
        to run: all of them at ``recover``; later, the queued ones other processes journaled (a finished one it does
        not know is one it is forgetting: ``_prune``)."""
        assert self.folder is not None
        found: list[tuple[Job, int]] = []
        for path in self.folder.glob("*.json"):
            job_id = path.stem
            if path.name.endswith(".input.json") or not _JOB_ID.fullmatch(job_id):
                continue
            with self._lock:
                known = job_id in self._jobs or job_id in self._unreadable
            if not known:
                entry = self._read(path)
                if entry is None and path.exists():
                    self._unreadable.add(job_id)
                elif entry is not None and (entry[0].status == "queued" or not only_queued):
                    found.append(entry)
        for job, attempts in sorted(found, key=lambda f: f[0].created_at):
            recovered = self._recovered(job, attempts)
            with self._lock:
                if job.id in self._jobs:  # a submit of this process got there first
                    continue
                self._attempts[job.id] = attempts
                self._jobs[job.id] = recovered
            if recovered != job:
                self._write(recovered)
            if recovered.status == "queued":
                self._queue.put(job.id)
            else:
                self._input_path(job.id).unlink(missing_ok=True)

    def _recovered(self, job: Job, attempts: int) -> Job:
        if job.status == "running":
            if attempts >= self.max_attempts:
                return replace(job, status="failed", finished_at=time.time(), message=(
                    f"the server stopped while this job ran, {attempts} times; it is not run again"))
            job = replace(job, status="queued", started_at=None,
                          message="interrupted when the server stopped; queued to run again")
        if job.status == "queued" and not self._input_path(job.id).is_file():
            return replace(job, status="failed", finished_at=time.time(),
                           message="the job's documents are missing from the journal; upload them again")
        return job

    def _prune(self) -> None:
        """Forget the oldest finished jobs beyond ``keep`` (in memory and on disk)."""
        with self._lock:
            finished = [i for i, j in self._jobs.items() if j.status in ("done", "failed")]
            gone = finished[: max(0, len(finished) - self.keep)]
            for job_id in gone:
                del self._jobs[job_id]
                self._attempts.pop(job_id, None)
        if self.folder is not None:
            for job_id in gone:
                self._job_path(job_id).unlink(missing_ok=True)
                self._input_path(job_id).unlink(missing_ok=True)

    def _set(self, job_id: str, **changes: Any) -> Job:
        with self._lock:
            job = self._jobs[job_id] = replace(self._jobs[job_id], **changes)
        self._write(job)
        return job

    # running

    def start(self, runner: Runner | None = None) -> None:
        """Begin running queued jobs (the journal's first), one at a time, on a daemon thread (with ``runner``,
        if given: the service chooses it once its models are loaded)."""
        self.recover()
        if runner is not None:
            self.runner = runner
        if self.runner is None:
            raise ValueError("a registry needs a runner to start")
        with self._lock:
            if self._thread is None and not self._cancel.is_set():
                thread = threading.Thread(target=self._loop, name="viqa-index", daemon=True)
                thread.start()
                self._thread = thread

    def submit(
        self, kind: JobKind, collection: str, *, documents: Iterable[Document] = (), doc_ids: Iterable[str] = (),
        replace: bool = False, refused: dict[str, str] | None = None,
    ) -> Job:
        """Journal a job (documents first, so that a 202 is never sent for a job that could be lost) and queue it.
        ``refused`` (file → reason) lists uploaded files that could not be read, for the job's report."""
        spec = JobSpec(kind, collection, tuple(documents), tuple(doc_ids), replace, tuple((refused or {}).items()))
        job = Job(id=uuid.uuid4().hex, kind=kind, collection=collection)
        if self.folder is None:
            self._specs[job.id] = spec
        else:
            write_text_atomic(self._input_path(job.id), json.dumps(spec.to_json(), ensure_ascii=False))
            self._write(job, attempts=0)
        if self.follower:
            return job  # the journal's runner takes it in (within its poll_s)
        with self._lock:
            if job.id in self._jobs:  # taken in from the journal already (this registry just took over)
                return job
            self._attempts[job.id] = 0
            self._jobs[job.id] = job
        self._prune()
        self._queue.put(job.id)
        return job

    def _spec(self, job_id: str) -> JobSpec:
        if self.folder is None:
            return self._specs[job_id]
        try:
            return JobSpec.from_json(json.loads(self._input_path(job_id).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("job %s: its input is unreadable (%s)", job_id, type(exc).__name__)
            raise JobFailed("the job's documents could not be read from the journal; upload them again") from None

    def _lead(self) -> bool:
        """Wait until this registry holds the journal's flock (trying every ``poll_s``), then recover; False if shut
        down first. Memory-only registries lead at once."""
        if self.folder is None:
            return True
        while not self._take_lock():
            if self._cancel.wait(self.poll_s):
                return False
        if self.follower:
            log.info("this process now runs the jobs of %s", self.folder)
        self.recover()
        return True

    def _loop(self) -> None:
        if not self._lead():
            return
        assert self.runner is not None
        idle_since = time.monotonic()
        while not self._cancel.is_set():
            try:
                job_id = self._queue.get(timeout=min(self.idle_s, self.poll_s) if self.folder else self.idle_s)
            except queue.Empty:
                if self.folder is not None:
                    self._take_in()
                if time.monotonic() - idle_since >= self.idle_s:
                    self.runner.idle()
                    idle_since = time.monotonic()
                continue
            if job_id is None or self._cancel.is_set():
                break
            self._run(job_id)
            if self.folder is not None:
                self._take_in()
            idle_since = time.monotonic()

    def _run(self, job_id: str) -> None:
        attempts = self._attempts.get(job_id, 0) + 1
        self._attempts[job_id] = attempts
        self._set(job_id, status="running", started_at=time.time(), message=None)
        assert self.runner is not None
        try:
            report = self.runner.run(self._spec(job_id), self._cancel)
        except JobInterrupted:
            self._attempts[job_id] = attempts - 1
            if self._cancel.is_set():
                self._set(job_id, status="queued", started_at=None,
                          message="interrupted by a shutdown; it runs again when the server starts")
            else:  # the worker was stopped from outside (a SIGTERM to it alone): run it again now
                self._set(job_id, status="queued", started_at=None, message="interrupted; queued to run again")
                self._queue.put(job_id)
            return
        except ViqaError as exc:
            self._finish(job_id, status="failed", message=exc.public)
        except Exception as exc:
            log.exception("job %s failed", job_id)
            self._finish(job_id, status="failed", message=f"internal error: {type(exc).__name__}")
        else:
            self._finish(job_id, status="done", message=report.summary(), report=report)

    def _finish(self, job_id: str, **changes: Any) -> None:
        """Journal the end, drop the input, and only then show it (a client that sees "done" sees it on disk)."""
        with self._lock:
            job = replace(self._jobs[job_id], finished_at=time.time(), **changes)
        self._write(job)
        self._specs.pop(job_id, None)
        if self.folder is not None:
            self._input_path(job_id).unlink(missing_ok=True)
        with self._lock:
            self._jobs[job_id] = job
        self._prune()

    def waiting(self) -> int:
        """How many jobs are queued or running (a follower counts the journal's inputs: one per such job)."""
        if self.follower and self.folder is not None:
            return sum(1 for _ in self.folder.glob("*.input.json"))
        with self._lock:
            return sum(1 for j in self._jobs.values() if j.status in ("queued", "running"))

    def get(self, job_id: str) -> Job | None:
        """The job, as this registry knows it or else as the journal has it (another process may have taken it)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None and self.folder is not None and _JOB_ID.fullmatch(job_id):
            entry = self._read(self._job_path(job_id))
            job = None if entry is None else entry[0]
        return job

    def shutdown(self) -> None:
        """Stop within about ``stop_s``: the running job stops (it stays queued in the journal), so do queued ones."""
        with self._lock:
            self._cancel.set()
            thread = self._thread
        self._queue.put(None)
        stuck = False
        if thread is not None:
            thread.join(timeout=self.stop_s + 1)
            stuck = thread.is_alive()
            if stuck:
                log.warning("the running job did not stop in %.1f s; it runs again at the next start", self.stop_s)
        if self.runner is not None:
            self.runner.close()
        if self._runner_lock is not None and not stuck:  # a stuck job keeps it until this process exits
            os.close(self._runner_lock)
            self._runner_lock = None


def _mtime(path: Path) -> float:
    """``path``'s modification time; +inf if it is gone (never stale)."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")
