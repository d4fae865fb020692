"""Sentence-aware chunks of about ``chunk_syllables`` syllables, with a sentence of overlap."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from viqa.index.structure import Block, parse_blocks
from viqa.text.segment import sentence_spans, syllables
from viqa.types import Chunk, Document


def group_sentences(lengths: list[int], target: int, overlap: int) -> list[tuple[int, int]]:
    """Sentence index ranges [first, last) of about ``target`` syllables each, overlapping by ``overlap`` sentences."""
    groups, first = [], 0
    while first < len(lengths):
        last, size = first, 0
        while last < len(lengths) and (size < target or last == first):
            if last > first and size + lengths[last] > target * 1.5:
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


def _block_chunks(doc: Document, block: Block, target: int, overlap: int) -> list[Chunk]:
    text = block.clean.text
    spans = sentence_spans(text)
    lengths = [max(1, len(syllables(text[s:e]))) for s, e in spans]
    chunks = []
    for first, last in group_sentences(lengths, target, overlap):
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


def chunk_document(doc: Document, target_syllables: int = 150, overlap_sentences: int = 1) -> list[Chunk]:
    """All passages of ``doc``: body chunks and one passage per footnote, linked both ways."""
    body: list[Chunk] = []
    footnotes: dict[str, list[Chunk]] = {}
    for block in parse_blocks(doc.text):
        if block.kind == "heading" or not block.clean.text.strip():
            continue
        chunks = _block_chunks(doc, block, target_syllables, overlap_sentences)
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
