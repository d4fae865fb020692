"""A run's report: ``summary.json`` and one self-contained ``report.html`` (inline CSS and SVG, no external URLs)."""

from __future__ import annotations

import html
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from viqa.eval.runner import ItemResult
from viqa.files import write_text_atomic
from viqa.links import citation_url

WORST_MISSES = 25
QUOTE_CHARS = 400

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif;color:#1f2328;
     margin:2rem auto;max-width:1100px;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
.meta{color:#57606a} .note{color:#57606a;font-size:.9em} .none{color:#8c959f;font-style:italic}
table{border-collapse:collapse;margin:.5rem 0} th,td{border:1px solid #d0d7de;padding:.3rem .55rem;vertical-align:top}
th{background:#f6f8fa;text-align:left} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.misses td{max-width:22rem;overflow-wrap:anywhere}
.charts{display:flex;flex-wrap:wrap;gap:1.5rem;align-items:flex-start} figure{margin:0}
figcaption{color:#57606a;font-size:.9em;max-width:560px}
svg text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif;fill:#1f2328}
"""

_BAR = "#4c78a8"
_ACCENT = "#e45756"
_GRID = "#d0d7de"


@dataclass(frozen=True)
class CalibrationBin:
    """Questions whose confidence lies in [lo, hi): their count, mean confidence and share judged correct."""

    lo: float
    hi: float
    n: int
    confidence: float
    accuracy: float


def is_correct(r: ItemResult) -> bool:
    """An answer is correct when it is an exact match; an abstention when the gold set has no answer either."""
    return not r.golds if r.prediction is None else r.em >= 1.0


def reliability_bins(results: Sequence[ItemResult], n_bins: int = 10) -> list[CalibrationBin]:
    """``n_bins`` equal-width confidence bins over [0, 1] (confidence 1.0 falls in the last), empty ones included."""
    if n_bins < 1:
        raise ValueError("n_bins must be >= 1")
    groups: list[list[ItemResult]] = [[] for _ in range(n_bins)]
    for r in results:
        c = min(max(r.confidence, 0.0), 1.0)
        groups[min(int(c * n_bins), n_bins - 1)].append(r)
    return [
        CalibrationBin(
            lo=i / n_bins, hi=(i + 1) / n_bins, n=len(g),
            confidence=sum(r.confidence for r in g) / len(g) if g else 0.0,
            accuracy=sum(is_correct(r) for r in g) / len(g) if g else 0.0,
        )
        for i, g in enumerate(groups)
    ]


def expected_calibration_error(bins: Sequence[CalibrationBin]) -> float:
    """Count-weighted mean gap between confidence and accuracy over the bins (0 for no questions)."""
    total = sum(b.n for b in bins)
    return sum(b.n * abs(b.accuracy - b.confidence) for b in bins) / total if total else 0.0


def histogram(values: Sequence[float], n_bins: int = 20) -> list[tuple[float, float, int]]:
    """``(lo, hi, count)`` for equal-width bins from min to max; one bin when all values are equal, none when empty."""
    if n_bins < 1:
        raise ValueError("n_bins must be >= 1")
    if not values:
        return []
    lo, hi = min(values), max(values)
    if hi == lo:
        return [(lo, hi, len(values))]
    width = (hi - lo) / n_bins
    counts = [0] * n_bins
    for v in values:
        counts[min(int((v - lo) / width), n_bins - 1)] += 1
    return [(lo + i * width, lo + (i + 1) * width, c) for i, c in enumerate(counts)]


def worst_misses(results: Sequence[ItemResult], n: int = WORST_MISSES) -> list[ItemResult]:
    """The ``n`` questions with the lowest F1 below 1, the most confident first among equal F1."""
    misses = [r for r in results if r.f1 < 1.0]
    return sorted(misses, key=lambda r: (r.f1, -r.confidence))[:n]


def f1_by_kind(summary: dict, results: Sequence[ItemResult]) -> dict[str, tuple[int, float]]:
    """``kind -> (n, F1 in %)``, from the summary's ``by_kind`` when it has one, else from the results."""
    by_kind = summary.get("by_kind")
    if by_kind:
        return {k: (v["n"], v["f1"]) for k, v in by_kind.items() if v.get("n")}
    groups: dict[str, list[float]] = defaultdict(list)
    for r in results:
        groups[r.kind or "-"].append(r.f1)
    return {k: (len(v), round(100 * sum(v) / len(v), 2)) for k, v in sorted(groups.items())}


# ---------------------------------------------------------------- SVG


def _e(text: object) -> str:
    return html.escape(str(text))


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, s: str, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}"{extra}>{_e(s)}</text>'


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    """Inline SVG; HTML5 needs no xmlns, so the page holds no URL at all."""
    return (f'<svg width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(label)}">' + "".join(body) + "</svg>")


def _no_data(label: str) -> str:
    return _svg(360, 40, label, [_text(8, 24, "no data")])


def svg_bars(rows: dict[str, tuple[int, float]], label: str = "F1 by kind") -> str:
    """Horizontal bars of ``label -> (n, value in %)`` on a 0–100 axis."""
    if not rows:
        return _no_data(label)
    left, plot_w, bar_h, gap, top = 150, 330, 20, 8, 8
    height = top + len(rows) * (bar_h + gap) + 28
    width = left + plot_w + 90
    body = []
    for tick in range(0, 101, 25):
        x = left + plot_w * tick / 100
        body.append(f'<line x1="{_num(x)}" y1="{top}" x2="{_num(x)}" y2="{height - 24}" stroke="{_GRID}"/>')
        body.append(_text(x, height - 8, str(tick), "middle"))
    for i, (name, (n, value)) in enumerate(rows.items()):
        y = top + i * (bar_h + gap)
        w = plot_w * min(max(value, 0.0), 100.0) / 100
        short = name if len(name) <= 22 else name[:21] + "…"
        body.append(_text(left - 6, y + bar_h * 0.7, short, "end"))
        body.append(f'<rect x="{left}" y="{y}" width="{_num(w)}" height="{bar_h}" fill="{_BAR}">'
                    f"<title>{_e(name)}: F1 {value:.2f} (n={n})</title></rect>")
        body.append(_text(left + w + 4, y + bar_h * 0.7, f"{value:.1f} (n={n})"))
    return _svg(width, height, label, body)


def svg_reliability(bins: Sequence[CalibrationBin], label: str = "reliability diagram") -> str:
    """Accuracy per confidence bin against the diagonal of perfect calibration; counts above the bars."""
    if not any(b.n for b in bins):
        return _no_data(label)
    left, top, size = 52, 22, 300
    width, height = left + size + 16, top + size + 40

    def px(c: float) -> float:
        return left + size * c

    def py(a: float) -> float:
        return top + size * (1 - a)

    body = []
    for t in (0.0, 0.25, 0.5, 0.75, 1.0):
        body.append(f'<line x1="{left}" y1="{_num(py(t))}" x2="{left + size}" y2="{_num(py(t))}" stroke="{_GRID}"/>')
        body.append(_text(left - 6, py(t) + 4, f"{t:.2f}", "end"))
        body.append(_text(px(t), top + size + 16, f"{t:.2f}", "middle"))
    for b in bins:
        if not b.n:
            continue
        x, w = px(b.lo) + 1, size * (b.hi - b.lo) - 2
        body.append(f'<rect x="{_num(x)}" y="{_num(py(b.accuracy))}" width="{_num(w)}" '
                    f'height="{_num(size * b.accuracy)}" fill="{_BAR}" fill-opacity="0.85">'
                    f"<title>confidence {b.lo:.1f}–{b.hi:.1f}: n={b.n}, mean confidence {b.confidence:.3f}, "
                    f"accuracy {b.accuracy:.3f}</title></rect>")
        body.append(_text(x + w / 2, py(b.accuracy) - 3, str(b.n), "middle"))
    body.append(f'<line x1="{px(0)}" y1="{py(0)}" x2="{px(1)}" y2="{py(1)}" stroke="{_ACCENT}" '
                f'stroke-dasharray="5 4"/>')
    body.append(f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="#57606a"/>')
    body.append(_text(left + size / 2, height - 6, "confidence", "middle"))
    body.append(_text(12, top + size / 2, "accuracy", "middle", f' transform="rotate(-90 12 {_num(top + size / 2)})"'))
    return _svg(width, height, label, body)


def svg_histogram(bins: Sequence[tuple[float, float, int]], markers: dict[str, float],
                  label: str = "latency histogram", unit: str = "ms") -> str:
    """Bars of ``(lo, hi, count)`` with dashed vertical lines at the named ``markers`` (e.g. p50, p95)."""
    if not bins:
        return _no_data(label)
    left, top, plot_w, plot_h = 44, 14 + 13 * len(markers), 440, 200
    width, height = left + plot_w + 32, top + plot_h + 40
    lo, hi = bins[0][0], bins[-1][1]
    span = hi - lo
    step = max(1, math.ceil(max(c for _, _, c in bins) / 4))  # whole-number count ticks
    y_max = 4 * step

    def px(v: float) -> float:
        return left + plot_w * (v - lo) / span if span else left + plot_w / 2

    body = []
    for i in range(5):
        y = top + plot_h * (1 - i / 4)
        body.append(f'<line x1="{left}" y1="{_num(y)}" x2="{left + plot_w}" y2="{_num(y)}" stroke="{_GRID}"/>')
        body.append(_text(left - 6, y + 4, str(i * step), "end"))
        if span or i == 2:
            body.append(_text(left + plot_w * i / 4, top + plot_h + 16, _num(lo + span * i / 4), "middle"))
    for b_lo, b_hi, count in bins:
        x, w = (px(b_lo), max(px(b_hi) - px(b_lo) - 1, 1)) if span else (left + plot_w / 2 - 20, 40)
        h = plot_h * count / y_max
        body.append(f'<rect x="{_num(x)}" y="{_num(top + plot_h - h)}" width="{_num(w)}" height="{_num(h)}" '
                    f'fill="{_BAR}"><title>{_num(b_lo)}–{_num(b_hi)} {_e(unit)}: {count}</title></rect>')
    for i, (name, value) in enumerate(markers.items()):
        x = px(min(max(value, lo), hi))
        body.append(f'<line x1="{_num(x)}" y1="{top - 13 * (len(markers) - i) + 4}" x2="{_num(x)}" '
                    f'y2="{top + plot_h}" stroke="{_ACCENT}" stroke-dasharray="4 3"/>')
        body.append(_text(x + 3, top - 13 * (len(markers) - i) + 12, f"{name} {_num(value)} {unit}"))
    body.append(_text(left + plot_w / 2, height - 6, unit, "middle"))
    return _svg(width, height, label, body)


# ---------------------------------------------------------------- HTML


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def _score(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def _none(text: str) -> str:
    return f'<span class="none">{_e(text)}</span>'


def _headline(summary: dict) -> str:
    subsets = [("All", summary.get("overall")), ("HasAns", summary.get("has_ans")), ("NoAns", summary.get("no_ans"))]
    rows = []
    for name, s in subsets:
        if s is None:
            continue
        rows.append(
            f"<tr><th>{name}</th><td class=num>{s.get('n', 0)}</td>"
            + "".join(f"<td class=num>{_score(s.get(k))}</td>" for k in ("em", "f1", "em_squad", "f1_squad"))
            + f"<td class=num>{_pct(s.get('abstained'))}</td></tr>"
        )
    if not rows:
        return ""
    return ("<table><tr><th></th><th>n</th><th>EM</th><th>F1</th><th>EM (SQuAD)</th><th>F1 (SQuAD)</th>"
            "<th>abstained</th></tr>" + "".join(rows) + "</table>"
            '<p class=note>EM/F1 use the Vietnamese normaliser (NFC, unified tone marks, number separators kept: '
            '"1,5" ≠ "15"); the SQuAD columns use the official SQuAD v1.1 normaliser. NoAns: the documents do not '
            "say, and only an abstention scores.</p>")


def _other_numbers(summary: dict) -> str:
    rows: list[tuple[str, str]] = []
    if "answer_in_citation" in summary:
        rows.append(("answer in a citation", _pct(summary["answer_in_citation"])))
    retrieval = summary.get("retrieval") or {}
    for k in ("recall@1", "recall@5", "recall@10"):
        if k in retrieval:
            rows.append((f"retrieval {k} (n={retrieval.get('n', '?')})", _pct(retrieval[k])))
    if "mrr@10" in retrieval:
        rows.append(("retrieval MRR@10", f"{retrieval['mrr@10']:.3f}"))
    latency = summary.get("latency_ms") or {}
    for k in ("p50", "p95"):
        if k in latency:
            rows.append((f"latency {k}", f"{latency[k]:.0f} ms"))
    if not rows:
        return ""
    return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td class=num>{v}</td></tr>" for k, v in rows) + "</table>"


def _first_quote(r: ItemResult, collection: str | None, link_base: str | None) -> str:
    """The first citation's quote, linked to viqa's page on the cited span when a page URL is given."""
    cited = next((c for c in r.citations if c.get("quote")), None)
    if cited is None:
        return _none("—")
    quote = cited["quote"]
    text = _e(quote if len(quote) <= QUOTE_CHARS else quote[: QUOTE_CHARS - 1] + "…")
    if link_base is None or collection is None:
        return text
    url = citation_url(link_base, collection, cited["doc_id"], cited["char_start"], cited["char_end"])
    return f'<a href="{_e(url)}">{text}</a>'


def _misses_table(rows: Sequence[ItemResult], collection: str | None = None, link_base: str | None = None) -> str:
    if not rows:
        return "<p class=note>No misses: every question scored F1 = 1.</p>"
    head = ("<tr><th>#</th><th>id</th><th>kind</th><th>question</th><th>gold</th><th>prediction</th>"
            "<th>F1</th><th>confidence</th><th>first citation</th></tr>")
    body = []
    for i, r in enumerate(rows, start=1):
        gold = " | ".join(_e(g) for g in r.golds) if r.golds else _none("(no answer in the documents)")
        pred = _e(r.prediction) if r.prediction is not None else _none("(abstained)")
        body.append(f"<tr><td class=num>{i}</td><td>{_e(r.qid)}</td><td>{_e(r.kind or '-')}</td>"
                    f"<td>{_e(r.question)}</td><td>{gold}</td><td>{pred}</td><td class=num>{r.f1:.2f}</td>"
                    f"<td class=num>{r.confidence:.2f}</td><td>{_first_quote(r, collection, link_base)}</td></tr>")
    return '<table class="misses">' + head + "".join(body) + "</table>"


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"


def render_html(summary: dict, results: Sequence[ItemResult], title: str, link_base: str | None = None) -> str:
    """The report page as one string: every piece of user text escaped, nothing loaded from elsewhere; with
    ``link_base`` (a viqa server's root), the misses' citations link to its page on the cited span."""
    answers = summary.get("mode") != "retrieval"
    meta = [f"{summary.get('questions', len(results))} questions"]
    for key in ("mode", "gold", "collection"):
        if summary.get(key):
            meta.append(f"{key}: {_e(summary[key])}")
    parts = [
        "<!DOCTYPE html>", '<html lang="vi"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1><p class=meta>{' · '.join(meta)}</p>",
        "<h2>Headline</h2>", _headline(summary), _other_numbers(summary),
    ]
    latencies = [r.latency_ms for r in results]
    latency = summary.get("latency_ms") or {}
    latency_fig = _figure(svg_histogram(histogram(latencies), {k: latency[k] for k in ("p50", "p95") if k in latency}),
                          "Latency per question (ms); dashed lines at p50 and p95.")
    if answers:
        bins = reliability_bins(results)
        parts += [
            "<h2>Charts</h2><div class=charts>",
            _figure(svg_bars(f1_by_kind(summary, results)), "F1 (%) by question kind."),
            _figure(svg_reliability(bins),
                    "Reliability: accuracy per confidence bin (an answer is right when it is an exact match, an "
                    "abstention when the documents do not say); the dashed diagonal is perfect calibration. "
                    f"ECE {expected_calibration_error(bins):.3f}."),
            latency_fig, "</div>",
            f"<h2>Worst misses (lowest F1, up to {WORST_MISSES})</h2>",
            _misses_table(worst_misses(results), summary.get("collection"), link_base),
        ]
    else:
        parts += ["<h2>Charts</h2><div class=charts>", latency_fig, "</div>"]
    parts.append("</body></html>\n")
    return "\n".join(p for p in parts if p)


def write_html_report(path: Path, summary: dict, results: list[ItemResult], title: str,
                      link_base: str | None = None) -> None:
    """Write the self-contained HTML report of a run to ``path`` (atomically)."""
    write_text_atomic(path, render_html(summary, results, title, link_base))


def write_run(
    out_dir: Path, summary: dict, results: list[ItemResult], title: str, link_base: str | None = None
) -> None:
    """Write ``summary.json`` and ``report.html`` into ``out_dir``, each atomically (results.jsonl is the runner's)."""
    write_text_atomic(out_dir / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    write_html_report(out_dir / "report.html", summary, results, title, link_base)
