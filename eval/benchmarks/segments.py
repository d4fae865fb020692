"""What segments buy: ``python -m viqa.eval.benchmarks.segments {ram,add,idf}`` prints the numbers.

- ``ram``: the resident memory a process adds by loading a ``Retriever`` over ``--chunks`` synthetic passages
  (and running one search), measured in a fresh child process, per chunk; split into anonymous memory (Python
  objects, the FAISS index) and file-backed pages (memory-mapped files, shared with the page cache). ``--parts N``
  writes the collection as N segments, one commit each (a million chunks held at once take about 20 GB);
  ``--compact`` then folds them into one (``viqa compact``) before loading.
- ``add``: the seconds to ingest the sample report (about 60 KB) into a collection of ``--chunks`` synthetic
  passages, in a fresh child process; with ``--real`` through the e5 embedder, else through the tests'
  ``FakeEmbedder`` (then the seconds are the store's and the chunker's alone). Embedding time is timed apart.
- ``idf``: a collection written as two segments (``--second`` chunks in the second) against the same collection
  compacted into one: top-10 agreement of lexical and hybrid search, scored as the Retriever scores (BM25 with the
  collection's statistics) and as per-segment bm25s statistics would score.

Synthetic passages are real sentences (the sample report, the training contexts) recombined, 20 to a document,
with vectors exactly as ``tests.fakes.FakeEmbedder`` makes them; the collection is written in one commit.
Run from the checkout's root (it imports ``tests.fakes``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from viqa.eval.benchmarks.harness import SAMPLE_DIR, TRAIN_DIR
from viqa.index.ingest import build_bm25
from viqa.index.store import Collection, IndexState, NewSegment, build_faiss
from viqa.settings import Settings
from viqa.text.segment import syllables
from viqa.types import Chunk, Document

DIM = 384
PER_DOC = 20
QUERIES = ["Kim ngạch xuất khẩu tháng 11 ước đạt bao nhiêu", "diện tích lúa đông xuân", "dân số của huyện",
           "số khách du lịch đến tỉnh", "tổng đàn trâu bò", "chỉ số giá tiêu dùng tăng", "thu ngân sách nhà nước",
           "tai nạn giao thông", "giải ngân vốn đầu tư công", "doanh thu bán lẻ hàng hóa"]


def sentence_pool(limit: int = 20_000, seed: int = 7) -> list[str]:
    """Distinct sentences of 8+ syllables from the sample report and the training contexts (split at . ? !)."""
    import re

    texts = [p.read_text(encoding="utf-8") for p in sorted(SAMPLE_DIR.glob("*.txt"))]
    for path in sorted(TRAIN_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
        texts += [para["context"] for art in data for para in art["paragraphs"]]
    seen: dict[str, None] = {}
    for text in texts:
        for sentence in re.split(r"(?<=[.?!])\s+", text):
            sentence = " ".join(sentence.split())
            if len(sentence.split()) >= 8:
                seen.setdefault(sentence)
    sentences = list(seen)
    random.Random(seed).shuffle(sentences)
    return sentences[:limit]


def fake_vectors(texts: list[str]) -> np.ndarray:
    """What ``tests.fakes.FakeEmbedder.encode_passages`` returns for ``texts``, computed once per distinct syllable."""
    import scipy.sparse as sp

    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, text in enumerate(texts):
        for syl in syllables(text):
            rows.append(i)
            cols.append(vocab.setdefault(syl, len(vocab)))
    basis = np.empty((len(vocab), DIM), dtype=np.float32)
    for syl, j in vocab.items():
        seed = int.from_bytes(hashlib.sha1(syl.encode()).digest()[:4], "little")
        basis[j] = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    counts = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(texts), len(vocab)))
    vectors = np.asarray(counts @ basis, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def synthetic_state(chunks: int, seed: int = 7, prefix: str = "doc") -> IndexState:
    """``chunks`` passages of five pool sentences, ``PER_DOC`` to a document (offsets as ranges: cheap to hold)."""
    sentences = sentence_pool(seed=seed)
    rng = random.Random(seed)
    documents: dict[str, Document] = {}
    rows: list[Chunk] = []
    for d in range(0, chunks, PER_DOC):
        texts = [" ".join(rng.sample(sentences, 5)) for _ in range(min(PER_DOC, chunks - d))]
        body = "\n\n".join(texts)
        doc_id = f"{prefix}-{d // PER_DOC}"
        documents[doc_id] = Document(doc_id, f"Báo cáo số {d // PER_DOC}", f"upload:{doc_id}", body,
                                     hashlib.sha256(body.encode()).hexdigest())
        start = 0
        for i, text in enumerate(texts):
            rows.append(Chunk(f"{doc_id}-{i}", doc_id, text, text, range(start, start + len(text)),  # type: ignore[arg-type]
                              range(start + 1, start + len(text) + 1), start, start + len(text), "Mục 1"))  # type: ignore[arg-type]
            start += len(text) + 2
    tokens = [syllables(c.clean) for c in rows]
    return IndexState(documents, rows, fake_vectors([c.clean for c in rows]), tokens)


def _manifest(settings: Settings, embedder_id: str) -> dict:
    """What a synthetic collection's generations record: its embedder, dimension and chunking."""
    from viqa.index.ingest import chunking_of

    return {"embedder": embedder_id, "dim": DIM, "chunking": chunking_of(settings)}


def write_collection(settings: Settings, name: str, state: IndexState, embedder_id: str) -> Collection:
    """``state`` committed as collection ``name`` (written by an embedder of id ``embedder_id``)."""
    coll = Collection(settings.collections_dir, name)
    with coll.writing():
        coll.commit(state, _manifest(settings, embedder_id), build_faiss(state.vectors, settings),
                    build_bm25(state.tokens))
    return coll


def write_collection_in_parts(settings: Settings, name: str, chunks: int, parts: int, embedder_id: str) -> Collection:
    """``chunks`` synthetic passages committed as ``parts`` segments of collection ``name``, one commit each, so that
    the writer holds one part at a time (a million chunks in one state take about 20 GB)."""
    coll = Collection(settings.collections_dir, name)
    manifest = _manifest(settings, embedder_id)
    for part in range(parts):
        size = chunks // parts + (chunks % parts if part == parts - 1 else 0)
        state = synthetic_state(size, seed=7 + part, prefix=f"part{part}")
        with coll.writing():
            keep: list = []
            if coll.exists:
                with coll.reading() as folder:
                    keep = list(coll.generation(folder).segments)
            coll.commit_change(keep, NewSegment(state), manifest, settings)
        del state
    return coll


def _memory() -> dict[str, float]:
    """This process's resident memory in MB: all of it, anonymous, file-backed, and its peak."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def _child(argv: list[str]) -> dict:
    """Run this module as a child process with ``argv``; its last stdout line is JSON."""
    proc = subprocess.run([sys.executable, "-m", "viqa.eval.benchmarks.segments", *argv], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[2])
    if proc.returncode:
        raise SystemExit(f"child {argv} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child_load(home: Path, name: str) -> dict:
    """Load a Retriever in this (fresh) process and search once; the memory it added."""
    import gc

    import bm25s  # noqa: F401 - imported before the first measurement, as a server has them
    import faiss  # noqa: F401

    from tests.fakes import FakeEmbedder
    from viqa.qa.retrieval import Retriever
    from viqa.text.segment import lexical_tokens

    settings = Settings(home=home)
    embedder = FakeEmbedder()
    embedder.encode_queries(["khởi động"])
    lexical_tokens("khởi động tháng 11")  # loads underthesea's model, which any search does first
    gc.collect()
    before = _memory()
    started = time.perf_counter()
    retriever = Retriever(Collection(settings.collections_dir, name), embedder, settings).load()
    load_s = time.perf_counter() - started
    times = []
    for query in QUERIES:
        started = time.perf_counter()
        hits = retriever.search(query, k=5)
        times.append((time.perf_counter() - started) * 1000)
    gc.collect()
    after = _memory()
    after.pop("VmHWM"), before.pop("VmHWM")
    return {"load_s": round(load_s, 2), "search_ms_median": round(float(np.median(times)), 1),
            "hits": len(hits), **{f"{k}_mb": round(after[k] - before[k], 1) for k in after}}


def child_add(home: Path, name: str, real: bool) -> dict:
    """Ingest the sample report into collection ``name``, timed, with the embedding timed apart."""
    from viqa.index.ingest import ingest_paths

    settings = Settings(home=home)
    if real:
        from viqa.models.embedder import Embedder

        embedder = Embedder.from_settings(settings).load()
        embedder.encode_passages(["khởi động"])
    else:
        from tests.fakes import FakeEmbedder

        embedder = FakeEmbedder()
    from viqa.index.chunking import chunk_document
    from viqa.text.segment import lexical_tokens

    warm = Document("warm", "warm", "upload:warm", "Khởi động. Tỉnh có 21 xã.", "warm")  # load underthesea first:
    lexical_tokens(chunk_document(warm, settings.chunk_syllables, 1)[0].clean)  # a server has, a first CLI run not
    embed_s = [0.0]
    encode = embedder.encode_passages

    def timed_encode(texts: list[str], progress: bool = False) -> np.ndarray:
        started = time.perf_counter()
        try:
            return encode(texts, progress=progress)
        finally:
            embed_s[0] += time.perf_counter() - started

    embedder.encode_passages = timed_encode  # type: ignore[method-assign]
    rss_before = _memory()["VmHWM"]
    started = time.perf_counter()
    report = ingest_paths(Collection(settings.collections_dir, name), [SAMPLE_DIR], embedder, settings)
    total = time.perf_counter() - started
    return {"total_s": round(total, 2), "embed_s": round(embed_s[0], 2), "other_s": round(total - embed_s[0], 2),
            "added": report.added, "collection_chunks": report.chunks, "embedder": embedder.id,
            "peak_rss_mb_before": round(rss_before), "peak_rss_mb": round(_memory()["VmHWM"])}


def _disk_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def ram(chunks: int, home: Path, parts: int = 1, compacted: bool = False) -> None:
    from tests.fakes import FakeEmbedder
    from viqa.index.ingest import compact

    if parts > 1:
        coll = write_collection_in_parts(Settings(home=home), "ram", chunks, parts, FakeEmbedder.id)
        text_mb = None
        if compacted:
            started = time.perf_counter()
            compact(coll, Settings(home=home))
            print(f"viqa compact: {parts} segments into one in {time.perf_counter() - started:.0f} s")
            parts = 1  # what is loaded
    else:
        state = synthetic_state(chunks)
        text_mb = sum(sys.getsizeof(d.text) for d in state.documents.values()) / 2**20
        coll = write_collection(Settings(home=home), "ram", state, FakeEmbedder.id)
        del state
    result = _child(["child-load", str(home), "ram"])
    text = "" if text_mb is None else f"; the documents' text as Python strings {text_mb:.1f} MB"
    print(f"{chunks} chunks in {parts} segment(s), {_disk_mb(coll.path):.1f} MB on disk; FAISS vectors "
          f"{chunks * DIM * 4 / 2**20:.1f} MB{text}")
    print(f"Retriever.load() {result['load_s']} s; search p50 {result['search_ms_median']} ms")
    print(f"RSS added {result['VmRSS_mb']} MB = {result['VmRSS_mb'] * 1024 / chunks:.2f} KB a chunk "
          f"(anonymous {result['RssAnon_mb']} MB = {result['RssAnon_mb'] * 1024 / chunks:.2f} KB a chunk; "
          f"file-backed {result['RssFile_mb']} MB)")
    print(json.dumps({"chunks": chunks, "parts": parts, "text_mb": text_mb and round(text_mb, 1), **result}))


def add(chunks: int, home: Path, real: bool) -> None:
    embedder_id = "fake-syllable-projection"
    if real:
        from viqa.models.embedder import Embedder

        embedder_id = Embedder.from_settings(Settings(home=home)).id
    started = time.perf_counter()
    write_collection(Settings(home=home), "add", synthetic_state(chunks), embedder_id)
    print(f"wrote {chunks} synthetic chunks in {time.perf_counter() - started:.0f} s")
    result = _child(["child-add", str(home), "add", *(["--real"] if real else [])])
    print(f"added the sample report to {chunks} chunks with {result['embedder']}: {result['total_s']} s in all, "
          f"{result['embed_s']} s embedding, {result['other_s']} s the rest; peak RSS {result['peak_rss_mb']} MB")
    print(json.dumps({"chunks": chunks, **result}))


def _split_state(state: IndexState, second: int) -> tuple[IndexState, IndexState]:
    """``state``'s documents in two parts, the second holding the last ``second`` chunks' documents."""
    cut = len(state.chunks) - second
    first_docs = {c.doc_id for c in state.chunks[:cut]}

    def part(keep) -> IndexState:
        rows = [i for i, c in enumerate(state.chunks) if keep(c.doc_id)]
        return IndexState({k: d for k, d in state.documents.items() if keep(k)}, [state.chunks[i] for i in rows],
                          state.vectors[rows], [state.tokens[i] for i in rows])

    return part(lambda d: d in first_docs), part(lambda d: d not in first_docs)


def _per_segment_bm25(retriever, terms: list[str], n: int) -> dict[int, float]:
    """What BM25 gives when each segment scores with its own statistics (bm25s's own retrieve, per segment)."""
    import bm25s

    found: dict[int, float] = {}
    for part in retriever._loaded.parts:
        bm25 = bm25s.BM25.load(str(part.opened.reader.folder / "bm25"), show_progress=False)
        known = [t for t in terms if t in bm25.vocab_dict]
        if known:
            rows, scores = bm25.retrieve([known], k=min(n, part.rows), show_progress=False, n_threads=1)
            found.update((part.offset + int(r), float(v)) for r, v in zip(rows[0], scores[0], strict=True) if v > 0)
    return dict(sorted(found.items(), key=lambda x: (-x[1], x[0]))[:n])


def idf(chunks: int, second: int, home: Path) -> None:
    """Top-10 over a collection written as two segments (the last ``second`` chunks' documents in the second)
    against the same collection compacted into one: as the Retriever scores (collection-wide BM25 statistics),
    and as per-segment bm25s statistics would."""
    from tests.fakes import FakeEmbedder
    from viqa.index.ingest import chunking_of, compact
    from viqa.index.store import NewSegment
    from viqa.qa.fusion import fuse_minmax
    from viqa.qa.retrieval import Retriever
    from viqa.text.segment import lexical_tokens

    settings = Settings(home=home)
    embedder = FakeEmbedder()
    first, last = _split_state(synthetic_state(chunks), second)
    coll = write_collection(settings, "idf", first, FakeEmbedder.id)
    manifest = {"embedder": FakeEmbedder.id, "dim": DIM, "chunking": chunking_of(settings)}
    with coll.writing():
        with coll.reading() as folder:
            keep = list(coll.generation(folder).segments)
        coll.commit_change(keep, NewSegment(last), manifest, settings)
    queries = QUERIES + [" ".join(s.split()[:6]) for s in sentence_pool(seed=11)[:90]]

    def top(kind: str) -> list[list[str]]:
        r = Retriever(coll, embedder, settings).load()
        out = []
        for q in queries:
            if kind in ("bm25", "hybrid"):
                out.append([h.chunk.chunk_id for h in r.search(q, k=10, mode=kind)])
                continue
            n = settings.candidates
            lexical = _per_segment_bm25(r, lexical_tokens(q), n)
            fused = lexical if kind == "bm25 per segment" else fuse_minmax(
                r._dense(r._loaded, q, n, r._loaded.allowed(None)), lexical, settings.alpha)
            best = sorted(fused, key=lambda x: (-fused[x], x))[:10]
            found = r._chunks(r._loaded, best)
            out.append([found[x].chunk_id for x in best])
        return out

    kinds = ("bm25", "hybrid", "bm25 per segment", "hybrid per segment")
    split = {kind: top(kind) for kind in kinds}
    sizes = [s["rows"] for s in coll.manifest()["segments"]]
    compact(coll, settings)
    whole = {kind: top(kind) for kind in ("bm25", "hybrid")}
    print(f"{len(first.chunks) + len(last.chunks)} chunks as segments of {sizes} against one, {len(queries)} queries,"
          " top-10 against the one segment's:")
    out: dict = {"segments": sizes, "queries": len(queries)}
    for kind in kinds:
        ref = whole[kind.split()[0]]
        pairs = list(zip(split[kind], ref, strict=True))
        overlap = float(np.mean([len(set(a) & set(b)) / max(len(b), 1) for a, b in pairs]))
        top1 = float(np.mean([a[:1] == b[:1] for a, b in pairs]))
        same = float(np.mean([a == b for a, b in pairs]))
        print(f"  {kind:>18}: overlap {overlap:.3f}, same top-1 {top1:.3f}, identical ranking {same:.3f}")
        out[kind] = {"overlap10": round(overlap, 3), "top1": round(top1, 3), "identical10": round(same, 3)}
    print(json.dumps(out, ensure_ascii=False))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m viqa.eval.benchmarks.segments", description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["ram", "add", "idf", "child-load", "child-add"])
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    p.add_argument("--chunks", type=int, default=None)
    p.add_argument("--second", type=int, default=None, help="idf: chunks in the second segment (default: half)")
    p.add_argument("--real", action="store_true", help="add: embed with e5 (the model cache of VIQA_HOME)")
    p.add_argument("--parts", type=int, default=1, help="ram: write the collection as this many segments (less RAM)")
    p.add_argument("--compact", action="store_true", help="ram: with --parts, compact them into one before loading")
    a = p.parse_args(argv)
    if a.what == "child-load":
        print(json.dumps(child_load(Path(a.args[0]), a.args[1])))
        return
    if a.what == "child-add":
        print(json.dumps(child_add(Path(a.args[0]), a.args[1], a.real)))
        return
    with tempfile.TemporaryDirectory(prefix="viqa-segments-") as tmp:
        home = Path(tmp)
        if a.real:  # the real models: the usual cache, linked into the temporary home
            (home / "models").symlink_to(Settings().model_cache, target_is_directory=True)
        if a.what == "ram":
            ram(a.chunks or 20_000, home, a.parts, a.compact)
        elif a.what == "add":
            add(a.chunks or 100_000, home, a.real)
        else:
            chunks = a.chunks or 20_000
            idf(chunks, chunks // 2 if a.second is None else a.second, home)


if __name__ == "__main__":
    main()
