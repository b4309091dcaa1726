"""The docs hold to the code: docs/experiments.md's summary tables list exactly each experiment's SUMMARY_KEYS, and
the README's layout names every module of the package."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dllab import experiments

REPO = Path(__file__).resolve().parents[1]


def documented_summary_keys() -> dict[str, set[str]]:
    """experiment -> the backticked keys in the first column of its '| summary key | meaning |' table."""
    text = (REPO / "docs" / "experiments.md").read_text()
    out = {}
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        name, body = block.split("\n", 1)
        if "| summary key |" not in body:
            continue
        table = body[body.index("| summary key |"):].split("\n\n", 1)[0]
        keys = set()
        for row in table.splitlines()[2:]:
            keys.update(re.findall(r"`([^`]+)`", row.split("|")[1]))
        out[name.strip()] = keys
    return out


@pytest.mark.parametrize("name", list(experiments.EXPERIMENTS))
def test_each_summary_table_lists_exactly_the_experiments_summary_keys(name):
    documented = documented_summary_keys()
    assert name in documented, f"docs/experiments.md has no summary table under '## {name}'"
    keys = set(experiments.get(name).SUMMARY_KEYS)
    assert documented[name] == keys, (f"missing from the docs: {sorted(keys - documented[name])}; "
                                      f"not summary keys: {sorted(documented[name] - keys)}")


def layout_entries() -> dict[str, str]:
    """The README's layout block as first word -> its text (continuation lines included)."""
    readme = (REPO / "README.md").read_text()
    block = readme[readme.index("## Layout"):].split("```", 2)[1]
    entries: dict[str, str] = {}
    key = None
    for line in block.splitlines():
        if re.match(r"^  \S", line):
            key = line.split()[0].rstrip(",")
            entries[key] = line
        elif key and line.startswith("   "):
            entries[key] += " " + line.strip()
    return entries


def test_the_readme_layout_names_every_module():
    entries = layout_entries()
    top = " ".join(text for key, text in entries.items() if not key.endswith("/"))
    package = REPO / "src" / "dllab"
    missing = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if path.name == "__init__.py" or rel.parts[0] in ("experiments", "static"):
            continue  # experiments are listed in docs/experiments.md, one section each
        if len(rel.parts) == 1:
            found = re.search(rf"\b{re.escape(path.name)}\b", top)
        else:
            entry = entries.get(f"{rel.parts[0]}/", "")
            found = re.search(rf"\b{re.escape(path.stem)}(\.py)?\b", entry.split("/", 1)[1] if entry else "")
        if not found:
            missing.append(str(rel))
    assert not missing, f"README's layout does not name: {missing}"
