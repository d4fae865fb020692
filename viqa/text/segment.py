"""Sentences and words with underthesea, located in the text they came from (underthesea may rewrite text)."""

from __future__ import annotations

import re

from viqa.text.normalise import normalise_for_matching

_SYLLABLE = re.compile(r"\w+", re.UNICODE)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text``, covering all of its non-space characters."""
    from underthesea import sent_tokenize

    spans, cursor = [], 0
    for sentence in sent_tokenize(text):
        sentence = sentence.strip()
        start = text.find(sentence, cursor) if sentence else -1
        if start < 0:  # underthesea changed the characters: fall back to one span for the rest
            break
        if text[cursor:start].strip() and spans:  # text it skipped belongs to the previous sentence
            spans[-1] = (spans[-1][0], start)
        spans.append((start, start + len(sentence)))
        cursor = start + len(sentence)
    rest = text[cursor:]
    if rest.strip():
        lead = len(rest) - len(rest.lstrip())
        spans.append((cursor + lead, len(text.rstrip())))
    return spans


def syllables(text: str) -> list[str]:
    """Lower-cased, tone-unified syllables (one-letter words such as "ở" kept)."""
    return _SYLLABLE.findall(normalise_for_matching(text))


def lexical_tokens(text: str) -> list[str]:
    """BM25 terms: every syllable plus every multi-syllable underthesea word joined by "_"."""
    from underthesea import word_tokenize

    words = [w for w in word_tokenize(normalise_for_matching(text)) if " " in w]
    compounds = ["_".join(_SYLLABLE.findall(w)) for w in words]
    return syllables(text) + [c for c in compounds if "_" in c]
