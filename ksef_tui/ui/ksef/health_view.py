"""The dashboard's picture, drawn with Textual's own widgets (Static rendering Content, sized to the
terminal): one bar per environment of the share of users ready / on a token / not tested / failing /
not configured, and a 24-month timeline of token and certificate ends. Glyphs differ as well as
colours, so the picture reads without colour too; the numbers are one key away (the counts table)."""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.widgets import Static

from ksef_tui.i18n import _
from ksef_tui.services.ksef.health import EnvHealth, Health, MonthEnds
from ksef_tui.services.ksef.token_policy import month_name

#: (attribute, glyph, style) of each part of an environment's bar, in order
PARTS = (
    ("ready", "█", "$success"),
    ("token", "▓", "$warning"),
    ("untested", "▚", "$accent"),
    ("failing", "▒", "$error"),
    ("not_configured", "░", "$text-muted"),
)
_EIGHTHS = " ▁▂▃▄▅▆▇█"
TOKEN_STYLE, CERT_STYLE = "$warning", "$primary"


def part_label(attribute: str) -> str:
    return {"ready": _("ready"), "token": _("on a token"), "untested": _("not tested"), "failing": _("failing"),
            "not_configured": _("not configured")}[attribute]


def split(width: int, counts: list[int]) -> list[int]:
    """``width`` cells shared by ``counts`` (largest remainder); a non-zero count gets at least one cell."""
    total = sum(counts)
    if total == 0 or width <= 0:
        return [0] * len(counts)
    exact = [width * c / total for c in counts]
    cells = [int(x) for x in exact]
    for i, c in enumerate(counts):
        if c and not cells[i]:
            cells[i] = 1
    while sum(cells) > width:
        i = max(range(len(cells)), key=lambda j: (cells[j], -exact[j]))
        cells[i] -= 1
    order = sorted(range(len(cells)), key=lambda j: exact[j] - int(exact[j]), reverse=True)
    k = 0
    while sum(cells) < width:
        cells[order[k % len(order)]] += 1
        k += 1
    return cells


def bar_tail(env: EnvHealth, width: int) -> str:
    """The numbers after a bar: all of them when there is room, else the share ready."""
    if width >= 100:
        return " " + _("{ready} ready · {token} token · {failing} failing · {none} not configured").format(
            ready=env.ready, token=env.token, failing=env.failing, none=env.not_configured)
    return " " + _("{pct}% ready").format(pct=round(100 * env.share(env.ready)))


def bar_line(env: EnvHealth, width: int, tail_width: int = 0) -> Content:
    """One environment: its name, the bar, and its numbers in a few words (bars of one width)."""
    label = f"{env.environment.value:<11}"
    tail = bar_tail(env, width)
    bar_width = max(10, width - len(label) - max(tail_width, len(tail)) - 1)
    if env.total == 0:
        return Content.assemble(label, ("·" * bar_width, "$text-muted"), (" " + _("no users"), "$text-muted"))
    cells = split(bar_width, [getattr(env, attr) for attr, _g, _s in PARTS])
    pieces: list[Any] = [label]
    for (_attr, glyph, style), n in zip(PARTS, cells, strict=True):
        if n:
            pieces.append((glyph * n, style))
    pieces.append(tail)
    return Content.assemble(*pieces)


def legend() -> Content:
    pieces: list[Any] = [" " * 11]
    for attr, glyph, style in PARTS:
        pieces += [(glyph, style), " " + part_label(attr) + "  "]
    return Content.assemble(*pieces)


class HealthBars(Static):
    """Per environment, the share of users in each state, with a legend and the offline-ready line."""

    DEFAULT_CSS = """
    HealthBars { height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.health: Health | None = None

    def show(self, health: Health) -> None:
        self.health = health
        self.refresh(layout=True)

    def render(self) -> Content:
        if self.health is None:
            return Content("")
        width = max(40, self.size.width or 80)
        tails = max(len(bar_tail(e, width)) for e in self.health.environments) if self.health.environments else 0
        lines = [bar_line(e, width, tails) for e in self.health.environments]
        lines.append(legend())
        ready = " · ".join(_("{env} {n} of {total}").format(env=e.environment.value, n=e.offline_ready,
                                                           total=e.companies) for e in self.health.environments)
        lines.append(Content.assemble((_("Offline-ready companies") + ": ", "bold"), ready))
        return Content("\n").join(lines)


def _level(value: int, top: int, height: int) -> int:
    """``value`` in eighths of a ``height``-row column; a non-zero value shows at least one eighth."""
    if value <= 0 or top <= 0:
        return 0
    return max(1, round(8 * height * value / top))


def _cell(level: int, row: int, height: int) -> str:
    filled = level - (height - 1 - row) * 8
    return "█" if filled >= 8 else _EIGHTHS[max(0, filled)]


def timeline_lines(months: tuple[MonthEnds, ...], width: int, height: int = 4) -> list[Content]:
    """``height`` rows of bars (tokens, certificates side by side per month) and two rows of axis."""
    if not months:
        return []
    gutter = 5
    col = max(2, min(4, (width - gutter) // len(months)))
    top = max(max(m.tokens for m in months), max(m.certificates for m in months))
    rows: list[Content] = []
    for row in range(height):
        label = f"{top:>{gutter - 1}} " if row == 0 and top else " " * gutter
        pieces: list[Any] = [(label, "$text-muted")]
        for m in months:
            pieces.append((_cell(_level(m.tokens, top, height), row, height), TOKEN_STYLE))
            pieces.append((_cell(_level(m.certificates, top, height), row, height), CERT_STYLE))
            pieces.append(" " * (col - 2))
        rows.append(Content.assemble(*pieces))
    names = [" "] * (gutter + col * len(months) + 6)
    years = [" "] * len(names)
    for i, m in enumerate(months):
        x = gutter + i * col
        if i % 3 == 0:
            for j, ch in enumerate(month_name(m.month.month)[:3]):
                names[x + j] = ch
        if (i == 0 and m.month.month < 12) or m.month.month == 1:  # no first year right before a January
            for j, ch in enumerate(str(m.month.year)):
                years[x + j] = ch
    rows.append(Content.styled("".join(names).rstrip(), "$text-muted"))
    rows.append(Content.styled("".join(years).rstrip(), "$text-muted"))
    return rows


class EndsTimeline(Static):
    """Token and certificate ends by month for the next 24 months."""

    DEFAULT_CSS = """
    EndsTimeline { height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.months: tuple[MonthEnds, ...] = ()

    def show(self, months: tuple[MonthEnds, ...]) -> None:
        self.months = months
        self.refresh(layout=True)

    def render(self) -> Content:
        if not self.months:
            return Content("")
        head = Content.assemble((_("Ends by month, next 24 months") + ":  ", "bold"), ("▇", TOKEN_STYLE),
                                " " + _("tokens") + "  ", ("▇", CERT_STYLE), " " + _("certificates"))
        height = 8 if self.app.size.height >= 34 else 4
        return Content("\n").join([head, *timeline_lines(self.months, max(40, self.size.width or 80), height)])
