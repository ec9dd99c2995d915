"""Server-rendered SVG charts for the statistics page (pure: data in, markup out).

Why SVG from the server rather than a chart library in the browser: the page needs no
JavaScript to show a chart (works with scripts off, prints, and a test can read the
bars' numbers from the markup), nothing has to be vendored or kept up to date, and the
same function can be embedded in an e-mail or an export. Every text is escaped; the
caller passes localized labels and the chart's accessible title.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

__all__ = ["bar_chart", "stacked_bar_chart"]

PALETTE = ("#2f6db5", "#e08a2e", "#3a9b5c", "#c2453d", "#8a5fb8", "#6b7a8f", "#c9a227")


def _frame(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}"'
        f' width="100%" role="img" aria-label="{escape(title)}" class="chart">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def bar_chart(
    bars: Sequence[tuple[str, float]], *, title: str, width: int = 640, height: int = 220
) -> str:
    """One bar per ``(label, value)`` (e.g. tickets per day), scaled to the largest."""
    return stacked_bar_chart(
        [(label, {"": value}) for label, value in bars], title=title, width=width, height=height
    )


def stacked_bar_chart(
    bars: Sequence[tuple[str, Mapping[str, float]]],
    *,
    title: str,
    names: Mapping[str, str] | None = None,
    width: int = 640,
    height: int = 220,
) -> str:
    """One bar per label, stacked by series (e.g. tickets per day by category);
    ``names`` gives each series' shown name (a legend is drawn when there are several)."""
    series = sorted({key for _, parts in bars for key in parts})
    colour = {key: PALETTE[i % len(PALETTE)] for i, key in enumerate(series)}
    top = max((sum(parts.values()) for _, parts in bars), default=0) or 1
    # The legend wraps: as many names per line as fit the width (12 categories do not).
    per_line = max(1, (width - 40) // 110)
    legend = 16 * -(-len(series) // per_line) + 2 if len(series) > 1 else 0
    plot_h = height - 30 - legend
    step = (width - 40) / max(len(bars), 1)
    body = [
        f'<text x="4" y="{12 + legend}" font-size="10" fill="#555">{_number(top)}</text>',
        f'<line x1="36" y1="{height - 20}" x2="{width}" y2="{height - 20}" stroke="#999"/>',
    ]
    label_every = max(1, len(bars) // 12)
    for i, (label, parts) in enumerate(bars):
        x = 38 + i * step
        y = float(height - 20)
        for key in series:
            value = parts.get(key, 0)
            if value <= 0:
                continue
            h = value / top * plot_h
            y -= h
            tip = f"{label} {names.get(key, key) if names else key} {_number(value)}".strip()
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(step * 0.8, 1):.1f}"'
                f' height="{h:.1f}" fill="{colour[key]}" data-value="{_number(value)}">'
                f"<title>{escape(tip)}</title></rect>"
            )
        if i % label_every == 0:
            body.append(
                f'<text x="{x:.1f}" y="{height - 6}" font-size="10" fill="#555">'
                f"{escape(label)}</text>"
            )
    if legend:
        for i, key in enumerate(series):
            x, y = 40 + i % per_line * 110, 2 + i // per_line * 16
            body.append(
                f'<rect x="{x}" y="{y}" width="10" height="10" fill="{colour[key]}"/>'
                f'<text x="{x + 14}" y="{y + 9}" font-size="10">'
                f"{escape(names.get(key, key) if names else key)}</text>"
            )
    return _frame(width, height, title, body)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
