"""Self-contained HTML reports built only from a run directory's files (so they can be rebuilt)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from dllab.errors import DllabError
from dllab.fileio import atomic_write, read_json

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.meta{color:#666;font-size:.9em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0} figure img{max-width:100%;border:1px solid #eee}
figcaption{color:#555;font-size:.9em}
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.85em}
.pass{color:#1a7f37;font-weight:600} .bad{color:#cf222e;font-weight:600}
"""


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return f"<b>{value}</b>"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)):
        text = json.dumps(value)
        if len(text) <= 300:
            return html.escape(text)
        kind = "entries" if isinstance(value, dict) else "items"
        return f"<i>{len(value)} {kind}: see summary.json and the results below</i>"
    return html.escape(str(value))


def duration(seconds: float | None) -> str:
    """A wall time as a person reads it: '42.0 s', '5 min 24 s', '2 h 16 min'."""
    if seconds is None:
        return "?"
    if float(seconds) < 59.95:
        return f"{float(seconds):.1f} s"
    s = round(float(seconds))
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


def _flatten(d: dict, prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and all(not isinstance(v, (dict, list)) for v in value.values()) \
                and len(value) <= 12:
            rows.extend(_flatten(value, name + "."))
        else:
            rows.append((name, value))
    return rows


def _kv_table(d: dict) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td class='num'>{_fmt(v)}</td></tr>" for k, v in _flatten(d))
    return f"<table>{body}</table>"


def _rows_table(rows: list[dict]) -> str:
    if not rows:
        return "<p>(empty)</p>"
    cols: list[str] = []
    for row in rows:
        cols.extend(c for c in row if c not in cols)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td class='num'>{_fmt(r.get(c, ''))}</td>" for c in cols) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _image(run_dir: Path, rel: str) -> str:
    path = run_dir / rel
    if not path.is_file():
        return f"<p class='bad'>missing figure {html.escape(rel)}</p>"
    data = base64.b64encode(path.read_bytes()).decode()
    return f"<img alt='{html.escape(rel)}' src='data:image/png;base64,{data}'>"


def _sections_html(run_dir: Path, sections: list[dict]) -> str:
    parts = []
    for s in sections:
        if s["kind"] == "figure":
            cap = f"<figcaption>{html.escape(s.get('caption', ''))}</figcaption>" if s.get("caption") else ""
            parts.append(f"<figure>{_image(run_dir, s['file'])}{cap}</figure>")
        elif s["kind"] == "text":
            paras = "".join(f"<p>{html.escape(p.strip())}</p>" for p in s["body"].split("\n\n") if p.strip())
            parts.append(f"<h3>{html.escape(s['title'])}</h3>{paras}")
        elif s["kind"] == "table":
            cap = f"<p class='meta'>{html.escape(s['caption'])}</p>" if s.get("caption") else ""
            parts.append(f"<h3>{html.escape(s['title'])}</h3>{_rows_table(s['rows'])}{cap}")
    return "\n".join(parts)


def render_run(run_dir: str | Path) -> str:
    """The HTML body section of one run (title, summary, report sections, config, environment)."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise DllabError(f"{run_dir} is not a run directory (no config.yaml)")
    env = read_json(run_dir / "env.json") if (run_dir / "env.json").is_file() else {}
    summary = read_json(run_dir / "summary.json") if (run_dir / "summary.json").is_file() else {}
    sections = read_json(run_dir / "sections.json") if (run_dir / "sections.json").is_file() else []
    experiment = env.get("experiment", run_dir.parent.name)
    git = env.get("git") or {}
    commit = (git.get("commit") or "unknown")[:10] + (" (dirty)" if git.get("dirty") else "")
    started = str(env.get("started", ""))[:19].replace("T", " ")  # to the second
    meta = (f"run <code>{html.escape(run_dir.name)}</code> &middot; status {html.escape(str(env.get('status')))}"
            f" &middot; wall time {duration(env.get('wall_time_s'))} &middot; seed {env.get('seed')}"
            f" &middot; commit {html.escape(commit)} &middot; started {html.escape(started)}")
    return f"""<section>
<h1>{html.escape(experiment)}</h1>
<p class="meta">{meta}</p>
<h2>Summary</h2>{_kv_table(summary) if summary else "<p class='bad'>no summary: the run did not finish</p>"}
<h2>Results</h2>{_sections_html(run_dir, sections)}
<h2>Config</h2><pre>{html.escape((run_dir / "config.yaml").read_text())}</pre>
<h2>Environment</h2>{_kv_table({k: v for k, v in env.items() if k not in ("argv",)})}
</section>"""


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{body}</body></html>\n")


def build_report(run_dir: str | Path) -> Path:
    """(Re)write ``run_dir/report.html`` from the run's files and return its path."""
    run_dir = Path(run_dir)
    body = render_run(run_dir)
    out = run_dir / "report.html"
    atomic_write(out, _page(f"dllab: {run_dir.parent.name}/{run_dir.name}", body))
    return out


def build_combined(run_dirs: list[str | Path], out: str | Path) -> Path:
    """One page holding the reports of several runs, one after the other."""
    bodies = "\n<hr>\n".join(render_run(d) for d in run_dirs)
    out = Path(out)
    atomic_write(out, _page("dllab: combined report", bodies))
    return out
