"""Our summary of a run: per request type latency percentiles, throughput
over time and errors by kind, as JSON and as one self-contained HTML file.

The plots are inline SVG drawn here. Why not a charting library: a JS one
(what Locust's own report embeds) would have to be vendored into the
package as a large minified bundle to work offline, and a Python one
(matplotlib) is a heavy dependency for two line charts. SVG is text the
package writes itself, opens in any browser without network or script,
prints, diffs, and tests can parse it.

Everything comes from Locust's aggregated statistics (`env.stats`, which
on a master holds the sum of its workers'): percentiles from its response
time histogram (whole milliseconds, as Locust buckets them), throughput
from its per-second request and failure counts.
"""
import html
import math
import time

from locust.stats import StatsError

PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("p99.9", 0.999))
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf")


def _entry_row(entry):
    row = {"type": entry.method, "name": entry.name, "requests": entry.num_requests,
           "failures": entry.num_failures,
           "avg_ms": round(entry.avg_response_time, 3),
           "min_ms": round(entry.min_response_time or 0.0, 3),
           "max_ms": round(entry.max_response_time, 3),
           "avg_response_bytes": round(entry.avg_content_length, 1)}
    for label, fraction in PERCENTILES:
        row[f"{label}_ms"] = entry.get_response_time_percentile(fraction) if entry.num_requests else 0
    return row


def build(environment, scenario, settings):
    """The summary dict of the run `environment` just finished."""
    stats = environment.stats
    entries = sorted(stats.entries.values(), key=lambda entry: (entry.method, entry.name))
    seconds = sorted({second for entry in entries for second in entry.num_reqs_per_sec})
    start = seconds[0] if seconds else int(stats.start_time)
    end = seconds[-1] if seconds else start
    span = range(start, end + 1)
    throughput = {
        f"{entry.method} {entry.name}": {
            "requests": [entry.num_reqs_per_sec.get(second, 0) for second in span],
            "failures": [entry.num_fail_per_sec.get(second, 0) for second in span],
        }
        for entry in entries
    }
    duration = max((stats.last_request_timestamp or stats.start_time) - stats.start_time, 1e-9)
    total = stats.total
    return {
        "scenario": scenario,
        "url": environment.host,
        "settings": settings,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stats.start_time)),
        "duration_s": round(duration, 3),
        "totals": {"requests": total.num_requests, "failures": total.num_failures,
                   "requests_per_s": round(total.num_requests / duration, 1)},
        "request_types": [_entry_row(entry) for entry in entries],
        "throughput": {"start": start, "interval_s": 1, "series": throughput},
        "errors": [{"type": error.method, "name": error.name, "error": StatsError.parse_error(error.error),
                    "occurrences": error.occurrences}
                   for error in sorted(stats.errors.values(), key=lambda e: -e.occurrences)],
    }


# ---- SVG -------------------------------------------------------------------------

def _nice_ticks(low, high, count=5):
    """Round tick values covering [low, high]."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def _label(value):
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.3g}"


def line_chart(series, x_title, y_title, log_y=False, categories=None, width=760, height=300):
    """An SVG line chart of {label: [(x, y), ...]}. log_y: a log10 axis
    (values below 0.1 are drawn at 0.1); categories: names of the x
    positions 0..n-1 instead of numbers."""
    left, right, top, bottom = 64, 180, 16, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    points = [(x, y) for values in series.values() for x, y in values]
    xs = [x for x, _ in points] or [0, 1]
    ys = [y for _, y in points] or [0, 1]
    x_ticks = list(range(len(categories))) if categories else _nice_ticks(min(xs), max(xs))
    x_low, x_high = x_ticks[0], x_ticks[-1] if x_ticks[-1] > x_ticks[0] else x_ticks[0] + 1
    if log_y:
        floor = 0.1
        y_low = math.floor(math.log10(max(min(ys), floor)))
        y_high = max(math.ceil(math.log10(max(max(ys), floor))), y_low + 1)
        y_ticks = [10 ** k for k in range(y_low, y_high + 1)]
        scale_y = lambda y: (math.log10(max(y, floor)) - y_low) / (y_high - y_low)  # noqa: E731
    else:
        y_ticks = _nice_ticks(0, max(ys))
        scale_y = lambda y: y / y_ticks[-1]  # noqa: E731

    def px(x, y):
        return (left + (x - x_low) / (x_high - x_low) * plot_w, top + plot_h - scale_y(y) * plot_h)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#999"/>']
    for tick in y_ticks:
        _, y = px(x_low, tick)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#eee"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_label(tick)}</text>')
    for position, tick in enumerate(x_ticks):
        x, _ = px(tick, y_ticks[0])
        text = html.escape(categories[position]) if categories else _label(tick)
        out.append(f'<line x1="{x:.1f}" y1="{top + plot_h}" x2="{x:.1f}" y2="{top + plot_h + 4}" stroke="#999"/>'
                   f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{text}</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">{html.escape(x_title)}</text>'
               f'<text transform="translate(14 {top + plot_h / 2}) rotate(-90)" text-anchor="middle">'
               f'{html.escape(y_title)}</text>')
    for index, (label, values) in enumerate(series.items()):
        color = COLORS[index % len(COLORS)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (px(vx, vy) for vx, vy in values))
        if values:
            out.append(f'<polyline class="series" data-label="{html.escape(label)}" fill="none" '
                       f'stroke="{color}" stroke-width="1.5" points="{path}"/>')
        legend_y = top + 14 * index + 8
        out.append(f'<rect x="{left + plot_w + 12}" y="{legend_y - 8}" width="10" height="10" fill="{color}"/>'
                   f'<text x="{left + plot_w + 26}" y="{legend_y + 1}">{html.escape(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def _table(headers, rows):
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(summary):
    """The summary as one HTML page (inline CSS and SVG, nothing fetched)."""
    kinds = summary["request_types"]
    percentile_labels = [label for label, _ in PERCENTILES] + ["max"]
    latency = {f"{row['type']} {row['name']}":
               [(k, row[f"{label}_ms"]) for k, label in enumerate(percentile_labels)]
               for row in kinds if row["requests"]}
    throughput = {}
    for label, series in summary["throughput"]["series"].items():
        throughput[label] = list(enumerate(series["requests"]))
        if any(series["failures"]):
            throughput[label + " (failures)"] = list(enumerate(series["failures"]))
    totals = summary["totals"]
    settings = ", ".join(f"{key}={value}" for key, value in summary["settings"].items() if value is not None)
    latency_rows = [[row["type"], row["name"], row["requests"], row["failures"],
                     *(row[f"{label}_ms"] for label in percentile_labels), row["avg_ms"]]
                    for row in kinds]
    error_rows = [[e["type"], e["name"], e["error"], e["occurrences"]] for e in summary["errors"]]
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>pyonep-fast loadtest: {html.escape(summary['scenario'])}</title>
<style>body{{font-family:sans-serif;margin:24px;color:#222}}table{{border-collapse:collapse;margin:8px 0 24px}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:nth-child(-n+2),th{{text-align:left}}</style>
</head><body>
<h1>pyonep-fast loadtest: {html.escape(summary['scenario'])}</h1>
<p>{html.escape(str(summary['url']))} &middot; started {summary['started']} &middot; {summary['duration_s']} s
&middot; {totals['requests']} requests, {totals['failures']} failures, {totals['requests_per_s']} requests/s
<br>{html.escape(settings)}</p>
<h2>Latency percentiles (ms)</h2>
{_table(["Type", "Name", "Requests", "Failures", *percentile_labels, "avg"], latency_rows)}
{line_chart(latency, "percentile", "response time (ms, log scale)", log_y=True, categories=percentile_labels)}
<h2>Throughput over time</h2>
{line_chart(throughput, "seconds since the first request", "requests/s")}
<h2>Errors by kind</h2>
{_table(["Type", "Name", "Error", "Occurrences"], error_rows) if error_rows else "<p>None.</p>"}
</body></html>
"""
