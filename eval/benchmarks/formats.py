"""One report, three formats: ``python -m viqa.eval.benchmarks.formats`` prints a table and writes JSON.

The bundled report as txt, as a text PDF and as a DOCX (made from the txt by ``tests.makers``, footnotes at the
foot of the page where the txt has them). Per format: extraction alone, one cold read (KB of canonical text a
second; pages a second for the PDF); the whole ingest into a fresh collection, a cold read again (embedding
included, the models loaded before); lang-son-dev end to end over it (answerable EM, unanswerable abstained).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from viqa.eval.benchmarks.harness import LANG_SON_GOLD, SAMPLE_DIR, format_table, fresh_collection, timed, write_json
from viqa.eval.formats import load_gold
from viqa.eval.metrics import exact_match
from viqa.index.ingest import ingest_paths
from viqa.index.loading import load_document
from viqa.qa.pipeline import Pipeline
from viqa.quiet import quiet_model_loading
from viqa.settings import get_settings

REPORT = SAMPLE_DIR / "lang-son-bao-cao-kt-xh-thang-11-2023.txt"


def versions(folder: Path) -> dict[str, Path]:
    """The report as txt, PDF and DOCX, under one name."""
    from tests.makers.docx import report_docx  # the makers live with the tests: benchmarks run from a checkout
    from tests.makers.pdf import report_pdf

    text = REPORT.read_text(encoding="utf-8")
    return {"txt": REPORT, "pdf": report_pdf(text, folder / f"{REPORT.stem}.pdf"),
            "docx": report_docx(text, folder / f"{REPORT.stem}.docx")}


def lang_son(pipeline: Pipeline, collection: str) -> tuple[int, int, int, int]:
    """(answered exactly, answerable, abstained, unanswerable) over lang-son-dev."""
    right = answerable = abstained = unanswerable = 0
    for item in load_gold(LANG_SON_GOLD):
        text = pipeline.answer(item.question, collection).text
        if item.answers:
            answerable += 1
            right += int(exact_match(text, item.answers) == 1.0)
        else:
            unanswerable += 1
            abstained += int(text is None)
    return right, answerable, abstained, unanswerable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/bench/formats.json"))
    args = parser.parse_args()
    quiet_model_loading()
    settings = get_settings()
    pipeline = Pipeline(settings).load()
    import viqa.index.formats.docx
    import viqa.index.formats.pdf  # noqa: F401 - imported before the clock starts
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, path in versions(Path(tmp)).items():
            doc, extract_s = timed(lambda path=path: load_document(path, settings))
            viqa.index.formats.pdf._cache.clear()  # a PDF's layout is cached for its page images: read it cold again
            kb = len(doc.text.encode()) / 1024
            coll = fresh_collection(settings, f"bench-format-{fmt}")
            _, ingest_s = timed(lambda coll=coll, path=path: ingest_paths(coll, [path], pipeline.embedder, settings))
            right, answerable, abstained, unanswerable = lang_son(pipeline, coll.name)
            pages = len(doc.pages)
            rows.append({
                "format": fmt, "file_kb": round(path.stat().st_size / 1024, 1), "text_kb": round(kb, 1),
                "pages": pages or None, "extract_ms": round(extract_s * 1000, 1),
                "extract_kb_s": round(kb / extract_s), "extract_pages_s": round(pages / extract_s) if pages else None,
                "ingest_s": round(ingest_s, 2), "ingest_kb_s": round(kb / ingest_s, 1),
                "ingest_pages_s": round(pages / ingest_s, 1) if pages else None,
                "em": f"{right}/{answerable}", "abstained": f"{abstained}/{unanswerable}",
            })
    headers = list(rows[0])
    print(format_table(headers, [[row[h] if row[h] is not None else "—" for h in headers] for row in rows], 1))
    write_json(args.out, {"rows": rows})


if __name__ == "__main__":
    main()
