"""Self-contained HTML reports built only from a run directory's files (so they can be rebuilt)."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Any

from dllab.courses import COURSES, cite
from dllab.errors import DamagedFileError, DllabError
from dllab.fileio import atomic_write, read_json
from dllab.rundir import LABELS_FILE, read_sections

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
table.inner{margin:0;font-size:.95em} table.inner th{background:#fafafa;font-weight:500}
nav.toc ul{margin:.2em 0} nav.toc li{margin:.1em 0}
@media print{body{max-width:none;margin:0} section.run{break-before:page} figure{break-inside:avoid}
  table{break-inside:auto} tr{break-inside:avoid} a{color:inherit}}
"""


def _is_share(key: str) -> bool:
    """Keys whose values in [0, 1] are shares, shown as percentages (accuracy, fraction, ...)."""
    key = key.lower()
    return any(w in key for w in ("acc", "fraction", "share", "kept")) and "(%)" not in key


def fmt_number(value: float, key: str = "") -> str:
    """A number as a person reads it: shares as percentages with two decimals (94.08%: a 5-seed CIFAR-10 mean is
    read to the hundredth), others to 4 significant digits, large integers with thousands separators."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return html.escape(str(value))
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if _is_share(key) and 0.0 <= value <= 1.0:
        return f"{100 * value:.2f}%"
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.3g}"


def human(key: str) -> str:
    """A key of nested results as a column or row heading: words, not an identifier (``final_val_error`` ->
    'final val error')."""
    return str(key).replace("_", " ")


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (int, float, str, bool))


def _flat(value: Any) -> bool:
    """A scalar or a short list of scalars: fits one cell of a table."""
    return _scalar(value) or (isinstance(value, list) and len(value) <= 12 and all(_scalar(v) for v in value))


def _td(value: Any, key: str, depth: int) -> str:
    """One cell: numbers right-aligned, text left-aligned."""
    num = isinstance(value, (int, float)) and not isinstance(value, bool)
    return f"<td{' class=num' if num else ''}>{_fmt(value, key, depth)}</td>"


def _records(items: list[tuple[str | None, dict]], key: str, depth: int) -> str:
    """Nested results as a table with one row per item: the keys most items share are columns, the rest of an
    item's values go in a last column ('c fitted = 2.003; ...')."""
    counts: dict[str, int] = {}
    for _, item in items:
        for k in item:
            counts[k] = counts.get(k, 0) + 1
    nested = {k for _, item in items for k, v in item.items() if not _flat(v)}
    cols = [k for k, c in counts.items() if 2 * c >= len(items) and k not in nested
            and not all(item.get(k) == name for name, item in items)]  # a copy of the row's name
    named = any(name is not None for name, _ in items)
    head = ("<th></th>" if named else "") + "".join(f"<th>{html.escape(human(c))}</th>" for c in cols)
    extra = any(k not in cols for _, item in items for k in item)
    head += "<th>other figures</th>" if extra else ""
    rows = []
    for name, item in items:
        cells = f"<th>{html.escape(str(name))}</th>" if named else ""
        cells += "".join(_td(item.get(c), f"{key}.{c}", depth + 1) for c in cols)
        if extra:
            rest = [(k, v) for k, v in item.items() if k not in cols and v != name]
            cells += "<td>" + "; ".join(f"{html.escape(human(k))} = {_fmt(v, f'{key}.{k}', depth + 1)}"
                                        for k, v in rest) + "</td>"
        rows.append(f"<tr>{cells}</tr>")
    return f"<table class='inner'><tr>{head}</tr>{''.join(rows)}</table>"


def _fmt(value: Any, key: str = "", depth: int = 0) -> str:
    """A value of a summary or table cell: numbers formatted, nested values as small tables (one row per item),
    long lists counted. Never a Python mapping's ``{'a': 1}`` text."""
    if value is None:
        return "<span class='meta'>-</span>"
    if isinstance(value, bool):
        return "<b>yes</b>" if value else "no"
    if isinstance(value, (int, float)):
        return fmt_number(value, key)
    if isinstance(value, str):
        return html.escape(value)
    if isinstance(value, list):
        if not value:
            return "<span class='meta'>-</span>"
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value) and len(value) <= 12:
            return ", ".join(fmt_number(v, key) for v in value)
        if all(_scalar(v) for v in value) and len(value) <= 24:
            return ", ".join(_fmt(v, key, depth + 1) for v in value)
        if depth < 2 and len(value) <= 60 and all(isinstance(v, dict) for v in value):
            return _records([(None, v) for v in value], key, depth)
        if len(value) <= 6 and depth < 2:
            return "; ".join(_fmt(v, key, depth + 1) for v in value)
        return f"<i>{len(value)} items (see summary.json)</i>"
    if isinstance(value, dict):
        if not value:
            return "<span class='meta'>-</span>"
        if depth >= 2 or len(value) > 60:
            return f"<i>{len(value)} entries (see summary.json)</i>"
        if len(value) > 1 and all(isinstance(v, dict) and v for v in value.values()):
            return _records(list(value.items()), key, depth)
        rows = "".join(f"<tr><th>{html.escape(human(k))}</th>{_td(v, f'{key}.{k}', depth + 1)}</tr>"
                       for k, v in value.items())
        return f"<table class='inner'>{rows}</table>"
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


def summary_table(summary: dict, labels: dict[str, str]) -> str:
    """The summary as a table whose rows are labelled in words with their units (``labels``: the experiment's
    ``SUMMARY_KEYS`` labels, stored in the run's labels.json); the key itself is the row's tooltip."""
    body = "".join(f"<tr><th title='{html.escape(str(k))}'>{html.escape(labels.get(k) or human(k))}</th>"
                   f"{_td(v, str(k), 0)}</tr>" for k, v in summary.items())
    return f"<table class='summary'>{body}</table>"


def _kv_table(d: dict) -> str:
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td class='num'>{_fmt(v, str(k))}</td></tr>"
                   for k, v in d.items())
    return f"<table>{body}</table>"


def _rows_table(rows: list[dict]) -> str:
    if not rows:
        return "<p>(empty)</p>"
    cols: list[str] = []
    for row in rows:
        cols.extend(c for c in row if c not in cols)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(_td(r.get(c, ""), str(c), 0) for c in cols) + "</tr>" for r in rows)
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


def render_run(run_dir: str | Path, *, anchor: str | None = None, link: str | None = None,
               heading: str | None = None, env: dict | None = None) -> str:
    """The HTML section of one run (title, summary, report sections, config, environment).

    ``anchor`` gives the section an id, ``link`` adds a link to the run directory, ``heading`` replaces the title
    (the combined report uses these); ``env`` replaces env.json (the runner passes the final one, which it writes
    only once the report exists)."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise DllabError(f"{run_dir} is not a run directory (no config.yaml)")
    env = read_json(run_dir / "env.json", {}, kind=dict) if env is None else env
    summary = read_json(run_dir / "summary.json", {}, kind=dict)
    sections = read_sections(run_dir)
    labels = read_json(run_dir / LABELS_FILE, {}, kind=dict)
    try:
        config_text = (run_dir / "config.yaml").read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DamagedFileError(f"{run_dir / 'config.yaml'} is damaged: not UTF-8 text; restore it from a copy "
                               "(without it the run cannot be resumed either)") from None
    experiment = env.get("experiment", run_dir.parent.name)
    git = env.get("git") or {}
    commit = (git.get("commit") or "unknown")[:10] + (" (dirty)" if git.get("dirty") else "")
    started = str(env.get("started", ""))[:19].replace("T", " ")  # to the second
    where = f" &middot; <a href='{html.escape(link)}'>run directory</a>" if link else ""
    meta = (f"run <code>{html.escape(run_dir.name)}</code> &middot; status {html.escape(str(env.get('status')))}"
            f" &middot; wall time {duration(env.get('wall_time_s'))} &middot; seed {env.get('seed')}"
            f" &middot; commit {html.escape(commit)} &middot; started {html.escape(started)}{where}")
    ident = f" id='{html.escape(anchor)}'" if anchor else ""
    return f"""<section class="run"{ident}>
<h1>{html.escape(heading or experiment)}</h1>
<p class="meta">{meta}</p>
<h2>Summary</h2>{summary_table(summary, labels) if summary else "<p class='bad'>no summary: the run did not finish</p>"}
<h2>Results</h2>{_sections_html(run_dir, sections)}
<details><summary>Config</summary><pre>{html.escape(config_text)}</pre></details>
<details><summary>Environment</summary>{_kv_table({k: v for k, v in env.items() if k not in ("argv",)})}</details>
</section>"""


def render_card(run_dir: str | Path) -> str:
    """A run as a notebook shows it: the experiment, its status and wall time, the labelled summary and the
    report's sections (figures inline, readings, tables); the same pieces as report.html, under its style (scoped
    to the card)."""
    run_dir = Path(run_dir)
    env = read_json(run_dir / "env.json", {}, kind=dict)
    summary = read_json(run_dir / "summary.json", {}, kind=dict)
    labels = read_json(run_dir / LABELS_FILE, {}, kind=dict)
    status = str(env.get("status", "unknown"))
    tone = {"finished": "pass", "failed": "bad"}.get(status, "meta")
    error = f" &middot; <span class='bad'>{html.escape(str(env['error']))}</span>" if env.get("error") else ""
    css = re.sub(r"(^|})\s*([^@{}][^{}]*){", lambda m: m.group(1) + ",".join(
        ".dllab-run" if sel.strip() == "body" else f".dllab-run {sel.strip()}" for sel in m.group(2).split(","))
        + "{", _CSS.split("@media")[0])
    # a notebook's own style aligns every cell right; tables read as the report's do
    css += ".dllab-run th,.dllab-run td{text-align:left!important}.dllab-run td.num{text-align:right!important}"
    body = summary_table(summary, labels) if summary else "<p class='meta'>no summary yet</p>"
    figs = _sections_html(run_dir, read_sections(run_dir))
    return (f"<div class='dllab-run'><style>{css}</style>"
            f"<h3>{html.escape(str(env.get('experiment', run_dir.parent.name)))}</h3>"
            f"<p class='meta'><span class='{tone}'>{html.escape(status)}</span> &middot; wall time "
            f"{duration(env.get('wall_time_s'))} &middot; seed {env.get('seed')} &middot; "
            f"<code>{html.escape(str(run_dir))}</code>{error}</p>{body}{figs}</div>")


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{body}</body></html>\n")


def build_report(run_dir: str | Path, env: dict | None = None) -> Path:
    """(Re)write ``run_dir/report.html`` from the run's files (``env`` instead of env.json when given) and return
    its path."""
    run_dir = Path(run_dir)
    body = render_run(run_dir, env=env)
    out = run_dir / "report.html"
    atomic_write(out, _page(f"dllab: {run_dir.parent.name}/{run_dir.name}", body))
    return out


def build_combined(run_dirs: list[str | Path], out: str | Path) -> Path:
    """One page holding the reports of several runs, one after the other."""
    bodies = "\n<hr>\n".join(render_run(d) for d in run_dirs)
    out = Path(out)
    atomic_write(out, _page("dllab: combined report", bodies))
    return out


def build_suite_report(out: str | Path, runs: list[dict], *, title: str, meta: list[str] = ()) -> Path:
    """The combined report of a suite: a front page (headline numbers, wall times, what failed or was skipped), a
    table of contents by course -> question -> experiment, then each finished run's section.

    ``runs`` holds one dict per run: ``experiment``, ``status`` (finished, failed, skipped), ``error``,
    ``wall_time_s``, ``run_dir`` (a path relative to ``out``'s folder), ``homework`` ([(course, question), ...]),
    ``description`` and ``headline`` ({label: (value, key)}). ``meta``: plain-text facts for the line under the
    title (preset, wall time, commit, ...).
    """
    out = Path(out)
    base = out.parent
    rows = []
    for r in runs:
        status = {"finished": "<span class='pass'>finished</span>", "failed": "<span class='bad'>failed</span>"}.get(
            r["status"], html.escape(r["status"]))
        # the label joins the key in deciding whether a value is a share ("held-out top-5 accuracy": holdout_top5)
        heads = "<br>".join(f"{html.escape(label)}: <b>"
                            f"{fmt_number(v, f'{label} {key}') if isinstance(v, (int, float)) else _fmt(v)}</b>"
                            for label, (v, key) in r.get("headline", {}).items())
        name = html.escape(r["experiment"])
        cell = f"<a href='#exp-{name}'>{name}</a>" if r["status"] == "finished" else name
        note = f"<br><span class='bad'>{html.escape(r['error'])}</span>" if r.get("error") else ""
        rows.append(f"<tr><td>{cell}</td><td>{html.escape(cite(r.get('homework', [])))}</td><td>{heads}</td>"
                    f"<td class='num'>{duration(r.get('wall_time_s'))}</td><td>{status}{note}</td></tr>")
    front = ("<table><tr><th>experiment</th><th>homework</th><th>headline numbers</th><th>wall time</th>"
             f"<th>status</th></tr>{''.join(rows)}</table>")
    not_done = [r for r in runs if r["status"] != "finished"]
    missing = ("<p>Not in this report: " + "; ".join(f"{html.escape(r['experiment'])} ({html.escape(r['status'])}"
                                                    f"{': ' + html.escape(r['error']) if r.get('error') else ''})"
                                                    for r in not_done) + ".</p>") if not_done else ""
    warmups = "Warm-ups (in no homework set)"
    courses: dict[str, dict[str, list[str]]] = {c: {} for c in COURSES}
    for r in runs:
        for course, question in r.get("homework") or [(warmups, "")]:
            courses.setdefault(course, {}).setdefault(question, []).append(r["experiment"])
    toc = []
    for course, questions in courses.items():
        if not questions:
            continue
        questions = dict(sorted(questions.items(), key=lambda kv: _natural(kv[0])))
        items = "".join(
            f"<li>{html.escape(q) + ': ' if q else ''}" + ", ".join(
                f"<a href='#exp-{html.escape(e)}'>{html.escape(e)}</a>" if _finished(runs, e) else
                f"{html.escape(e)} <span class='meta'>(not run)</span>" for e in exps) + "</li>"
            for q, exps in questions.items())
        toc.append(f"<li><b>{html.escape(course)}</b><ul>{items}</ul></li>")
    sections = []
    for r in runs:
        if r["status"] == "finished":
            run_dir = base / r["run_dir"]
            heading = f"{r['experiment']}: {cite(r.get('homework', []))}" if r.get("homework") else r["experiment"]
            sections.append(render_run(run_dir, anchor=f"exp-{r['experiment']}", heading=heading,
                                       link=f"{r['run_dir']}/report.html"))
    facts = " &middot; ".join(html.escape(m) for m in meta)
    body = (f"<section class='front'><h1>{html.escape(title)}</h1><p class='meta'>{facts}</p>"
            f"<h2>Headline numbers</h2>{front}{missing}"
            f"<h2>Contents</h2><nav class='toc'><ul>{''.join(toc)}</ul></nav></section>" + "\n".join(sections))
    atomic_write(out, _page(title, body))
    return out


def _natural(text: str) -> list:
    """Sort key that orders 'Q2' before 'Q10' and 'Problem 1' before 'Problem 3'."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", text) if t]


def _finished(runs: list[dict], experiment: str) -> bool:
    return any(r["experiment"] == experiment and r["status"] == "finished" for r in runs)
