"""dllab suite: every experiment with one command, failures reported, resume after SIGKILL, the combined report
(HTML and PDF), the dry run, and the same work on Ray and through submitit."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest

from dllab import browser, experiments, suite
from dllab.executor import Stage, StageFailure
from suite_fixtures import die_always, die_once, fail_on, square
from test_cli import dllab

needs_browser = pytest.mark.skipif(browser.missing_reason() is not None,
                                   reason=f"browser tests skipped: {browser.missing_reason()}")


@pytest.fixture(scope="module")
def smoke_suite(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("suite") / "smoke"
    res = dllab("suite", "--preset", "smoke", "--out", str(out), *([] if browser.missing_reason() is None
                                                                    else ["--no-pdf"]))
    assert res.returncode == 0, res.stdout + res.stderr
    return out, res


def test_the_smoke_suite_runs_every_experiment(smoke_suite):
    out, res = smoke_suite
    record = json.loads((out / "suite.json").read_text())
    assert [r["experiment"] for r in record["runs"]] == list(experiments.EXPERIMENTS)
    assert all(r["status"] == "finished" for r in record["runs"])
    for name in experiments.EXPERIMENTS:
        assert (out / name / "summary.json").is_file()
    n = len(experiments.EXPERIMENTS)
    assert re.search(rf"\[{n}/{n}\] .* done {n}, running 0, failed 0", res.stdout)
    assert f"suite finished: {n} of {n} runs finished" in res.stdout


def test_the_combined_html_is_organised_by_course_and_formats_numbers(smoke_suite):
    out, _ = smoke_suite
    html = (out / "report.html").read_text()
    for name in experiments.EXPERIMENTS:
        assert f"id='exp-{name}'" in html and f"href='#exp-{name}'" in html
    toc = html[html.index("<nav class='toc'>"):html.index("</nav>")]
    positions = [toc.index(c) for c in ("Harvard CS229br HW0", "Harvard ML theory seminar HW0",
                                        "Tsinghua Deep Learning 2024", "MIT 6.S898 HW1", "Georgia Tech CS7643 A1")]
    assert positions == sorted(positions)
    assert toc.index("Problem 1") < toc.index("Problem 2") < toc.index("Problem 3")
    front = html[:html.index("<nav class='toc'>")]
    assert re.search(r"test accuracy: <b>\d+\.\d\d%</b>", front)  # shares to two decimals
    assert not re.search(r"\d\.\d{5,}", front)  # never 0.927917 on the front page
    assert not re.search(r"""(src|href)=['"]https?://""", html)  # self-contained


# a Python mapping's text: {'a': 1} or a key quoted the way repr() quotes it ('a': )
MAPPING = re.compile(r"\{\s*'[^'<>]*'\s*:|'\w+'\s*:")


@pytest.mark.parametrize("name", list(experiments.EXPERIMENTS))
def test_every_report_labels_its_summary_in_words_and_holds_no_python_mapping(smoke_suite, name):
    import html as htmllib

    out, _ = smoke_suite
    run = out / name
    summary = json.loads((run / "summary.json").read_text())
    labels = experiments.summary_labels(experiments.get(name))
    assert set(summary) <= set(labels), f"summary keys without a label: {sorted(set(summary) - set(labels))}"
    page = (run / "report.html").read_text()
    rows = re.findall(r"<tr><th title='([^']*)'>([^<]*)</th>", page[page.index("<h2>Summary</h2>"):])
    assert [k for k, _ in rows] == list(summary)
    assert all(htmllib.unescape(text) == labels[k] for k, text in rows)
    prose = re.sub(r"<[^>]+>", " ", page[page.index("<h2>Results</h2>"):page.index("<details>")])
    prose += re.sub(r"<[^>]+>", " ", page[page.index("<h2>Summary</h2>"):page.index("<h2>Results</h2>")])
    found = MAPPING.search(htmllib.unescape(prose))
    assert found is None, f"a Python mapping in the report: ...{prose[max(0, found.start() - 80):found.end() + 80]}"


@needs_browser
def test_the_report_has_no_broken_image_and_the_pdf_holds_every_section_title(smoke_suite):
    from pypdf import PdfReader

    out, _ = smoke_suite
    with browser.browser() as b:
        page = b.new_page()
        page.goto((out / "report.html").resolve().as_uri(), wait_until="load")
        images = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth])")
        assert images and all(done and width > 0 for done, width in images)
        titles = page.eval_on_selector_all("section.run > h1", "els => els.map(e => e.textContent)")
    assert len(titles) == len(experiments.EXPERIMENTS)
    raw = " ".join(p.extract_text() for p in PdfReader(out / "report.pdf").pages)
    # NFKC: the ligature "ﬂ" reads as "fl"; whitespace dropped: a long title wraps across lines in the PDF
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", raw))
    for title in titles:
        assert re.sub(r"\s+", "", title) in text, title


def test_a_failing_run_is_reported_and_the_rest_complete(tmp_path, shared_data):
    only_mnist = tmp_path / "data"
    only_mnist.mkdir()
    (only_mnist / "mnist").symlink_to(shared_data / "mnist")
    out = tmp_path / "s"
    res = dllab("suite", "--preset", "smoke", "--only", "mnist-logreg", "scratch-cifar", "theory", "--out", str(out),
                "--no-pdf", env={"DLLAB_DATA": str(only_mnist)})
    assert res.returncode == 1, res.stdout + res.stderr
    record = json.loads((out / "suite.json").read_text())
    status = {r["experiment"]: r["status"] for r in record["runs"]}
    assert status == {"mnist-logreg": "finished", "scratch-cifar": "failed", "theory": "finished"}
    assert re.search(r"scratch-cifar: failed: cifar10 not found", res.stdout)
    html = (out / "report.html").read_text()
    assert "id='exp-theory'" in html and "id='exp-scratch-cifar'" not in html and "cifar10 not found" in html


def _sections(out: Path) -> list[str]:
    html = (out / "report.html").read_text()
    return re.findall(r"<h[13][^>]*>(.*?)</h[13]>", html[html.index("</nav>"):])


def test_a_killed_suite_resumes_only_what_is_missing(tmp_path, shared_data):
    args = ["--preset", "smoke", "--only", "mnist-logreg", "linreg-mnist", "theory", "--jobs", "1", "--no-pdf"]
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "dllab", "suite", *args, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300

    def finished() -> bool:  # summary.json comes before the report; the run is finished once env.json says so
        env = out / "mnist-logreg" / "env.json"
        return env.is_file() and json.loads(env.read_text()).get("status") == "finished"

    while not finished() and time.time() < deadline:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = json.loads((out / "mnist-logreg" / "env.json").read_text())
    assert not (out / "theory" / "summary.json").exists()
    res = dllab("suite", *args, "--out", str(out), "--resume")
    assert res.returncode == 0, res.stdout + res.stderr
    record = json.loads((out / "suite.json").read_text())
    assert {r["experiment"]: r["action"] for r in record["runs"]}["mnist-logreg"] == "skip"
    assert json.loads((out / "mnist-logreg" / "env.json").read_text())["started"] == first["started"]  # not rerun
    whole = tmp_path / "whole"
    assert dllab("suite", *args, "--out", str(whole)).returncode == 0
    for name in ("mnist-logreg", "linreg-mnist", "theory"):
        assert (out / name / "summary.json").read_text() == (whole / name / "summary.json").read_text(), name
    assert _sections(out) == _sections(whole)


def _alive_in_group(pgid: int) -> list[int]:
    """Processes of process group ``pgid`` that are still running (zombies waiting for a reaper do not count)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_suite_killed_alone_takes_its_workers_with_it(tmp_path, shared_data):
    """SIGKILL to the suite's own process only (not its group): 5 s later none of its workers is left, and
    --resume at once finds no run directory held by an orphan."""
    args = ["--preset", "smoke", "--only", "mnist-logreg", "theory", "--jobs", "2", "--no-pdf"]
    out = tmp_path / "s"
    proc = subprocess.Popen([sys.executable, "-m", "dllab", "suite", *args, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not all((out / n / "env.json").is_file() for n in ("mnist-logreg", "theory")):
        time.sleep(0.1)
    assert len(_alive_in_group(proc.pid)) >= 3  # the suite and its two workers
    proc.kill()
    proc.wait()
    time.sleep(5)
    assert _alive_in_group(proc.pid) == []
    res = dllab("suite", *args, "--out", str(out), "--resume")
    assert res.returncode == 0, res.stdout + res.stderr


def test_resume_refuses_nothing_and_a_fresh_suite_refuses_a_used_directory(tmp_path, shared_data):
    out = tmp_path / "s"
    out.mkdir()
    (out / "something").write_text("x")
    res = dllab("suite", "--preset", "smoke", "--only", "theory", "--out", str(out), "--no-pdf")
    assert res.returncode == 2 and "add --resume" in res.stderr


def test_dry_run_prints_each_run_and_the_total(tmp_path, monkeypatch):
    monkeypatch.setenv("DLLAB_CACHE", str(tmp_path / "cache"))
    suite.record_time("theory", "cpu", 42.0)
    planned = suite.plan("cpu", only=["theory", "cifar-train"])
    text = suite.dry_run_text(planned, "cpu", nodes=[1], cores=2)
    stated = experiments.get("cifar-train").ESTIMATE_S["cpu"]
    # a run without stages: its wall time on the developers' 2 cores, in core-seconds
    assert re.search(rf"theory\s+no stages\s+{2 * 42 / 3600:.2f} core-h\s+\(recorded\)", text)
    assert re.search(rf"cifar-train\s+no stages\s+{2 * stated / 3600:.2f} core-h\s+\(stated\)", text)
    assert f"on 1 node(s) x 2 cores: about {suite.duration(42 + stated)} of wall time" in text
    res = dllab("suite", "--preset", "full", "--dry-run", "--nodes", "1", "8", "64", "--cpus-per-node", "2",
                env={"DLLAB_CACHE": str(tmp_path / "cache")})
    assert res.returncode == 0 and all(name in res.stdout for name in experiments.EXPERIMENTS)
    walls = re.findall(r"on (\d+) node\(s\) x 2 cores: about (.+) of wall time", res.stdout)
    assert [n for n, _ in walls] == ["1", "8", "64"]


def test_per_experiment_overrides_and_unknown_names(tmp_path):
    planned = {p.name: p for p in suite.plan("smoke", only=["theory", "mnist-logreg"],
                                               overrides=["mnist-logreg:train.epochs=1", "seed=3"])}
    assert "epochs: 1" in planned["mnist-logreg"].config_yaml and "seed: 3" in planned["theory"].config_yaml
    assert "epochs: 1" not in planned["theory"].config_yaml
    with pytest.raises(suite.DllabError, match="unknown experiment"):
        suite.plan("smoke", only=["nope"])


# -- dependencies, with experiments that exist only in the tests ------------------------------------------

def test_dependencies_run_first_hand_over_their_run_directory_and_a_failure_skips_dependents(
        tmp_path, monkeypatch):
    monkeypatch.setitem(experiments.EXPERIMENTS, "maker", "suite_fixtures")
    monkeypatch.setitem(experiments.EXPERIMENTS, "user", "suite_fixtures_user")
    planned = suite.plan("smoke", only=["user"], out=tmp_path / "s")
    assert [p.name for p in planned] == ["maker", "user"]
    record = suite.run_suite(preset="smoke", only=["user"], out=tmp_path / "s", jobs=1, pdf=False, progress=False)
    assert [r["status"] for r in record["runs"]] == ["finished", "finished"]
    summary = json.loads((tmp_path / "s" / "user" / "summary.json").read_text())
    assert summary["made"] == "by maker" and Path(summary["from"]) == (tmp_path / "s" / "maker").resolve()
    record = suite.run_suite(preset="smoke", only=["user"], out=tmp_path / "t", jobs=1, pdf=False, progress=False,
                             overrides=["maker:fail=true"])
    assert [r["status"] for r in record["runs"]] == ["failed", "skipped"]
    assert "needs maker" in record["runs"][1]["error"]


# -- Ray and submitit ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="Ray tests skipped: pip install 'dllab[ray]'")
    # the workers import the stage functions of suite_fixtures by name, as they would a library's
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(Path(__file__).parent)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield ray
    ray.shutdown()
    if old is None:
        os.environ.pop("PYTHONPATH")
    else:
        os.environ["PYTHONPATH"] = old


def test_ray_retries_a_task_whose_worker_died_once_then_reports_failure(local_ray, tmp_path):
    from dllab.distributed import RayExecutor

    ex = RayExecutor(retries=1)
    out = ex.map([Stage("once", die_once, {"marker": str(tmp_path / "once")}),
                  Stage("always", die_always, {"marker": str(tmp_path / "always")})], errors="return")
    assert out["once"] == "survived" and (tmp_path / "once").read_text() == "xx"
    assert isinstance(out["always"], StageFailure) and "after 2 attempts" in out["always"].error
    assert (tmp_path / "always").read_text() == "xx"  # tried twice, then reported


def test_the_submitit_executor_runs_stages_as_jobs(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))  # the jobs import the stage functions by name
    pytest.importorskip("submitit", reason="submitit tests skipped: pip install 'dllab[slurm]'")
    from dllab.distributed import SubmititExecutor

    ex = SubmititExecutor(tmp_path / "jobs", cluster="local", cpus_per_task=1, timeout_min=5)
    out = ex.map([Stage(f"k{k}", square, {"k": k}) for k in range(3)] + [Stage("bad", fail_on, {"k": 7})],
                 errors="return")
    assert [out[f"k{k}"] for k in range(3)] == [0, 1, 4]
    assert isinstance(out["bad"], StageFailure) and "bad k 7" in out["bad"].error
