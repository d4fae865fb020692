"""The ``viqa`` command line: ingest, search, ask, eval, serve. Errors print one line and exit non-zero."""

from __future__ import annotations

import json
import logging
import sys
import time
from functools import wraps
from pathlib import Path
from typing import Annotated

import typer

from viqa.errors import ViqaError
from viqa.quiet import quiet_libraries, quiet_model_loading
from viqa.settings import get_settings

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
    from viqa.index.store import Collection

    settings = get_settings()
    return Collection(settings.collections_dir, name or settings.default_collection)


def _embedder():
    from viqa.models.embedder import Embedder

    s = get_settings()
    return Embedder.from_settings(s)


@app.command()
@user_errors
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.txt, .md; UTF-8).")],
    collection: CollectionOpt = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Let these files take the ids of other files already in the collection.")] = False,
) -> None:
    """Add or update documents in a collection (unchanged files are skipped, identical content is stored once)."""
    from viqa.index.ingest import ingest_paths

    coll = _collection(collection)
    started = time.perf_counter()
    report = ingest_paths(coll, paths, _embedder(), get_settings(), progress=sys.stderr.isatty(), replace=replace)
    seconds = time.perf_counter() - started
    typer.echo(f"{coll.name}: {report.summary()} ({seconds:.1f} s)")


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
    if out.answer is None:
        typer.echo(f"{out.message} (confidence {out.confidence:.2f})")
        return
    typer.echo(f"{out.answer}   (confidence {out.confidence:.2f})")
    for c in out.citations:
        typer.echo(f"  [{c.doc_id} {c.char_start}:{c.char_end}] {c.quote}")


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
    out_dir = out or Path("runs/eval") / f"{gold.stem}-{mode}"
    total = len(load_gold(gold)[: limit or None])
    with tqdm(total=total, desc=f"eval {mode}", unit="q", disable=not sys.stderr.isatty()) as bar:
        summary = evaluate(gold, mode, Pipeline(get_settings()), collection, out_dir, limit, bar.update, links)
    typer.echo(json.dumps({k: v for k, v in summary.items() if k != "by_kind"}, ensure_ascii=False, indent=2))
    typer.echo(f"report: {out_dir / 'report.html'}")


@app.command()
@user_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
) -> None:
    """Serve the HTTP API and the chat page (models load in the background; see /readyz)."""
    from viqa.api.server import run

    run(host, port)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    quiet_libraries()
    quiet_model_loading()
    app()


if __name__ == "__main__":
    main()
