"""Charts drawn by the app itself: series turned into the geometry of an inline SVG, which
templates/webhooks/_chart.html draws (no script, no CDN).

A chart's x positions are percentages of its width and its y positions pixels of its fixed height, so it
stretches to any width with its text at a readable size. Each one names itself (`<title>`, and a `<desc>`
with its gist in words) and carries its numbers as a table, for screen readers and for exact values.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils import timezone

from webhooks.dashboard.activity import Bucket, EndpointActivity, Outcome, TypeVolume, Window

PLOT_TOP = 16  # px above the highest gridline: its label
PLOT_HEIGHT = 120
AXIS_HEIGHT = 20  # px below the plot: the time labels
ROW_HEIGHT = 30  # a row of a horizontal bar chart: its label above its bar
MAX_ROWS = 12  # rows of a horizontal bar chart; the rest are summed as one


@dataclass(frozen=True)
class Series:
    key: str  # its CSS class is series-<key>
    label: str
    description: str = ""


@dataclass(frozen=True)
class Mark:
    """A bar (x and width in percent, y and height in px) or a point of a line (x, y), with the value
    it shows, the bucket it belongs to (as data: an ISO time, an event type) and its tooltip."""

    series: str
    value: float
    bucket: str
    label: str
    x: float
    y: float
    width: float = 0
    height: float = 0


@dataclass(frozen=True)
class Segment:
    series: str
    x1: float  # percent
    y1: float
    x2: float  # percent
    y2: float


@dataclass(frozen=True)
class Text:
    x: float  # percent
    y: float
    text: str
    anchor: str = "middle"


@dataclass(frozen=True)
class Column:
    """One bucket of a chart over time: when it starts (as data), its label under the axis (or none)
    and in tooltips and the table."""

    key: str
    tick: str
    label: str


@dataclass
class Chart:
    slug: str  # unique on its page: the ids of its title and description
    title: str
    summary: str
    kind: str  # "bars", "lines" or "hbars": the SVG's CSS class
    series: Sequence[Series]
    height: int = PLOT_TOP + PLOT_HEIGHT + AXIS_HEIGHT
    columns: list[str] = field(default_factory=list)  # the table's header
    rows: list[tuple[str, list[str]]] = field(default_factory=list)
    bars: list[Mark] = field(default_factory=list)
    points: list[Mark] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    gridlines: list[float] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    empty: bool = False


def _r(value: float) -> float:
    return round(value, 3)


def nice_scale(maximum: float, ticks: int = 4) -> tuple[float, float]:
    """(top, step): a round step (1, 2 or 5 times a power of ten, at least 1) whose multiples, at most
    `ticks` of them, reach `maximum`."""
    if maximum <= 0:
        return 1.0, 1.0
    magnitude = 10 ** math.floor(math.log10(maximum / ticks))
    step = max(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= maximum / ticks), 1.0)
    return step * math.ceil(maximum / step), step


def _y(value: float, top: float) -> float:
    return _r(PLOT_TOP + PLOT_HEIGHT * (1 - value / top))


def _center(index: int, count: int) -> float:
    return _r((index + 0.5) * 100 / count)


def _over_time(
    chart: Chart, columns: Sequence[Column], cells: list[list[str]], scale: tuple[float, float], unit: str
) -> None:
    """Give `chart` its table (a row per column), its scale's gridlines and its labels."""
    top, step = scale
    levels = [step * n for n in range(round(top / step) + 1)]
    chart.columns = ["When", *(s.label for s in chart.series)]
    chart.rows = [(column.label, cells[n]) for n, column in enumerate(columns)]
    chart.gridlines = [_y(level, top) for level in levels]
    chart.texts = [
        *(Text(0, _y(level, top) - 3, f"{level:,.0f}{unit}", anchor="start") for level in levels),
        *(
            _tick(n, len(columns), column.tick, chart.height - 5)
            for n, column in enumerate(columns)
            if column.tick
        ),
    ]


def _tick(index: int, count: int, text: str, y: float) -> Text:
    # Under its column; the last one ends at the right edge rather than past it.
    if index == count - 1:
        return Text(100, y, text, anchor="end")
    return Text(_center(index, count), y, text)


def _empty(chart: Chart, note: str) -> Chart:
    chart.empty = True
    chart.texts.append(Text(50, PLOT_TOP + PLOT_HEIGHT / 2, note))
    return chart


def stacked_bars(
    chart: Chart, columns: Sequence[Column], values: dict[str, list[int]], empty_note: str
) -> Chart:
    """A bar per column, its series stacked in the chart's order (the first at the bottom)."""
    totals = [sum(values[s.key][n] for s in chart.series) for n in range(len(columns))]
    scale = nice_scale(max(totals))
    top, slot = scale[0], 100 / len(columns)
    for n, column in enumerate(columns):
        base = 0
        for one in chart.series:
            if value := values[one.key][n]:
                y = _y(base + value, top)
                label = f"{column.label}: {value:,} {one.label.lower()}"
                # A bar of 70 % of its slot; a small count is still seen (1 px).
                height = max(_y(base, top) - y, 1.0)
                chart.bars.append(
                    Mark(
                        one.key,
                        value,
                        column.key,
                        label,
                        _r((n + 0.15) * slot),
                        y,
                        _r(slot * 0.7),
                        _r(height),
                    )
                )
                base += value
    cells = [[f"{values[s.key][n]:,}" for s in chart.series] for n in range(len(columns))]
    _over_time(chart, columns, cells, scale, "")
    return chart if any(totals) else _empty(chart, empty_note)


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def lines(
    chart: Chart, columns: Sequence[Column], values: dict[str, list[float | None]], empty_note: str
) -> Chart:
    """A line (in ms) per series through the columns that have a value, broken where one has none."""
    known = [v for s in chart.series for v in values[s.key] if v is not None]
    scale = nice_scale(max(known, default=0))
    top = scale[0]
    for one in chart.series:
        points = values[one.key]
        for n, value in enumerate(points):
            if value is None:
                continue
            x, label = _center(n, len(columns)), f"{columns[n].label}: {one.label} {_ms(value)}"
            chart.points.append(Mark(one.key, round(value, 1), columns[n].key, label, x, _y(value, top)))
            following = points[n + 1] if n + 1 < len(points) else None
            if following is not None:
                x2 = _center(n + 1, len(columns))
                chart.segments.append(Segment(one.key, x, _y(value, top), x2, _y(following, top)))
    cells = [[_ms(values[s.key][n]) for s in chart.series] for n in range(len(columns))]
    _over_time(chart, columns, cells, scale, " ms")
    return chart if known else _empty(chart, empty_note)


def horizontal_bars(chart: Chart, items: Sequence[tuple[str, int]], empty_note: str) -> Chart:
    """A row per item, its label and value above a bar as long as its share of the largest."""
    [series] = chart.series
    largest = max((value for _, value in items), default=0)
    chart.height = max(len(items), 2) * ROW_HEIGHT
    chart.columns = ["Event type", series.label.capitalize()]
    chart.rows = [(label, [f"{value:,}"]) for label, value in items]
    for n, (label, value) in enumerate(items):
        y = n * ROW_HEIGHT
        chart.texts += [Text(0, y + 12, label, anchor="start"), Text(100, y + 12, f"{value:,}", anchor="end")]
        tooltip = f"{label}: {value:,} {series.label}"
        chart.bars.append(Mark(series.key, value, label, tooltip, 0, y + 16, _r(100 * value / largest), 10))
    if not items:
        chart.empty = True
        chart.texts.append(Text(50, ROW_HEIGHT, empty_note))
    return chart


# What an endpoint's charts show.
OUTCOMES = [
    Series(Outcome.SUCCEEDED, "Succeeded", "delivered at the first attempt"),
    Series(Outcome.RETRIED, "Retried", "needed more than one attempt, or awaits its next one"),
    Series(Outcome.FAILED, "Failed", "every attempt failed"),
]
PERCENTILES = [
    Series("p50", "p50", "half of the attempts took less"),
    Series("p95", "p95", "95 % of the attempts took less"),
]


@dataclass(frozen=True)
class WindowCharts:
    name: str
    total: Bucket
    deliveries: Chart
    latency: Chart


def _columns(window: Window) -> list[Column]:
    columns = []
    for n, bucket in enumerate(window.buckets):
        start, end = timezone.localtime(bucket.start), timezone.localtime(bucket.end)
        if window.hourly:
            # Every sixth hour is labelled under the axis, counted back from the current one.
            tick = f"{start:%H:%M}" if (len(window.buckets) - 1 - n) % 6 == 0 else ""
            label = f"{start:%a %H:%M} to {end:%H:%M}"
        else:
            tick, label = f"{start:%a} {start.day}", f"{start:%a %b} {start.day}"
        columns.append(Column(key=bucket.start.isoformat(), tick=tick, label=label))
    return columns


def _window_charts(window: Window, slug: str) -> WindowCharts:
    columns, total, name = _columns(window), window.total, window.name.lower()
    counts = ", ".join(f"{total.counts[Outcome(s.key)]:,} {s.label.lower()}" for s in OUTCOMES)
    deliveries = Chart(
        f"{slug}-deliveries",
        f"Deliveries, {name}",
        f"{total.deliveries:,} deliveries: {counts}.",
        "bars",
        OUTCOMES,
    )
    values = {s.key: [b.counts[Outcome(s.key)] for b in window.buckets] for s in OUTCOMES}
    latency_summary = (
        f"{total.attempts:,} attempts: p50 {_ms(total.p50)}, p95 {_ms(total.p95)}."
        if total.attempts
        else "No attempts."
    )
    latency = Chart(f"{slug}-latency", f"Attempt latency, {name}", latency_summary, "lines", PERCENTILES)
    percentiles = {"p50": [b.p50 for b in window.buckets], "p95": [b.p95 for b in window.buckets]}
    return WindowCharts(
        name=window.name,
        total=total,
        deliveries=stacked_bars(deliveries, columns, values, "No deliveries"),
        latency=lines(latency, columns, percentiles, "No attempts"),
    )


def endpoint_charts(activity: EndpointActivity) -> list[WindowCharts]:
    return [_window_charts(activity.day, "day"), _window_charts(activity.week, "week")]


def _busiest(items: list[tuple[str, int]]) -> list[tuple[str, int]]:
    items = sorted((item for item in items if item[1]), key=lambda item: (-item[1], item[0]))
    if len(items) <= MAX_ROWS:
        return items
    rest = items[MAX_ROWS - 1 :]
    return [*items[: MAX_ROWS - 1], (f"{len(rest)} other types", sum(value for _, value in rest))]


def event_volume_charts(volumes: Sequence[TypeVolume]) -> list[Chart]:
    """The organization's events by type: the last 24 hours', and the last 7 days'."""
    charts = []
    for slug, name, items in (
        ("events-day", "last 24 hours", [(v.type, v.day) for v in volumes]),
        ("events-week", "last 7 days", [(v.type, v.week) for v in volumes]),
    ):
        shown = _busiest(items)
        total, types = sum(value for _, value in items), sum(1 for _, value in items if value)
        summary = f"{total:,} events of {types} type{'s' if types != 1 else ''}." + (
            f" The most: {shown[0][0]} ({shown[0][1]:,})." if shown else ""
        )
        chart = Chart(slug, f"Events by type, {name}", summary, "hbars", [Series("events", "events")])
        charts.append(horizontal_bars(chart, shown, f"No events in the {name}"))
    return charts
