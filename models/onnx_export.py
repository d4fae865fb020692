"""ONNX copies of the transformers models, for ONNX Runtime on CPU: exported once, cached, optionally int8.

``ensure_onnx(folder, "qa")`` writes ``folder/onnx/model.onnx`` (int8: ``model-int8-<hash of keep_fp32>.onnx``)
the first time and returns its path. Writes are atomic (temporary file, then rename): a crash leaves no half file.
Int8 is ONNX Runtime's dynamic quantization of the encoder's MatMul weights, minus those matching
``keep_fp32`` (regular expressions over node names); which to keep was chosen by measuring F1.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Literal

from viqa.settings import RUNTIMES

log = logging.getLogger(__name__)
build_log = logging.getLogger("viqa.models.build")  # one-off model builds, which the CLI announces

Kind = Literal["qa", "encoder"]
_OUTPUTS: dict[str, list[str]] = {"qa": ["start_logits", "end_logits"], "encoder": ["last_hidden_state"]}


def _export_fp32(folder: Path, kind: Kind, target: Path) -> None:
    import torch
    from transformers import AutoModel, AutoModelForQuestionAnswering

    loader = AutoModelForQuestionAnswering if kind == "qa" else AutoModel
    model = loader.from_pretrained(str(folder)).eval()
    ids = torch.full((2, 16), 5, dtype=torch.long)
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}}
    axes.update({name: {0: "batch", 1: "seq"} for name in _OUTPUTS[kind]})

    class _Outputs(torch.nn.Module):  # plain tensors out, in a fixed order
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            out = self.model(input_ids=input_ids, attention_mask=attention_mask)
            return tuple(out[name] for name in _OUTPUTS[kind])

    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Outputs(), (ids, torch.ones_like(ids)), str(target), input_names=list(axes)[:2],
                          output_names=_OUTPUTS[kind], dynamic_axes=axes, opset_version=17, dynamo=False)


def _quantize(source: Path, target: Path, keep_fp32: tuple[str, ...]) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False).graph
    excluded = [n.name for n in graph.node if n.op_type == "MatMul" and any(re.search(k, n.name) for k in keep_fp32)]
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer's advice to pre-process goes to the root logger
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
                         nodes_to_exclude=excluded)
    finally:
        root.setLevel(level)


def _atomic(target: Path, write) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}-", suffix=".onnx", dir=target.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would make this the only private file in the cache
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def ensure_onnx(folder: Path, kind: Kind, quantize: bool = False, keep_fp32: tuple[str, ...] = ()) -> Path:
    """The ONNX file of the transformers model in ``folder`` (exported, and quantized, on first use)."""
    out_dir = folder / "onnx"
    out_dir.mkdir(exist_ok=True)
    fp32 = out_dir / "model.onnx"
    if not fp32.is_file():
        build_log.info("exporting %s to ONNX", folder)
        _atomic(fp32, lambda tmp: _export_fp32(folder, kind, tmp))
    if not quantize:
        return fp32
    tag = hashlib.sha1("\n".join(keep_fp32).encode()).hexdigest()[:8]
    int8 = out_dir / f"model-int8-{tag}.onnx"
    if not int8.is_file():
        build_log.info("quantizing %s to int8", fp32)
        _atomic(int8, lambda tmp: _quantize(fp32, tmp, keep_fp32))
    return int8


def check_runtime(runtime: str) -> str:
    """``runtime`` if it is one viqa can run models on; ValueError otherwise."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}: one of {', '.join(RUNTIMES)}")
    return runtime


def session(path: Path, threads: int):
    """An ONNX Runtime CPU session using ``threads`` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # no busy-waiting after a run: the embedder's and the reader's thread pools share two cores
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
