"""Sentence-aware chunks of about ``chunk_syllables`` syllables, with a sentence of overlap, and never over
``max_chunk_syllables``: a sentence longer than that (text without sentence ends) is cut at syllables first."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import replace

from viqa.index.structure import Block, parse_blocks
from viqa.settings import Settings
from viqa.text.segment import sentence_spans, syllables
from viqa.types import Chunk, Document

_WORD = re.compile(r"\w+")
MAX_SYLLABLES = Settings.model_fields["max_chunk_syllables"].default


def group_sentences(
    lengths: list[int], target: int, overlap: int, limit: float = math.inf
) -> list[tuple[int, int]]:
    """Sentence index ranges [first, last) of about ``target`` syllables each, overlapping by ``overlap`` sentences;
    a group of several sentences stays within 1.5 × ``target`` and ``limit`` syllables."""
    groups, first = [], 0
    while first < len(lengths):
        last, size = first, 0
        while last < len(lengths) and (size < target or last == first):
            if last > first and size + lengths[last] > min(target * 1.5, limit):
                break
            size += lengths[last]
            last += 1
        groups.append((first, last))
        if last >= len(lengths):
            break
        first = max(last - overlap, first + 1)
    return groups


def _chunk_id(doc_id: str, start: int, end: int, clean: str) -> str:
    return hashlib.sha1(f"{doc_id}:{start}:{end}:{clean}".encode()).hexdigest()[:16]


def cut_long_sentences(text: str, spans: list[tuple[int, int]], cap: int, piece: int) -> list[tuple[int, int]]:
    """``spans`` with each sentence of more than ``cap`` syllables cut at syllables into even pieces of at most
    ``piece``; the pieces still cover all of the sentence's non-space characters, and shorter sentences stay whole."""
    out = []
    for start, end in spans:
        words = [m.start() for m in _WORD.finditer(text, start, end)]
        if len(syllables(text[start:end])) <= cap or len(words) <= 1:
            out.append((start, end))
            continue
        n = math.ceil(len(words) / piece)
        cuts = [start] + [words[len(words) * k // n] for k in range(1, n)] + [end]
        out += [(a, a + len(text[a:b].rstrip())) for a, b in zip(cuts, cuts[1:], strict=False)]
    return out


def _block_chunks(doc: Document, block: Block, target: int, overlap: int, cap: int) -> list[Chunk]:
    text = block.clean.text
    spans = cut_long_sentences(text, sentence_spans(text), cap, max(1, min(cap, target) // 3))
    lengths = [max(1, len(syllables(text[s:e]))) for s, e in spans]
    chunks = []
    for first, last in group_sentences(lengths, target, overlap, cap):
        s, e = spans[first][0], spans[last - 1][1]
        char_start, char_end = block.clean.original_span(s, e)
        clean = text[s:e]
        chunks.append(
            Chunk(
                chunk_id=_chunk_id(doc.doc_id, char_start, char_end, clean),
                doc_id=doc.doc_id,
                text=doc.text[char_start:char_end],
                clean=clean,
                clean_start=tuple(block.clean.start[s:e]),
                clean_end=tuple(block.clean.end[s:e]),
                char_start=char_start,
                char_end=char_end,
                heading_path=block.heading_path,
                kind=block.kind,
                footnotes=tuple(str(n) for n, pos in block.refs if s <= pos <= e),  # numbers; ids set below
            )
        )
    return chunks


def chunk_document(
    doc: Document, target_syllables: int = 150, overlap_sentences: int = 1, max_syllables: int = MAX_SYLLABLES
) -> list[Chunk]:
    """All passages of ``doc``: body chunks of at most ``max_syllables`` syllables and one passage per footnote
    (cut alike), linked both ways."""
    body: list[Chunk] = []
    footnotes: dict[str, list[Chunk]] = {}
    for block in parse_blocks(doc.text):
        if block.kind == "heading" or not block.clean.text.strip():
            continue
        chunks = _block_chunks(doc, block, target_syllables, overlap_sentences, max_syllables)
        if block.kind == "footnote":
            footnotes.setdefault(str(block.number), []).extend(chunks)
        else:
            body.extend(chunks)
    cited_by: dict[str, list[str]] = {}
    linked = []
    for chunk in body:
        ids = tuple(fn.chunk_id for number in chunk.footnotes for fn in footnotes.get(number, []))
        for fid in ids:
            cited_by.setdefault(fid, []).append(chunk.chunk_id)
        linked.append(replace(chunk, footnotes=ids))
    notes = [
        replace(fn, footnotes=(), cited_by=tuple(cited_by.get(fn.chunk_id, ())))
        for chunks in footnotes.values()
        for fn in chunks
    ]
    return sorted(linked + notes, key=lambda c: (c.char_start, c.char_end))
