"""Web pages as canonical text: the main content only, headings as markdown, lists, quotes, tables, footnotes.

The main content is the ``<article>`` with the most text in ``<p>``, else the ``<main>``, else the body; from
it, scripts, forms, navigation, asides, page headers and footers and the elements whose class, id or role say
they are navigation, menus, sidebars, comments, sharing buttons, breadcrumbs or cookie banners are left out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from selectolax.lexbor import LexborHTMLParser, LexborNode

from viqa.errors import InputError
from viqa.index.formats import Extracted
from viqa.index.formats.text import decode_text

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_DECLARED = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.IGNORECASE)
_AS_WINDOWS_1252 = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii", "cp819"}
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_INLINE = frozenset("a abbr b bdi bdo big cite code data del dfn em font i ins kbd label mark nobr q s samp small "
                    "span strike strong sub sup time tt u var wbr img".split())
_ALWAYS_LEFT_OUT = frozenset("script style noscript template form iframe svg button nav aside select textarea "
                             "object embed canvas head title meta link input audio video map".split())
_JUNK_WORDS = ("nav", "menu", "footer", "sidebar", "comment", "share", "sharing", "breadcrumb", "cookie")
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_INVISIBLE = str.maketrans("", "", "\u200b\u200c\u200d\u2060\ufeff\u00ad")
_NOTE_ID = re.compile(r"_?(?:ftn|fn|footnote|cite_note|note)(?:[-_:][\w-]*?)?[-_:]?(\d+)", re.IGNORECASE)
_NOTE_LINK = re.compile(r"#_?(?:ftn|fn|footnote|cite_note|note)(?:[-_:][\w-]*?)?[-_:]?\d+", re.IGNORECASE)
_NUMBER_LABEL = re.compile(r"[\[(]?([0-9]{1,4})[\])]?")
_NOTE_LABEL = re.compile(r"^\s*(?:[\[(]?[0-9]{1,4}[\])]?\.?|[⁰¹²³⁴⁵⁶⁷⁸⁹]+)\s*")
_BACKLINKS = re.compile(r"\s*[↩⤴↑^︎]+\s*$")


@dataclass(frozen=True)
class _Context:
    """What the walk over the main content needs: how much ``<p>`` text the content has, whether the page's
    header and class/id/role-named junk are left out, and whether whitespace is kept (inside ``<pre>``)."""

    weight: int
    keep_header: bool
    by_attributes: bool = True
    pre: bool = False


def extract_html(data: bytes, name: str) -> Extracted:
    """An HTML page's main content as canonical text with its ``<title>`` (else its first h1) as title;
    InputError when there is no text in its body."""
    tree = LexborHTMLParser(_decode(data, name))
    root = _main_content(tree)
    if root is None:
        raise InputError(f"{name}: has no text in its body")
    context = _Context(weight=_p_weight(root), keep_header=root.tag in ("article", "main"))
    # a page whose every element a class name calls junk ("has-sidebar" on a wrapper) keeps its text
    paragraphs = list(_blocks(root, context)) or list(_blocks(root, replace(context, by_attributes=False)))
    text = unicodedata.normalize("NFC", "\n\n".join(paragraphs))
    if not text.strip():
        raise InputError(f"{name}: has no text in its body")
    return Extracted(text=text, title=_title(tree), format="html")


def _decode(data: bytes, name: str) -> str:
    """The page's text: by its BOM, else UTF-8 when it is valid UTF-8, else the charset its ``<meta>`` declares,
    else as a text file (``decode_text``). The result is NFC with stray controls removed."""
    declared = _declared_charset(data)
    if declared is not None and not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                data = data.decode(declared).encode("utf-8")
            except (LookupError, UnicodeDecodeError):
                pass
    return decode_text(data, name)


def _declared_charset(data: bytes) -> str | None:
    """The charset of ``<meta charset>`` or ``<meta http-equiv="Content-Type" content="…; charset=…">``."""
    if m := _DECLARED.search(data[:4096]):
        charset = m.group(1).decode("ascii").lower()
        if charset.startswith(("utf-16", "utf-32")):  # the meta was readable as ASCII: it is not UTF-16
            return None
        return "cp1252" if charset in _AS_WINDOWS_1252 else charset
    return None


def _title(tree: LexborHTMLParser) -> str | None:
    for selector in ("title", "h1"):
        node = tree.css_first(selector)
        if node is not None and (text := _collapse(node.text())):
            return text
    return None


def _p_weight(node: LexborNode) -> int:
    return sum(len(p.text(strip=True)) for p in node.css("p"))


def _main_content(tree: LexborHTMLParser) -> LexborNode | None:
    """The article with the most ``<p>`` text, else the main, else the body; a candidate with under a quarter
    of the body's text is passed over (a teaser card, say)."""
    body = tree.body
    if body is None:
        return None
    weigh = _p_weight if _p_weight(body) else (lambda node: len(node.text(strip=True)))
    total = weigh(body)
    for selector in ("article", "main", "[role=main]"):
        candidates = tree.css(selector)
        if candidates:
            best = max(candidates, key=weigh)
            if weigh(best) > 0 and 4 * weigh(best) >= total:
                return best
    return body


def _left_out(node: LexborNode, context: _Context) -> bool:
    tag = node.tag
    if tag in _ALWAYS_LEFT_OUT or tag == "footer" or (tag == "header" and not context.keep_header):
        return True
    attributes = node.attributes
    if "hidden" in attributes or attributes.get("aria-hidden") == "true":
        return True
    if "display:none" in (attributes.get("style") or "").replace(" ", "").lower():
        return True
    if not context.by_attributes:
        return False
    names = " ".join(attributes.get(key) or "" for key in ("class", "id", "role"))
    words = (word.lower() for word in _WORDS.findall(names))
    if not any(word.startswith(_JUNK_WORDS) for word in words):
        return False
    return not (context.weight and 2 * _p_weight(node) >= context.weight)  # never the bulk of the content


def _children(node: LexborNode) -> Iterator[LexborNode]:
    return node.iter(include_text=True)


def _blocks(node: LexborNode, context: _Context) -> Iterator[str]:
    """The paragraphs under ``node``: runs of inline content between block elements, and the blocks' own."""
    pieces: list[str] = []
    for child in _children(node):
        tag = child.tag
        if tag == "-text":
            pieces.append(_text(child, context))
        elif tag in ("br", "hr") or tag in _INLINE:
            if not _left_out(child, context):
                pieces.append(_inline(child, context))
        elif not tag.startswith("-") and not _left_out(child, context):
            yield from _paragraph(pieces)
            pieces = []
            yield from _block(child, context)
    yield from _paragraph(pieces)


def _block(node: LexborNode, context: _Context) -> Iterator[str]:
    tag = node.tag
    note = _NOTE_ID.fullmatch(node.attributes.get("id") or "")
    if tag in _HEADINGS:
        if text := _collapse(_inline(node, context)):
            yield f"{'#' * _HEADINGS[tag]} {text}"
    elif tag == "table":
        yield from _rows(node, context)
    elif note is not None and tag in ("li", "div", "p", "aside", "section"):
        text = _BACKLINKS.sub("", _NOTE_LABEL.sub("", " ".join(_blocks(node, context)), count=1))
        if text := _collapse(text):
            yield f"{int(note.group(1))}".translate(_SUPERSCRIPT) + f" {text}"
    elif tag == "li":
        paragraphs = list(_blocks(node, context))
        if paragraphs:
            yield f"- {paragraphs[0]}"
            yield from paragraphs[1:]
    elif tag == "pre":
        yield from _blocks(node, replace(context, pre=True))
    else:
        yield from _blocks(node, context)


def _rows(table: LexborNode, context: _Context) -> Iterator[str]:
    """A table's caption, then each row as its non-empty cells joined by " | "."""
    for child in _children(table):
        if child.tag == "caption":
            yield from _blocks(child, context)
        elif child.tag in ("thead", "tbody", "tfoot"):
            yield from _rows(child, context)
        elif child.tag == "tr":
            cells = (_collapse(" ".join(_blocks(cell, context))) for cell in _children(child)
                     if cell.tag in ("td", "th"))
            if row := " | ".join(cell for cell in cells if cell):
                yield row


def _text(node: LexborNode, context: _Context) -> str:
    text = (node.text(deep=False) or "").translate(_INVISIBLE)
    return text if context.pre else re.sub(r"\s+", " ", text)


def _inline(node: LexborNode, context: _Context) -> str:
    """An inline element's text: ``<br>`` as a line break, footnote markers as superscript digits."""
    tag = node.tag
    if tag == "-text":
        return _text(node, context)
    if tag in ("br", "hr"):
        return "\n"
    if tag.startswith("-") or _left_out(node, context):
        return ""
    text = "".join(_inline(child, context) for child in _children(node))
    if tag == "sup" or tag == "a" and _NOTE_LINK.fullmatch(node.attributes.get("href") or ""):
        if m := _NUMBER_LABEL.fullmatch(text.strip()):
            return m.group(1).translate(_SUPERSCRIPT)
    if tag not in _INLINE:  # a block inside inline content (a div in a link, say)
        return f"\n{text}\n"
    return text


def _paragraph(pieces: Iterable[str]) -> Iterator[str]:
    """Inline pieces as one paragraph: lines (from ``<br>``) with their whitespace collapsed, blank ones dropped."""
    lines = (_collapse(line) for line in "".join(pieces).split("\n"))
    if text := "\n".join(line for line in lines if line):
        yield text


def _collapse(text: str) -> str:
    return " ".join(text.translate(_INVISIBLE).split())
