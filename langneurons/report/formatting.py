"""How values are written on the page: numbers, table cells, labels and orderings.

A table is a dict of ``head`` labels, ``rows`` of cells and a ``kind`` (a CSS
class); a cell is a dict of text, CSS classes, an inline style and a tooltip.
Captions are not here: they live in the templates (``report/partials``).
"""

from __future__ import annotations

import math
import re

from markupsafe import Markup, escape

from ..methods import label

NOT_RUN = "not configured / not run"
ANSWER_CHARS = 280  # an answer shown in an example table is cut here
PROMPT_CHARS = 120


def _num(x) -> float | None:
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def fmt_int(x) -> str:
    v = _num(x)
    return "–" if v is None else f"{int(round(v)):,}"


def fmt_float(x, digits: int = 2) -> str:
    v = _num(x)
    if v is None:
        return "–"
    text = f"{v:.{digits}f}"
    return text[1:] if re.fullmatch(r"-0\.0*", text) else text


def fmt_ppl(x) -> str:
    """Perplexity: 2 decimals."""
    return fmt_float(x, 2)


def fmt_sim(x) -> str:
    """Cosine similarity: 3 decimals."""
    return fmt_float(x, 3)


def fmt_pct(x, signed: bool = True, digits: int = 2) -> str:
    """A fraction as a percentage (0.1234 -> '+12.34%')."""
    v = _num(x)
    if v is None:
        return "–"
    v *= 100
    if round(v, digits) == 0:
        v = 0.0
    return f"{v:+.{digits}f}%" if signed and v != 0 else f"{v:.{digits}f}%"


def fmt_level(x) -> str:
    """A coverage level as a percentage, without trailing zeros (0.95 -> '95%', 0.975 -> '97.5%')."""
    v = _num(x)
    return "–" if v is None else f"{round(v * 100, 6):g}%"


def fmt_interval(lo, hi, fmt) -> str:
    """A compact interval, ``[lo, hi]`` written with ``fmt`` (empty when there is none)."""
    if _num(lo) is None or _num(hi) is None:
        return ""
    return f" [{fmt(lo)}, {fmt(hi)}]"


def fmt_share(x, digits: int = 1) -> str:
    """A share in [0, 1] (or already in percent when above 1) as an unsigned percentage."""
    v = _num(x)
    if v is None:
        return "–"
    return fmt_pct(v if abs(v) <= 1 else v / 100, signed=False, digits=digits)


def fmt_duration(seconds) -> str:
    v = _num(seconds)
    if v is None:
        return "–"
    if v < 60:
        return f"{v:.1f} s"
    minutes, sec = divmod(int(round(v)), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def fmt_mb(mb) -> str:
    v = _num(mb)
    if v is None:
        return "–"
    return f"{v / 1024:.2f} GiB" if v >= 1024 else f"{v:.0f} MB"


def truncate(text, limit: int) -> str:
    """One line of at most ``limit`` characters, control characters (raw model output) dropped."""
    text = "" if text is None else str(text)
    text = "".join(ch if ch.isprintable() or ch.isspace() else " " for ch in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def marked_answer(text, spans, limit: int) -> Markup:
    """An answer as HTML: the ``spans`` ([start, end, label] character offsets) that are not in the expected
    language in ``<mark class="foreign">`` (the label as tooltip), line breaks as ``<br>``, runs of spaces as one,
    control characters (raw model output) dropped, cut at ``limit`` characters. Everything else is escaped."""
    text = "" if text is None else str(text)
    label_at: list[str | None] = [None] * len(text)
    for start, end, name in spans or []:
        for i in range(max(0, int(start)), min(len(text), int(end))):
            label_at[i] = str(name)
    chars: list[tuple[str, str | None]] = []  # visible characters ("\n" a line break) and their labels
    for ch, name in zip(text, label_at):
        if ch == "\n":
            ch = "\n"
        elif ch.isspace() or not ch.isprintable():
            ch = " "
        previous = chars[-1][0] if chars else "\n"
        if ch == " " and previous in " \n":
            continue
        if ch == "\n":
            while chars and chars[-1][0] == " ":
                chars.pop()
            if previous == "\n":
                continue
        chars.append((ch, name))
    while chars and chars[-1][0] in " \n":
        chars.pop()
    cut = len(chars) > limit
    chars = chars[: limit - 1] if cut else chars
    parts, k = [], 0
    while k < len(chars):
        name, j = chars[k][1], k
        while j < len(chars) and chars[j][1] == name:
            j += 1
        html = str(escape("".join(ch for ch, _ in chars[k:j]))).replace("\n", "<br>")
        parts.append(html if name is None else f'<mark class="foreign" title="{escape(name)}">{html}</mark>')
        k = j
    return Markup("".join(parts) + ("…" if cut else ""))


def cell(text, *classes, style: str | None = None, title: str | None = None) -> dict:
    """A table cell; ``text`` is escaped on the page unless it is already HTML (``Markup``, as ``marked_answer``)."""
    text = text if isinstance(text, Markup) else str(text)
    return {"text": text, "cls": " ".join(c for c in classes if c), "style": style, "title": title}


def num(text, *classes, **kw) -> dict:
    return cell(text, "num", *classes, **kw)


def method_cell(method: str) -> dict:
    """A method's label; LAPE, the paper's method, stands out."""
    return cell(label(method), "lape" if method == "lape" else "")


def table(head: list[str], rows: list[list], kind: str = "") -> dict:
    """``head`` labels and ``rows`` of cells (str or ``cell`` dicts; the first of a row is its header)."""
    return {"head": head, "rows": [[c if isinstance(c, dict) else cell(c) for c in row] for row in rows], "kind": kind}


def heat(value, vmax, rgb=(220, 38, 38), vmin: float = 0.0) -> str | None:
    """Inline background for a heat-map cell (value scaled from vmin to vmax; none at or below vmin)."""
    v = _num(value)
    if v is None or vmax is None or vmax <= vmin or v <= vmin:
        return None
    alpha = 0.08 + 0.55 * min(1.0, (v - vmin) / (vmax - vmin))
    return f"background-color: rgba({rgb[0]}, {rgb[1]}, {rgb[2]}, {alpha:.2f})"


def ordered(names, langs: list[str]) -> list[str]:
    """``names`` in the configured language order, unknown ones after."""
    names = list(names)
    return [lang for lang in langs if lang in names] + [n for n in names if n not in langs]


def language_columns(frame, langs: list[str]) -> list[str]:
    """The language columns of a table (not its totals or labels), in the configured order."""
    return ordered(
        [c for c in frame.columns if c not in ("total", "layer", "language", "deactivated", "condition")], langs
    )


def by_method(blocks: list[dict], methods: list[str]) -> list[dict]:
    """Per-model blocks pivoted to one entry per method, the models side by side (``entry`` None when missing)."""
    return [
        {
            "method": method,
            "label": label(method),
            "models": [
                {
                    "model": block["model"],
                    "entry": next((e for e in block["methods"] if e["method"] == method), None),
                    "missing": block["missing"].get(method),
                }
                for block in blocks
            ],
        }
        for method in methods
    ]
