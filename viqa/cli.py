"""The ``viqa`` command line: ingest, search, ask, chat, collections, delete, compact, eval, serve. Errors print one
line and exit non-zero."""

from __future__ import annotations

import json
import logging
import sys
import time
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from viqa.errors import ViqaError
from viqa.quiet import quiet_libraries, quiet_model_loading
from viqa.settings import get_settings

if TYPE_CHECKING:
    from viqa.api.schemas import AskOut

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Question answering over Vietnamese documents, with exact citations.")

CollectionOpt = Annotated[str | None, typer.Option("--collection", "-c", help="Collection name.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def fail(message: str, code: int) -> None:
    typer.echo(f"viqa: error: {message}", err=True)
    raise typer.Exit(code)


def user_errors(fn):
    """Turn ViqaError (and Ctrl-C) into one line on stderr and an exit code, never a traceback; anything else
    raised (a bug, a library's panic, which is a BaseException) is one line too, "internal error (Type: first
    line)", exit 1, with the traceback logged at DEBUG. Exits and click's own errors pass through."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ViqaError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted; the index is unchanged unless a commit had finished", 130)
        except (SystemExit, GeneratorExit, typer.Exit, typer.Abort, typer.BadParameter):  # exits, click's own
            raise
        except BaseException as exc:  # noqa: BLE001 - a Rust panic is a BaseException, and must be one line too
            logging.getLogger(__name__).debug("internal error", exc_info=exc)
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            fail(f"internal error ({type(exc).__name__}: {first})", 1)

    return wrapper


def _collection(name: str | None):
    from viqa.index.stores import open_collection

    return open_collection(get_settings(), name)


def _scale_module(name: str, option: str):
    """Module ``name``, which needs the scale extra (Ray); exit 2 with one line when it is not installed."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if (exc.name or "").startswith("viqa"):
            raise
        fail(f"{option} needs Ray, which is not installed ({exc.name}): pip install -e '.[scale]'", 2)


def _embedder():
    from viqa.models.embedder import Embedder

    s = get_settings()
    return Embedder.from_settings(s)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"viqa {version('viqa')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Question answering over Vietnamese documents, with exact citations."""


class _AnnounceBuilds(logging.Handler):
    """Each one-off model build step, as one line on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        typer.echo(f"viqa: building models (first run, about a minute): {record.getMessage()}", err=True)


def announce_model_builds() -> None:
    """Say on stderr when the models are being built, step by step (the first run takes about a minute)."""
    logger = logging.getLogger("viqa.models.build")
    if not any(isinstance(h, _AnnounceBuilds) for h in logger.handlers):
        logger.addHandler(_AnnounceBuilds())
        logger.setLevel(logging.INFO)
        logger.propagate = False


@app.command()
@user_errors
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.txt, .md, .pdf, .docx, .html).")],
    collection: CollectionOpt = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Let these files take the ids of other files already in the collection.")] = False,
    ray: Annotated[bool, typer.Option(
        "--ray", help="Chunk and embed on every CPU of a Ray cluster (RAY_ADDRESS, else one started here).")] = False,
) -> None:
    """Add or update documents in a collection (unchanged files are skipped, identical content is stored once).
    A file that cannot be read is listed on stderr with its reason, the others are ingested, and the exit code
    is 2."""
    from viqa.index.ingest import ingest_paths

    settings = get_settings()
    prepare = _scale_module("viqa.index.ray_ingest", "--ray").ray_prepare(settings) if ray else None
    coll = _collection(collection)
    started = time.perf_counter()
    report = ingest_paths(coll, paths, _embedder(), settings, progress=sys.stderr.isatty(), replace=replace,
                          prepare=prepare)
    seconds = time.perf_counter() - started
    typer.echo(f"{coll.name}: {report.summary()} ({seconds:.1f} s)")
    for reason in report.failed.values():
        typer.echo(f"viqa: skipped {reason}", err=True)
    if report.failed:
        raise typer.Exit(2)


@app.command()
@user_errors
def collections(as_json: JsonOpt = False) -> None:
    """List the collections, with their documents and passages."""
    from viqa.index.stores import collection_names, open_collection

    settings = get_settings()
    rows = []
    for name in collection_names(settings):
        manifest = open_collection(settings, name).manifest()
        rows.append({"name": name, "documents": manifest["documents"], "passages": manifest["chunks"],
                     "default": name == settings.default_collection})
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo("no collections yet: viqa ingest PATH")
    for row in rows:
        mark = "  (default)" if row["default"] else ""
        typer.echo(f"{row['name']}  {row['documents']} documents, {row['passages']} passages{mark}")


@app.command()
@user_errors
def delete(
    doc_ids: Annotated[list[str], typer.Argument(help="Document ids (see `viqa search` or the web page).")],
    collection: CollectionOpt = None,
) -> None:
    """Remove documents from a collection."""
    from viqa.index.ingest import delete_documents

    coll = _collection(collection)
    report = delete_documents(coll, doc_ids, _embedder(), get_settings())
    typer.echo(f"{coll.name}: {report.summary()}")


@app.command()
@user_errors
def compact(collection: CollectionOpt = None) -> None:
    """Merge a collection's segments into one, dropping deleted passages (nothing is embedded again)."""
    from viqa.index.ingest import compact as merge

    coll = _collection(collection)
    started = time.perf_counter()
    done = merge(coll, get_settings())
    typer.echo(f"{coll.name}: {done.segments_before} segments → {done.segments_after}, {done.dropped_rows} deleted"
               f" passages dropped; {done.chunks} passages ({time.perf_counter() - started:.1f} s)")


@app.command()
@user_errors
def search(
    query: Annotated[str, typer.Argument(help="The question or keywords.")],
    collection: CollectionOpt = None,
    k: Annotated[int, typer.Option("-k", help="How many passages.")] = 5,
    mode: Annotated[str, typer.Option(help="hybrid, dense or bm25.")] = "hybrid",
    as_json: JsonOpt = False,
) -> None:
    """Show the best passages for a query, with scores and offsets into the original files."""
    from viqa.api.schemas import SearchOut
    from viqa.errors import InputError
    from viqa.qa.pipeline import Pipeline

    if mode not in ("hybrid", "dense", "bm25"):
        raise InputError(f"unknown mode {mode!r} (hybrid, dense or bm25)")
    result = SearchOut.from_search(Pipeline(get_settings()).search(query, collection, k=k, mode=mode))
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    for p in result.passages:
        typer.echo(f"#{p.rank}  {p.score:.3f}  {p.doc_id}  [{p.char_start}:{p.char_end}]  {p.heading_path}")
        typer.echo("    " + p.clean_text[:300].replace("\n", " ") + ("…" if len(p.clean_text) > 300 else ""))


@app.command()
@user_errors
def ask(
    question: Annotated[str, typer.Argument(help="A question in Vietnamese.")],
    collection: CollectionOpt = None,
    top_k: Annotated[int | None, typer.Option("--top-k", help="Passages to read.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer a question with an exact span from the documents, and cite where it stands."""
    from viqa.api.schemas import AskOut
    from viqa.qa.pipeline import Pipeline

    out = AskOut.from_answer(Pipeline(get_settings()).answer(question, collection, top_k))
    if as_json:
        typer.echo(out.model_dump_json(indent=2))
        return
    _print_answer(out)


def _print_answer(out: AskOut) -> None:
    """The answer and its confidence, then each citation (its page, offsets and sentence); or why there is none."""
    if out.answer is None:
        typer.echo(f"{out.message} (confidence {out.confidence:.2f})")
        return
    typer.echo(f"{out.answer}   (confidence {out.confidence:.2f})")
    for c in out.citations:
        page = f" trang {c.page}" if c.page is not None else ""
        typer.echo(f"  [{c.doc_id}{page} {c.char_start}:{c.char_end}] {c.quote}")


CHAT_HELP = "Ask in Vietnamese; follow-ups use the earlier questions. /new starts over, /exit (or Ctrl-D) ends."


@app.command()
@user_errors
def chat(
    collection: CollectionOpt = None,
    top_k: Annotated[int | None, typer.Option("--top-k", help="Passages to read.")] = None,
) -> None:
    """An interactive session: the models load once, and follow-ups ("Còn nhập khẩu thì sao?") keep context."""
    from viqa.api.schemas import AskOut
    from viqa.errors import InputError
    from viqa.qa.followup import resolve_followup
    from viqa.qa.pipeline import Pipeline

    pipeline = Pipeline(get_settings()).load(collection)
    typer.echo(CHAT_HELP, err=True)
    history: list[str] = []
    while True:
        try:
            question = input("? ").strip()
        except EOFError:
            typer.echo("", err=True)
            return
        if question in ("/exit", "/quit"):
            return
        if question == "/new":
            history = []
            continue
        if not question:
            continue
        resolved = resolve_followup(history, question)
        try:
            answer = pipeline.answer(resolved, collection, top_k)
        except InputError as exc:
            typer.echo(f"viqa: {exc}", err=True)
            continue
        if resolved != question:
            typer.echo(f"({resolved})")
        _print_answer(AskOut.from_answer(answer))
        history.append(question)


@app.command("eval")
@user_errors
def eval_(
    targets: Annotated[list[str], typer.Argument(help="GOLD_FILE, or: compare RUN_A RUN_B")],
    mode: Annotated[str, typer.Option(help="reader, open or retrieval.")] = "open",
    collection: CollectionOpt = None,
    out: Annotated[Path | None, typer.Option(help="Run folder (default runs/eval/<gold>-<mode>).")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N questions.")] = None,
    links: Annotated[str | None, typer.Option(
        help="A viqa server's root (http://127.0.0.1:8000): the report's misses link to its page.")] = None,
    strip_tones: Annotated[bool, typer.Option(
        "--strip-tones", help="Ask every question without its tone marks, as many users type.")] = False,
    ray: Annotated[bool, typer.Option(
        "--ray", help="Spread the questions over Ray actors, one per CPU of the cluster (RAY_ADDRESS, else one"
        " started here).")] = False,
) -> None:
    """Score the pipeline on a gold Q&A set (SQuAD JSON, JSONL or CSV); `viqa eval compare A B` diffs two runs."""
    from viqa.errors import InputError

    if targets[0] == "compare":
        from viqa.eval.compare import compare_runs, format_comparison

        if len(targets) != 3:
            raise InputError("usage: viqa eval compare RUN_A RUN_B")
        typer.echo(format_comparison(compare_runs(Path(targets[1]), Path(targets[2]))))
        return
    if len(targets) != 1:
        raise InputError("give one gold file (or: compare RUN_A RUN_B)")
    from tqdm import tqdm

    from viqa.eval.evaluate import evaluate
    from viqa.eval.formats import load_gold
    from viqa.qa.pipeline import Pipeline

    gold = Path(targets[0])
    if not gold.is_file():
        raise InputError(f"{gold}: no such file")
    out_dir = out or Path("runs/eval") / f"{gold.stem}-{mode}{'-no-tones' if strip_tones else ''}"
    total = len(load_gold(gold)[: limit or None])
    settings = get_settings()
    runner = None
    if ray:
        ray_eval = _scale_module("viqa.eval.ray_eval", "--ray")
        runner = lambda mode, coll: ray_eval.ray_runner(settings, mode, coll)  # noqa: E731
    with tqdm(total=total, desc=f"eval {mode}", unit="q", disable=not sys.stderr.isatty()) as bar:
        summary = evaluate(gold, mode, Pipeline(settings), collection, out_dir, limit, bar.update, links,
                           strip_tones, runner)
    typer.echo(json.dumps({k: v for k, v in summary.items() if k != "by_kind"}, ensure_ascii=False, indent=2))
    typer.echo(f"report: {out_dir / 'report.html'}")


@app.command()
@user_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    replicas: Annotated[int, typer.Option(min=0, help="Serve N replicas with Ray Serve (on RAY_ADDRESS's cluster if"
                                          " set, else a local one); 0: one process under uvicorn.")] = 0,
) -> None:
    """Serve the HTTP API and the chat page (models load in the background; see /readyz)."""
    if replicas:
        _scale_module("viqa.api.ray_serve", "--replicas").run(host, port, replicas)
        return
    from viqa.api.server import run

    run(host, port)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    announce_model_builds()
    quiet_libraries()
    quiet_model_loading()
    app()


if __name__ == "__main__":
    main()
