"""Comparing runs: one row per configuration, the runs that differ only in their seed aggregated.

Each row holds the config keys that differ between the rows (all of them with ``all_keys``) and, for every numeric
summary value, the mean over the row's seeds with its sample standard deviation, 95% Student-t interval and n
(:func:`dllab.stats.describe`). Values that are the same in every run are left out unless ``all_keys``: a
comparison shows what differs. Used by ``dllab.compare`` and ``dllab compare``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dllab.errors import DllabError
from dllab.stats import describe

AGGREGATE = ("mean", "std", "ci_low", "ci_high")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class Group:
    """Runs with the same configuration (seed aside) and their aggregated summary values."""

    experiment: str
    config: dict[str, Any]              # the shown config keys -> value
    runs: list                          # dllab.api.Run
    values: dict[str, Any] = field(default_factory=dict)  # summary key -> describe() dict, or the common value

    @property
    def seeds(self) -> list:
        return [r.seed for r in self.runs]


@dataclass
class Comparison:
    groups: list[Group]
    config_keys: list[str]
    summary_keys: list[str]
    labels: dict[str, str]
    skipped: list[str] = field(default_factory=list)  # runs left out (not finished), one line each

    def rows(self) -> list[dict[str, Any]]:
        """One flat record per group: experiment, config keys, n, seeds, then ``key`` (the mean), ``key.std``,
        ``key.ci_low``, ``key.ci_high`` for each numeric summary key (the value itself for others)."""
        out = []
        for g in self.groups:
            row: dict[str, Any] = {"experiment": g.experiment, **g.config, "n": len(g.runs), "seeds": g.seeds}
            for key in self.summary_keys:
                v = g.values.get(key)
                if isinstance(v, dict):
                    row[key] = v["mean"]
                    row.update({f"{key}.{a}": v[a] for a in AGGREGATE[1:]})
                else:
                    row[key] = v
            out.append(row)
        return out

    def csv(self) -> str:
        """:meth:`rows` as CSV text."""
        import csv
        import io

        rows = self.rows()
        buf = io.StringIO()
        writer = csv.DictWriter(buf, list(dict.fromkeys(k for r in rows for k in r)))
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame.from_records(self.rows())

    def cell(self, group: Group, key: str) -> str:
        """A summary value as text: 'mean ± std [95% interval]' over seeds, or the value of a single run."""
        from dllab.report import fmt_number

        v = group.values.get(key)
        if not isinstance(v, dict):
            return "-" if v is None else str(v)
        mean = html.unescape(fmt_number(v["mean"], key))
        if v["n"] < 2:
            return mean
        f = lambda x: html.unescape(fmt_number(x, key))  # noqa: E731
        return f"{mean} ± {f(v['std'])} [{f(v['ci_low'])}, {f(v['ci_high'])}]"

    def headings(self) -> list[str]:
        return (["experiment", *self.config_keys, "n"]
                + [self.labels.get(k) or k.replace("_", " ") for k in self.summary_keys])

    def table(self) -> list[list[str]]:
        """The comparison as rows of text, headings first (what the command line prints)."""
        rows = [self.headings()]
        for g in self.groups:
            rows.append([g.experiment, *(_text(g.config.get(k)) for k in self.config_keys), str(len(g.runs)),
                         *(self.cell(g, k) for k in self.summary_keys)])
        return rows

    def _repr_html_(self) -> str:
        head, *body = self.table()
        ths = "".join(f"<th>{html.escape(h)}</th>" for h in head)
        trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body)
        note = ("<p style='color:#666;font-size:.9em'>mean ± standard deviation [95% interval of the mean, Student t] "
                "over the n seeds of each configuration</p>")
        skipped = ("<p style='color:#cf222e'>left out: " + "; ".join(html.escape(s) for s in self.skipped) + "</p>"
                   if self.skipped else "")
        return (f"<div class='dllab-compare'><table><tr>{ths}</tr>{trs}</table>{note}{skipped}</div>")

    def __str__(self) -> str:
        rows = self.table()
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)


def _text(value: Any) -> str:
    return "-" if value is None else str(value)


def _summary_values(summary: dict, all_keys: bool) -> dict[str, Any]:
    """The summary values a comparison can show: top-level scalars (every nested one too with ``all_keys``)."""
    from dllab.config import flatten

    flat = flatten(summary) if all_keys else summary
    return {k: v for k, v in flat.items() if v is None or isinstance(v, (int, float, str, bool))}


def compare(runs: Sequence, by: str | Iterable[str] | None = None, keys: Iterable[str] | None = None,
            all_keys: bool = False) -> Comparison:
    """Group ``runs`` (:class:`dllab.api.Run`) by configuration and aggregate their summaries over seeds.

    ``by``: group by these dotted config keys only (other differences are aggregated over); default: runs whose
    whole config is the same except ``seed`` form a group. ``keys``: the summary keys to show (dotted for nested
    values); default: the top-level numeric ones that differ. ``all_keys``: every config key and every scalar
    summary value, also those that are the same everywhere."""
    if isinstance(by, str):
        by = [by]
    by = list(by or [])
    finished, skipped = [], []
    for r in runs:
        (finished if r.status == "finished" else skipped).append(r)
    skipped_text = [f"{r.dir} ({r.status})" for r in skipped]
    if not finished:
        raise DllabError("nothing to compare: none of the runs has finished" +
                         (f" ({'; '.join(skipped_text)})" if skipped_text else ""))
    configs = [r.flat_config() for r in finished]
    for name in by:
        if not any(name in c for c in configs):
            known = sorted({k for c in configs for k in c})
            raise DllabError(f"--by {name}: no run has that config key; known keys: {', '.join(known)}")
    grouping: dict[tuple, list[int]] = {}
    for i, (r, c) in enumerate(zip(finished, configs)):
        ident = tuple((k, _hashable(c.get(k))) for k in by) if by else tuple(
            (k, _hashable(v)) for k, v in sorted(c.items()) if k != "seed")
        grouping.setdefault((r.experiment, ident), []).append(i)
    # config keys shown: the chosen ones, or those whose value is not the same in every group
    if by:
        shown = by
    else:
        all_config = sorted({k for c in configs for k in c} - {"seed"})
        firsts = [configs[idx[0]] for idx in grouping.values()]
        shown = [k for k in all_config if all_keys or len({repr(c.get(k)) for c in firsts}) > 1]
    values = [_summary_values(r.summary, all_keys) for r in finished]
    if keys is not None:
        from dllab.config import get_dotted

        keys = list(keys)
        values = [{k: get_dotted(r.summary, k, None) for k in keys} for r in finished]
        summary_keys = keys
    else:
        summary_keys = list(dict.fromkeys(k for v in values for k in v))
        if not all_keys and len(finished) > 1:
            summary_keys = [k for k in summary_keys if len({repr(v.get(k)) for v in values}) > 1]
    groups = []
    for (experiment, _), idx in grouping.items():
        agg: dict[str, Any] = {}
        for key in summary_keys:
            xs = [values[i].get(key) for i in idx]
            if all(_number(x) for x in xs):
                agg[key] = describe(xs)
            else:
                agg[key] = xs[0] if len({repr(x) for x in xs}) == 1 else "differs: " + ", ".join(map(str, xs))
        groups.append(Group(experiment, {k: configs[idx[0]].get(k) for k in shown}, [finished[i] for i in idx],
                            agg))
    labels: dict[str, str] = {}
    for r in finished:
        labels.update({k: v for k, v in r.labels.items() if k not in labels})
    return Comparison(groups, shown, summary_keys, labels, skipped_text)


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, (list, dict)) else value
