"""The benchmark scripts' own logic; running them in full is what their commands in the README are for."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.fakes import FakeEmbedder, FakePipeline, make_document
from viqa.eval.benchmarks.followups import (
    CONVERSATIONS_DIR,
    answer_all,
    conversation_collection,
    conversation_report,
    load_contexts,
    load_conversations,
    load_dialogues,
    resolve_all,
    scores_table,
    turns_table,
)
from viqa.eval.benchmarks.haystack import SYSTEMS, comparison_table
from viqa.eval.benchmarks.retrieval import SYSTEMS as RETRIEVAL_SYSTEMS
from viqa.eval.benchmarks.retrieval import ranked_results, retrieval_scores, xquad_table
from viqa.eval.benchmarks.scale import (
    EF_SWEEP,
    NPROBE_SWEEP,
    SENTENCES_PER_CHUNK,
    HybridIndex,
    SentencePool,
    ef_sweep,
    exact_top10,
    measure,
    synthesise,
)
from viqa.eval.benchmarks.speed import VARIANTS, answers_table, variant_settings
from viqa.eval.formats import GoldItem
from viqa.index.ingest import build_bm25, ingest_documents
from viqa.index.store import Collection, build_faiss
from viqa.qa.followup import resolve_followup
from viqa.qa.retrieval import Retriever
from viqa.settings import Settings
from viqa.types import Chunk, Hit

TRAINING_FILES = {"vi-news-squad2-train.json", "vi-wiki-squad-small.json", "vi-uit-regulations-squad.json",
                  "ALQAC.csv", "ViRe4MRC_v2.csv"}
SENTENCES = [
    "Kim ngạch xuất khẩu tháng 11 ước đạt 45,6 triệu USD.",
    "Kim ngạch nhập khẩu tháng 11 ước đạt 38,2 triệu USD.",
    "Kim ngạch xuất khẩu tháng 10 đạt 41,3 triệu USD.",
    "Tổng đàn trâu của tỉnh có 120 nghìn con.",
    "Tổng đàn bò của tỉnh có 45 nghìn con.",
    "Diện tích gieo trồng vụ Đông ước đạt 168ha.",
]
QUERIES = ["kim ngạch xuất khẩu tháng 11", "đàn bò có bao nhiêu con", "vụ Đông", "nhập khẩu"]


def test_speed_variants_go_from_the_old_set_up_to_the_shipped_one_a_change_at_a_time(settings: Settings) -> None:
    variants = variant_settings(settings)
    assert [label for label, _ in variants] == [label for label, _ in VARIANTS]
    first, last = variants[0][1], variants[-1][1]
    assert (first.reader_runtime, first.embedder_runtime, first.read_sure_margin) == ("torch", "torch", None)
    for (_, before), (_, after), (_, change) in zip(variants[:-1], variants[1:], VARIANTS[1:], strict=True):
        differs = {k for k, v in after.model_dump().items() if before.model_dump()[k] != v}
        assert differs <= set(change)
    shipped = Settings()
    for key in {k for _, change in VARIANTS[1:] for k in change}:
        assert getattr(last, key) == getattr(shipped, key), f"the last variant should be what viqa ships: {key}"


def test_speed_variants_read_with_an_earlier_reader_until_the_last_one(settings: Settings, tmp_path: Path) -> None:
    variants = variant_settings(settings, reader_before=tmp_path)
    assert len(variants) == len(VARIANTS) + 1
    assert all(s.reader_weights == tmp_path and s.reader_context_weight == 0.3 for _, s in variants[:-1])
    last = variants[-1][1]
    assert (last.reader_weights, last.answer_rules, last.reader_context_weight) == (
        settings.reader_weights, settings.answer_rules, settings.reader_context_weight)
    assert last.read_k == variants[-2][1].read_k


def test_synthetic_chunks_are_unit_vectors_made_of_their_sentences() -> None:
    rng = np.random.default_rng(0)
    pool = rng.normal(size=(20, 8)).astype(np.float32)
    pool_ids = [[i, 100 + i] for i in range(20)]
    vectors, ids = synthesise(50, pool, pool_ids, np.random.default_rng(1))
    assert vectors.shape == (50, 8) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert all(len(row) == 2 * SENTENCES_PER_CHUNK for row in ids)
    picks = [row[::2] for row in ids]  # the sentence index of each pair of term ids
    expected = pool[picks[0]].sum(axis=0)
    assert np.allclose(vectors[0], expected / np.linalg.norm(expected), atol=1e-5)


def test_viqa_never_imports_haystack() -> None:
    code = ("import sys, viqa.api.main, viqa.qa.pipeline, viqa.index.ingest, viqa.eval.evaluate, viqa.cli; "
            "sys.exit(any(m.split('.')[0] in ('haystack', 'haystack_integrations') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize("fusion", ["minmax", "rrf"])
def test_the_scale_bench_searches_its_in_memory_indexes_as_the_retriever_searches_a_collection(
    settings: Settings, fake_embedder: FakeEmbedder, fusion: str
) -> None:
    settings = settings.model_copy(update={"fusion": fusion})
    coll = Collection(settings.collections_dir, "scale-check")
    ingest_documents(coll, [make_document(f"d{i}", s) for i, s in enumerate(SENTENCES)], fake_embedder, settings)
    state = coll.read_state(fake_embedder.id, fake_embedder.dim)
    bm25 = build_bm25(state.tokens)
    hybrid = HybridIndex(build_faiss(state.vectors, settings), bm25, frozenset(bm25.vocab_dict))
    retriever = Retriever(coll, fake_embedder, settings)
    for query in QUERIES:
        rows = hybrid.search(query, fake_embedder, settings, k=3)
        assert [state.chunks[r].chunk_id for r in rows] == [h.chunk.chunk_id for h in retriever.search(query, k=3)]


class QueryCachingFake(FakeEmbedder):
    """The fake embedder with the real one's query cache to clear."""

    cleared = 0

    def clear_cache(self) -> None:
        self.cleared += 1


def test_a_scale_measurement_reports_build_disk_memory_latency_recall_and_the_ef_curve(settings: Settings) -> None:
    fake_embedder = QueryCachingFake()
    settings = settings.model_copy(update={"hnsw_threshold": 50, "large_index": "hnsw", "hnsw_ef_search": 64})
    coll = Collection(settings.collections_dir, "scale-real")
    ingest_documents(coll, [make_document("report", " ".join(SENTENCES))], fake_embedder, settings)
    real = coll.read_state(fake_embedder.id, fake_embedder.dim)
    pool = SentencePool.of(SENTENCES, fake_embedder.encode_passages(SENTENCES))
    row = measure(80, real, pool, QUERIES, fake_embedder, settings, seed=0)
    assert (row["chunks"], row["faiss"]) == (80, "IndexHNSWFlat")
    assert row["disk_mb"] > 0 and row["retrieval_p50_ms"] <= row["retrieval_p95_ms"]
    assert list(row["ef_sweep"]) == [str(ef) for ef in EF_SWEEP] and 0.0 <= row["recall@10"] <= 1.0
    assert fake_embedder.cleared == 1, "each size embeds its queries afresh"


def test_the_ef_sweep_of_an_exact_index_is_one_exact_point_with_full_recall(settings: Settings) -> None:
    vectors = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[:5]
    sweep = ef_sweep(build_faiss(vectors, settings), queries, exact_top10(vectors, queries), settings)
    assert list(sweep) == ["exact"] and sweep["exact"]["recall@10"] == 1.0
    sq8 = build_faiss(vectors, settings.model_copy(update={"hnsw_threshold": 10, "large_index": "sq8"}))
    assert list(ef_sweep(sq8, queries, exact_top10(vectors, queries), settings)) == [
        "IndexScalarQuantizer"]
    ivf = build_faiss(vectors, settings.model_copy(update={"hnsw_threshold": 10, "large_index": "ivf_sq8",
                                                           "ivf_nprobe": 3}))
    assert list(ef_sweep(ivf, queries, exact_top10(vectors, queries), settings.model_copy(
        update={"ivf_nprobe": 3}))) == [str(p) for p in NPROBE_SWEEP] and ivf.nprobe == 3


def _hit(doc_id: str, clean: str) -> Hit:
    return Hit(Chunk(f"{doc_id}-c", doc_id, clean, clean, (), (), 0, len(clean), ""), 1.0)


def test_the_retrieval_bench_scores_every_mode_by_the_rank_of_the_gold_paragraph(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    coll = Collection(settings.collections_dir, "retrieval-check")
    ingest_documents(coll, [make_document(f"d{i}", s) for i, s in enumerate(SENTENCES)], fake_embedder, settings)
    items = [GoldItem(f"q{i}", s, ("x",), s, f"d{i}") for i, s in enumerate(SENTENCES)]
    items.append(GoldItem("unanswerable", "Dân số của tỉnh?", ()))
    xquad = {}
    for label, (mode, _) in RETRIEVAL_SYSTEMS.items():
        results = ranked_results(items, Retriever(coll, fake_embedder, settings), mode, k=3)
        assert [r.qid for r in results] == [f"q{i}" for i in range(len(SENTENCES))]
        xquad[label] = retrieval_scores(results)
        assert xquad[label]["recall@1"] == 1.0, "a question that is its own paragraph finds it first"
        assert xquad[label]["mrr@10"] == 1.0 and xquad[label]["p50_ms"] <= xquad[label]["p95_ms"]
    assert len(xquad_table(xquad).splitlines()) == 1 + len(RETRIEVAL_SYSTEMS)


def test_a_dialogue_becomes_a_gold_item_asking_its_follow_up_resolved(tmp_path: Path) -> None:
    path = tmp_path / "followups.jsonl"
    row = {"id": "fu-01", "turns": ["Kim ngạch xuất khẩu tháng 11 ước đạt bao nhiêu?", "Còn nhập khẩu thì sao?"],
           "answers": ["160 triệu USD"]}
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n\n", encoding="utf-8")
    [item] = load_dialogues(path)
    assert (item.qid, item.answers) == ("fu-01", ("160 triệu USD",))
    assert "nhập khẩu" in item.question and item.question != row["turns"][1]


def test_follow_ups_are_answered_over_the_collection_and_scored_by_the_runner(settings: Settings) -> None:
    pipeline = FakePipeline(settings)
    items = [GoldItem("fu", "Kim ngạch nhập khẩu tháng 11 ước đạt bao nhiêu?", ("38,2 triệu USD",)),
             GoldItem("no", "Kim ngạch xuất khẩu tháng 11 ước đạt bao nhiêu?", ("160 triệu USD",))]
    results = answer_all(items, pipeline, "default")
    assert [(r.qid, r.prediction, r.em) for r in results] == [("fu", "38,2 triệu USD", 1.0),
                                                              ("no", "45,6 triệu USD", 0.0)]
    assert [collection for _, collection, _ in pipeline.asked] == ["default", "default"]


CONVERSATION = {
    "id": "cv-x-01", "context_id": "report#0",
    "turns": [
        {"question": "Kim ngạch xuất khẩu tháng 11 ước đạt bao nhiêu?", "answers": ["45,6 triệu USD"]},
        {"question": "Còn nhập khẩu thì sao?", "answers": ["38,2 triệu USD"], "kind": "category",
         "resolved": "Kim ngạch nhập khẩu tháng 11 ước đạt bao nhiêu?"},
        {"question": "Còn tháng 10?", "answers": ["41,3 triệu USD"], "kind": "time", "context_id": "report#1",
         "resolved": ["Kim ngạch nhập khẩu tháng 10 đạt bao nhiêu?", "kim ngạch nhập khẩu tháng 10 ước đạt bao nhiêu"]},
    ],
}


def test_every_turn_of_a_conversation_is_resolved_against_the_earlier_turns_as_typed(tmp_path: Path) -> None:
    path = tmp_path / "conversations.jsonl"
    path.write_text(json.dumps(CONVERSATION, ensure_ascii=False) + "\n\n", encoding="utf-8")
    [conversation] = load_conversations(path)
    asked = resolve_all([conversation])
    assert [a.item.qid for a in asked] == ["cv-x-01#1", "cv-x-01#2", "cv-x-01#3"]
    assert [a.item.kind for a in asked] == ["turn 1", "turn 2", "turn 3"]
    assert [a.item.context_id for a in asked] == ["report#0", "report#0", "report#1"]
    typed = [t["question"] for t in CONVERSATION["turns"]]
    assert [a.item.question for a in asked] == [resolve_followup(typed[:i], q) for i, q in enumerate(typed)]
    assert asked[0].item.question == typed[0] and asked[0].rewrite_as_expected is None
    assert [a.rewrite_as_expected for a in asked[1:]] == [True, True], "compared after normalisation"


def test_conversation_scores_come_by_turn_number_and_by_kind_with_the_rewrites_judged(
    tmp_path: Path, settings: Settings
) -> None:
    path = tmp_path / "conversations.jsonl"
    path.write_text(json.dumps(CONVERSATION, ensure_ascii=False) + "\n", encoding="utf-8")
    asked = resolve_all(load_conversations(path))
    results = answer_all([a.item for a in asked], FakePipeline(settings), "default")
    report = conversation_report(asked, results)
    scores = report["scores"]
    assert report["conversations"] == 1 and len(report["turns"]) == 3
    assert list(scores["by_turn"]) == ["turn 1", "turn 2", "turn 3"] and list(scores["by_kind"]) == ["category",
                                                                                                    "time"]
    assert scores["follow_ups"]["n"] == 2 and scores["follow_ups"]["rewrites_as_expected"] == 2
    assert scores["by_turn"]["turn 2"]["em"] == 100.0
    lines = scores_table(scores).splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["turn", "turn", "turn", "follow-ups", "category", "time"]
    assert len(turns_table(asked, results).splitlines()) == 1 + 3


def test_contexts_are_ingested_as_documents_of_a_fresh_collection(
    tmp_path: Path, settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    path = tmp_path / "contexts.jsonl"
    rows = [{"id": "ctx-1", "title": "a#1", "text": SENTENCES[0], "source": "a#1"},
            {"id": "ctx-2", "title": "a#2", "text": SENTENCES[1], "source": "a#2"}]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert [(d.doc_id, d.path, d.text) for d in load_contexts(path)] == [("ctx-1", "a#1", SENTENCES[0]),
                                                                         ("ctx-2", "a#2", SENTENCES[1])]
    for _ in range(2):  # a second run starts from an empty collection again
        coll = conversation_collection(settings, fake_embedder, path, name="conversations-check")
        assert sorted(coll.read_state(fake_embedder.id, fake_embedder.dim).documents) == ["ctx-1", "ctx-2"]


def test_the_conversation_sets_are_multi_turn_with_gold_spans_of_their_training_contexts() -> None:
    contexts = {json.loads(line)["source"]: json.loads(line) for line in
                (CONVERSATIONS_DIR / "contexts.jsonl").read_text(encoding="utf-8").splitlines()}
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", c["id"]) for c in contexts.values())
    assert all(c["source"].split("#")[0] in TRAINING_FILES for c in contexts.values()), "training data only"
    used: dict[str, set[str]] = {}
    for name in ("dev", "test"):
        conversations = load_conversations(CONVERSATIONS_DIR / f"{name}.jsonl")
        assert 14 <= len(conversations) <= 20 and all(3 <= len(c.turns) <= 4 for c in conversations)
        used[name] = {t.context_id for c in conversations for t in c.turns}
        for c in conversations:
            for i, turn in enumerate(c.turns):
                assert turn.answers and all(a in contexts[turn.context_id]["text"] for a in turn.answers), c.cid
                assert i == 0 or (turn.resolved and turn.kind), f"{c.cid} turn {i + 1} says what it should read as"
    assert not used["dev"] & used["test"], "dev and test share no context"
    assert used["dev"] | used["test"] == set(contexts)


def test_the_speed_table_has_a_row_per_variant_with_abstentions_out_of_the_unanswerable() -> None:
    answers = [{"variant": label, "em": 80.0, "f1": 85.5, "abstained": 3, "unanswerable": 4, "p50_ms": 120.0,
                "p95_ms": 300.0} for label, _ in VARIANTS]
    lines = answers_table(answers).splitlines()
    assert len(lines) == 1 + len(VARIANTS)
    assert lines[1].startswith(VARIANTS[0][0]) and lines[1].split()[-4:] == ["85.5", "3/4", "120.0", "300.0"]


def test_the_comparison_table_has_a_column_per_system_and_a_row_per_measure() -> None:
    accuracy = {"lang-son-dev": {"em": 70.0, "f1": 80.0, "abstained": 2, "unanswerable": 5, "p50_ms": 200.0,
                                 "p95_ms": 400.0}}
    system = {"cold_start_s": 4.2, "accuracy": accuracy, "throughput": [{"answers_per_s": 3.25}], "peak_rss_mb": 900.0}
    result = {"gold_sets": ["lang-son-dev"], "clients": [1], "systems": dict.fromkeys(SYSTEMS, system)}
    lines = comparison_table(result).splitlines()
    assert lines[0].split() == list(SYSTEMS)
    labels = ["lang-son-dev EM / F1", "  abstained", "  p50 / p95 ms", "answers/s, 1 client", "cold start s",
              "peak RSS MB"]
    assert len(lines) == 1 + len(labels)
    assert all(line.startswith(label + "  ") for line, label in zip(lines[1:], labels, strict=True))
    assert lines[1].split()[-6:] == ["70.0", "/", "80.0", "70.0", "/", "80.0"] and "2/5" in lines[2]
    assert lines[4].split()[-2:] == ["3.25", "3.25"]


def test_the_rules_bench_toggles_each_rule_and_the_re_ranking_once() -> None:
    from viqa.eval.benchmarks.rules import variants
    from viqa.settings import ANSWER_RULES

    chosen = variants(("trim_to_quantity",), 0.0)
    by_name = {v.name: v for v in chosen}
    assert by_name["in use"].rules == ("trim_to_quantity",) and by_name["re-ranking on"].context_weight > 0
    assert by_name["- trim_to_quantity"].rules == ()
    assert set(by_name["+ has_no_quantity"].rules) == {"trim_to_quantity", "has_no_quantity"}
    assert len(chosen) == len(ANSWER_RULES) + 3 and by_name["no rules, no re-ranking"].rules == ()


def test_the_ram_bench_can_write_its_collection_a_segment_at_a_time(tmp_path: Path) -> None:
    from viqa.eval.benchmarks.segments import write_collection_in_parts

    coll = write_collection_in_parts(Settings(home=tmp_path), "ram", 100, 3, FakeEmbedder.id)
    with coll.reading() as folder:
        generation = coll.generation(folder)
    assert len(generation.segments) == 3 and generation.chunks == 100
