"""The one settings object: every tunable of viqa, overridable by ``VIQA_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from viqa.errors import InputError

Runtime = Literal["onnx", "torch"]
AnswerRule = Literal["drop_restated_subject", "trim_to_quantity", "is_date_for_a_quantity", "has_no_quantity",
                     "extend_to_counted_noun"]
ANSWER_RULES: tuple[AnswerRule, ...] = get_args(AnswerRule)
RUNTIMES: tuple[str, ...] = get_args(Runtime)


class Settings(BaseSettings):
    """viqa configuration. ``VIQA_HOME=/data/viqa viqa ingest ...`` moves everything viqa writes."""

    model_config = SettingsConfigDict(env_prefix="VIQA_", extra="ignore")

    # where things live
    home: Path = Field(default=Path.home() / ".viqa", description="Collections and model cache.")
    default_collection: str = "default"

    # the store
    store: Literal["files", "milvus"] = Field(
        default="files", description="Where collections live: plain files under <home>/collections (embedded, the"
        " default), or Milvus (VIQA_MILVUS_URI), which several viqa processes or machines share.")
    milvus_uri: str | None = Field(
        default=None, description="A file for Milvus Lite (embedded, one process), or http://host:19530 for a"
        " Milvus server or cluster (None: <home>/milvus.db).")
    milvus_token: str | None = Field(default=None, description='A Milvus server\'s token ("user:password").')
    milvus_index: str = Field(
        default="AUTOINDEX", description="Milvus's dense index type (AUTOINDEX: the server's choice; HNSW reads"
        " hnsw_ef_search).")

    # models
    threads: int = Field(default=2, ge=1, description="torch / FAISS threads.")
    embed_batch_size: int = Field(default=4, ge=1, description="Small batches pad less: 4 is fastest on 2 cores.")
    embedder_runtime: Runtime = Field(default="onnx", description="ONNX Runtime or torch.")
    passage_precision: Literal["fp32", "int8"] = Field(
        default="int8", description="Passages embedded by the int8 encoder (queries stay fp32): chosen on "
        "vi-news-squad2-dev retrieval, where hybrid R@1/R@5 held and int8 queries lost R@1.")
    reader_weights: Path | None = Field(
        default=None, description="A folder with reader.safetensors and reader.json (None: those shipped with viqa)."
    )

    # ingest limits
    max_file_mb: float = Field(default=20.0, gt=0, description="Files larger than this are refused.")
    max_pages: int = Field(default=400, gt=0, description="PDFs with more pages than this are refused.")
    max_unpacked_mb: float = Field(default=200.0, gt=0,
                                   description="A DOCX whose parts unpack to more than this is refused (zip bombs).")
    ocr_language: str = Field(default="vie", description="Tesseract language for PDFs without a text layer.")

    # the service's indexing jobs (uploads and deletes), journaled under <home>/jobs
    ingest_worker: Literal["process", "thread"] = Field(
        default="process", description="Where jobs run: a worker process with its own embedder at a lower CPU"
        " priority (questions never wait for it), or a thread sharing the service's models (questions go first)."
    )
    ingest_threads: int = Field(default=1, ge=1, description="Intra-op threads of the worker process's embedder.")
    ingest_nice: int = Field(default=10, ge=0, le=19, description="How much lower the worker's CPU priority is.")
    ingest_worker_idle_s: float = Field(
        default=60.0, gt=0, description="An idle worker process exits after this many seconds (its memory goes back)."
    )
    ingest_yield_questions: int = Field(
        default=4, ge=1, description="Thread worker: a waiting ingest batch runs after at most this many questions."
    )
    jobs_keep: int = Field(default=1000, ge=1, description="Finished jobs remembered, in memory and in the journal.")
    job_max_attempts: int = Field(
        default=3, ge=1, description="Runs of a job that the server died during, before it is reported failed."
    )
    job_stop_s: float = Field(
        default=3.0, gt=0, description="At shutdown, seconds a running job gets to stop between batches before its"
        " worker is killed (the commit is atomic: the job runs again at the next start)."
    )
    jobs_poll_s: float = Field(
        default=1.0, gt=0, description="Processes sharing one home (replicas): how often the one running the jobs"
        " looks for jobs the others journaled, and how often the others try to take over if it is gone.")
    shutdown_grace_s: float = Field(
        default=4.0, gt=0, description="At SIGTERM, seconds open requests get to finish (uvicorn's graceful timeout)."
    )

    # chunking (sizes in syllables, i.e. whitespace-separated tokens)
    chunk_syllables: int = Field(default=150, ge=20)
    chunk_overlap_sentences: int = Field(default=1, ge=0)
    max_chunk_syllables: int = Field(
        default=300, ge=20, description="Hard cap on a passage: a sentence longer than this (text without sentence"
        " ends) is cut at syllables into pieces of a third of chunk_syllables. 300 keeps a passage within e5's 512"
        " tokens and leaves every ordinary sentence whole."
    )

    # index
    hnsw_threshold: int = Field(
        default=50_000, ge=1, description="A segment of this many chunks or more gets large_index, else exact search.")
    large_index: Literal["hnsw", "sq8", "ivf_sq8"] = Field(
        default="ivf_sq8",
        description="The dense index of a large segment: hnsw (a graph, searched with hnsw_ef_search), sq8 (every"
        " vector as one byte a dimension, searched exhaustively) or ivf_sq8 (those bytes in ivf_lists k-means lists,"
        " ivf_nprobe of them searched). At 1M chunks ivf_sq8 reaches recall@10 0.97 in 12 ms where hnsw gives 0.88"
        " in 7 ms, and builds in a minute where hnsw takes nineteen.")
    ivf_lists: int = Field(default=4096, ge=1, description="k-means lists of an ivf_sq8 index (at most one per 64"
                           " vectors of the segment).")
    ivf_nprobe: int = Field(default=1024, ge=1, description="Lists an ivf_sq8 search visits: recall against cost"
                            " (1024: the fewest with recall@10 >= 0.96 at 1M chunks, on vi-news training questions).")
    hnsw_m: int = Field(default=32, ge=2, description="HNSW graph degree.")
    hnsw_ef_construction: int = Field(default=80, ge=1, description="HNSW build breadth.")
    hnsw_ef_search: int = Field(default=512, ge=1, description="HNSW search breadth: recall against cost.")
    max_segments: int = Field(
        default=10, ge=1, description="Segments a collection holds at most: an ingest that would make more folds the"
        " smallest into its new segment (their stored vectors reused). `viqa compact` folds them all into one."
    )
    delete_purges: bool = Field(
        default=True, description="A delete also rewrites the segments that held the deleted documents, from their"
        " stored vectors, so that their text leaves the disk at once; false: it writes tombstones only, and the text"
        " stays on disk until `viqa compact`."
    )
    max_loaded_collections: int = Field(
        default=8, ge=1, description="Collections a Pipeline holds in memory; the least recently used is unloaded."
    )

    # retrieval
    fusion: str = Field(default="minmax", pattern="^(minmax|rrf)$")
    alpha: float = Field(default=0.5, ge=0.0, le=1.0, description="Weight of the dense score in min-max fusion.")
    rrf_k: int = 60
    candidates: int = Field(default=50, ge=1, description="Hits taken from each retriever before fusion.")
    top_k: int = Field(default=5, ge=1, description="Passages a search returns.")
    max_top_k: int = Field(default=50, ge=1, description="The most passages a request may ask to search or read.")

    # reading
    read_k: int = Field(default=3, ge=1, description="Passages the reader reads per question.")
    read_focus_sentences: int = Field(
        default=3, ge=0, description="Read only this many best-matching sentences (±1) of those passages; 0: all."
    )
    read_sure_margin: float | None = Field(
        default=1.0, description="Read views best first and stop once an answer clears the abstention threshold by"
        " this (None: read all at once)."
    )
    reader_max_length: int = Field(default=256, ge=64, description="Tokens per window (as the reader was trained).")
    reader_stride: int = Field(default=96, ge=0, description="Tokens two windows of a passage share.")
    max_question_tokens: int = Field(
        default=128, ge=1, description="Longest question the reader reads, in its tokens (longer: QuestionTooLongError,"
        " refused before reading). At most half of reader_max_length, so that a window keeps half its tokens for the"
        " passage; a question leaving the passage less than 2 × reader_stride is read with a stride of half of that."
    )
    max_windows_per_passage: int = Field(
        default=8, ge=1, description="The reader reads the first this many windows of each passage (in reading order)"
        " and no more: at most this × reader_max_length tokens per passage, however long it is (8 covers a passage of"
        " max_chunk_syllables)."
    )
    reader_batch_size: int = Field(
        default=1, ge=1, description="Windows per forward pass. 1: each window alone, unpadded: on 2 cores a padded"
        " pass of a passage's windows costs more than it saves (python -m viqa.eval.benchmarks.tail), and the int8"
        " reader's logits of a window then never depend on what else is read with it."
    )
    reader_top_spans: int = Field(default=3, ge=1, description="Best spans kept per passage (re-ranked, then fused).")
    max_answer_tokens: int = Field(default=30, ge=1)
    answer_rules: list[AnswerRule] = Field(
        default_factory=lambda: ["trim_to_quantity", "extend_to_counted_noun"],
        description="The answer rules of viqa.qa.answer_rules applied to every span ([]: none). The two kept are those"
        " with a net gain on the selection sets (python -m viqa.eval.benchmarks.rules; see the model card)."
    )
    reader_restore_tones: bool = Field(
        default=True, description="Read a question typed without tone marks with those of the words its passage"
        " holds (viqa.text.retone)."
    )
    reader_context_words: int = Field(default=5, ge=0, description="Words either side of a span that re-ranking reads.")
    reader_context_weight: float = Field(
        default=0.0, ge=0, description="Logits added to a span per question syllable among those words; 0: off (it"
        " loses on the selection sets: python -m viqa.eval.benchmarks.rules)."
    )
    reader_runtime: Runtime = Field(default="onnx", description="ONNX Runtime or torch.")
    reader_quantize: bool = Field(
        default=True, description="int8 reader: faster on CPU, F1 no lower than fp32's on XQuAD, same calibration."
    )
    null_threshold: float | None = Field(
        default=None, description="Abstain when the best span beats no-answer by less (None: the calibrated value)."
    )
    confidence_scale: float | None = Field(default=None, gt=0, description="None: the calibrated value.")
    retrieval_weight: float = Field(default=2.0, ge=0, description="Weight of the fused retrieval score in ranking.")
    alternative_gap: float = Field(
        default=2.0, ge=0, description="An answer from another document, other than the best and ranked within this"
        " (logits) of it, is listed as what other sources say; 0: never. Chosen on vi-news-squad2-dev"
        " (python -m viqa.eval.benchmarks.alternatives)."
    )
    alternative_retrieval_share: float = Field(
        default=0.8, ge=0, le=1, description="Once sure, still read the views of other documents retrieved at least"
        " this share of the best answer's passage score, to find what they say (1: only as well as it)."
    )
    alternative_overlap: float = Field(
        default=0.7, ge=0, le=1, description="Share of the words around the best answer that an alternative's"
        " sentence must repeat (the same statement); 0: any sentence."
    )
    max_alternatives: int = Field(default=2, ge=0, description="Most answers of other sources listed.")

    # queries
    max_query_chars: int = Field(default=1000, ge=1, description="Longest question or search query.")

    # HTTP service
    api_key: str | None = Field(
        default=None, description="Key for writes; without one, writes are accepted from loopback clients only."
    )
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, description="Largest JSON request body.")
    max_upload_mb: float = Field(default=20.0, gt=0, description="Largest document upload (whole request).")
    max_waiting_jobs: int = Field(
        default=50, ge=1, description="Indexing jobs queued or running at most: more uploads or deletes get 503 with"
        " Retry-After (each queued upload holds its documents in the journal).")
    cors_origins: list[str] = Field(default_factory=list, description='Allowed origins, e.g. ["http://localhost:3000"].')
    public_reads: bool = Field(default=True, description="Questions and listings need no key.")
    allowed_hosts: list[str] = Field(
        default_factory=list, description='Host names served besides the loopback ones (localhost, 127.0.0.1, [::1]),'
        ' e.g. ["viqa.example.org"]; any other Host header is a 400 (DNS rebinding); ["*"]: any.'
    )
    trusted_proxies: list[str] = Field(
        default_factory=list, description='Addresses or networks of reverse proxies whose Forwarded and'
        ' X-Forwarded-For headers name the client, e.g. ["127.0.0.1", "10.0.0.0/8"]; from others they are ignored.'
    )
    # Ray Serve replicas (viqa serve --replicas N)
    replica_max_ongoing_requests: int = Field(
        default=4, ge=1, description="Requests one replica holds at once (its questions run one at a time).")
    replica_max_queued_requests: int = Field(
        default=16, ge=1, description="Requests Ray's proxy queues for a replica with room; past that, 503.")
    replica_retry_after_s: float = Field(default=1.0, gt=0, description="Retry-After of those 503s.")
    replica_health_check_s: float = Field(
        default=2.0, gt=0, description="How often Ray checks a replica (/readyz): about how long a dead replica goes"
        " unreplaced.")
    replica_cpus: float = Field(default=1.0, gt=0, description="CPUs Ray reserves for each replica.")
    openai_sources: bool = Field(
        default=True, description='The OpenAI route\'s content ends with numbered sources ("… [1]" and a "Nguồn" list).'
    )

    @property
    def collections_dir(self) -> Path:
        return self.home / "collections"

    @property
    def model_cache(self) -> Path:
        return self.home / "models"

    @property
    def jobs_dir(self) -> Path:
        """The job journal: one JSON file per job (and its input until it ends)."""
        return self.home / "jobs"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing the environment.

    A ``VIQA_*`` variable with a bad value is an InputError that names it, not a pydantic traceback.
    """
    try:
        return Settings()
    except ValidationError as exc:
        bad = "; ".join(f"VIQA_{'_'.join(map(str, e['loc'])).upper()}={e['input']!r}: {e['msg']}" for e in exc.errors())
        raise InputError(f"bad setting {bad}") from None
