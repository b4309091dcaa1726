"""dllab.report: self-contained HTML from a run directory's files."""

import math

import pytest

from dllab.config import ExperimentConfig
from dllab.errors import DllabError
from dllab.recorder import Recorder
from dllab.report import build_combined, build_report, fmt_number


class Cfg(ExperimentConfig):
    x: int = 1


def test_report_escapes_text(tmp_path):
    rec = Recorder(tmp_path / "run", "demo", Cfg(), progress=False)
    rec.text("x", "<script>alert(1)</script>")
    rec.finish({"v": math.pi})
    html = build_report(tmp_path / "run").read_text()
    assert "<script>alert" not in html and "&lt;script&gt;" in html


def test_report_reads_durations_like_a_person_and_refuses_a_non_run(tmp_path):
    from dllab.report import duration

    assert [duration(x) for x in (None, 4.3, 59.96, 324, 3599.4, 8173.6)] == \
        ["?", "4.3 s", "1 min 0 s", "5 min 24 s", "59 min 59 s", "2 h 16 min"]
    with pytest.raises(DllabError, match="not a run directory"):
        build_report(tmp_path)


def test_combined_report_holds_every_run(tmp_path):
    dirs = []
    for i in range(2):
        rec = Recorder(tmp_path / f"run{i}", f"demo{i}", Cfg(x=i), progress=False)
        rec.text(f"Section {i}", "body")
        rec.finish({"v": i})
        dirs.append(build_report(rec.dir).parent)
    html = build_combined(dirs, tmp_path / "all.html").read_text()
    assert "Section 0" in html and "Section 1" in html and "demo0" in html and "demo1" in html


def test_numbers_read_like_a_person():
    assert fmt_number(0.9408, "mean_acc") == "94.08%" and fmt_number(0.0014, "acc_std") == "0.14%"
    assert fmt_number(1.5, "mean_acc") == "1.5"  # not a share: outside [0, 1]
    assert fmt_number(0.9408, "loss") == "0.9408" and fmt_number(123456.0) == "1.23e+05"
    assert fmt_number(40000) == "40,000" and fmt_number(512) == "512" and fmt_number(True) == "True"
