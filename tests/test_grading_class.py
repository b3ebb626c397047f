"""The class demo on the fixture course, and the outcome of every bad submission.

One module-scoped run of `grader.demo.classroom` (release, fetch, submit, collect,
autograde, feedback, export through a temporary exchange) grades one
simulated student of each kind in grader.demo.students; each test asserts one
kind's outcome. The per-cell time limit is lowered to a few seconds.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import zipfile

import nbformat
import pytest
from course_tools import (
    FIXTURE_COURSE,
    NEEDS_SANDBOX,
    REGION,
    REPO,
    notebook_text,
    secret_lines,
)
from grading_corpus import (
    CORPUS,
    DEMO_ONLY_OUTCOME,
    EXPECTED_OUTCOME,
    EXPECTED_POINTS,
    FIXTURE,
    TESTS,
    assert_outcome,
    grading_limits,
)

from grader import autograde, bundle, course, exchange
from grader.course import lesson_ids
from grader.demo import classroom
from grader.kernel import feedback, guard, sandbox

pytestmark = NEEDS_SANDBOX


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    with grading_limits():
        return classroom.run_demo(
            FIXTURE_COURSE, tmp_path_factory.mktemp("demo"), echo=lambda *a: None
        )


def cell_points(root, student):
    from grader.grading import cell_scores

    return {s.grade_id: s.score for s in cell_scores(root, FIXTURE, student)}


def test_every_student_is_graded(demo_run):
    graded = {(o.student, o.lesson) for o in demo_run.outcomes}
    assert graded == {(kind, FIXTURE) for kind in EXPECTED_POINTS}
    for kind in EXPECTED_POINTS:
        assert kind in demo_run.table


@pytest.mark.parametrize("kind", sorted(EXPECTED_POINTS))
def test_points_of_each_submission(demo_run, kind):
    points = cell_points(demo_run.root, kind)
    assert tuple(points[t] for t in TESTS) == EXPECTED_POINTS[kind], points
    assert points["why_greedy"] == 0, "a written answer is graded by hand, never automatically"


@pytest.mark.parametrize("kind", sorted(EXPECTED_OUTCOME))
def test_outcome_says_what_happened(demo_run, kind):
    (outcome,) = [o for o in demo_run.outcomes if o.student == kind]
    assert_outcome(outcome)
    for text in DEMO_ONLY_OUTCOME.get(kind, ()):
        assert text in outcome.details, outcome.details


def test_submissions_are_never_modified(demo_run):
    """What each student handed in is byte for byte what grader/work/submitted holds."""
    workdir = demo_run.root.parent
    state = autograde.load_state(demo_run.root)
    for kind in EXPECTED_POINTS:
        handed_in = workdir / "students" / kind / FIXTURE
        kept = course.submitted_dir(demo_run.root, kind, FIXTURE)
        for path in handed_in.iterdir():
            assert sha256(path) == sha256(kept / path.name), f"{kind}: {path.name} changed"
        assert state[f"{kind}/{FIXTURE}"]["hash"] == autograde.fingerprint(kept)


def test_graded_submissions_are_the_kept_corpus(demo_run):
    """tests/fixtures/submissions/00_fixture.zip holds exactly what the bad students handed in.

    Regenerate it with
    `python -m grader.demo.students --course tests/fixtures/course --lesson 00_fixture
    --out tests/fixtures/submissions/00_fixture.zip` after changing grader/demo/students.py.
    """
    submitted = course.submitted_dir(demo_run.root)
    with zipfile.ZipFile(CORPUS) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    assert {name.split("/")[0] for name in entries} == set(EXPECTED_POINTS) - {"snoop", "twice"}
    for name, data in entries.items():
        kind, file_name = name.split("/", 1)
        kept = submitted / kind / FIXTURE / file_name
        assert kept.read_bytes() == data, f"{name} differs from what {kind} handed in"


def test_sandbox_kept_the_snoop_out(demo_run):
    graded = course.autograded_path(demo_run.root, "snoop", FIXTURE)
    (cell,) = [
        c
        for c in nbformat.read(graded, as_version=4).cells
        if course.grade_id(c) == "discounted_sum"
    ]
    printed = "".join(o.get("text", "") for o in cell.outputs)
    attempts = [
        "list solutions",
        "read a solution",
        "read the gradebook",
        "read other submissions",
        "open a network connection",
        "resolve a host name",
        "read the grader's secrets: blocked: KeyError",
        "fill /tmp: blocked: OSError",
        "fill its folder: blocked: OSError",
        "start 20000 threads: blocked: RuntimeError",
    ]
    if os.geteuid() == 0:
        attempts.append("read root's files: blocked: PermissionError")
    for attempt in attempts:
        assert f"{attempt}: blocked" in printed or attempt in printed, printed
    assert not list(demo_run.root.parent.rglob("ESCAPED.txt")), "a write reached the disk"
    assert not (REPO / "ESCAPED.txt").exists()


def _graded_cell(root, kind, cell_id):
    notebook = nbformat.read(course.autograded_path(root, kind, FIXTURE), as_version=4)
    (cell,) = [c for c in notebook.cells if course.grade_id(c) == cell_id]
    return cell


def test_stderr_costs_no_points_and_floods_are_cut(demo_run):
    """A warning in a grade cell is kept as output; 4 MiB printed keep 1 MiB and a notice."""
    root = demo_run.root
    warned = _graded_cell(root, "noisy", "test_discounted_sum")
    assert not [o for o in warned.outputs if o.get("name") == "stderr"]
    text = "".join(o.get("text", "") for o in warned.outputs)
    assert text.startswith(guard.STDERR_MARK) and "this answer is slow" in text
    flooded = _graded_cell(root, "noisy", "test_greedy_action")
    kept = "".join(o.get("text", "") for o in flooded.outputs)
    assert 2**20 - 100 <= len(kept) <= 2**20 + 500, len(kept)
    assert guard.CUT_MARK in kept.splitlines()[-1]
    assert course.autograded_path(root, "noisy", FIXTURE).stat().st_size < 3 * 2**20
    page = course.feedback_dir(root, "noisy", FIXTURE) / f"{FIXTURE}.html"
    assert page.stat().st_size < 4 * 2**20
    assert "[output cut]" in page.read_text()


def test_copied_cells_are_graded_once_and_said_in_the_feedback(demo_run):
    page = course.feedback_dir(demo_run.root, "copy_paste", FIXTURE) / f"{FIXTURE}.html"
    assert "Grading note" in page.read_text()
    assert "test_from_another_notebook" not in cell_points(demo_run.root, "copy_paste")


def test_links_to_the_solutions_are_never_followed(demo_run):
    """The cheater's links (in the exchange, and in grader/work/submitted) are left out."""
    root = demo_run.root
    (inbound,) = exchange.inbound(demo_run.exchange, "cheater", FIXTURE)
    assert (inbound / "answers.py").is_symlink(), "the exchange keeps what was handed in"
    kept = course.submitted_dir(root, "cheater", FIXTURE)
    assert not (kept / "answers.py").exists(), "collect followed the link"
    assert (kept / "more_answers.py").is_symlink()
    graded = course.autograded_dir(root, "cheater", FIXTURE)
    assert not {"answers.py", "more_answers.py"} & {p.name for p in graded.iterdir()}
    source = course.source_path(root, FIXTURE).read_text()
    answers = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", source, flags=re.DOTALL)
    lines = {line.strip("# ") for answer in answers for line in answer.splitlines()}
    lines = {line for line in lines if len(line) >= 20}  # telling lines of the answers
    assert lines
    for path in graded.iterdir():
        assert not [line for line in lines if line in path.read_text()], path
    printed = "".join(
        o.get("text", "") for o in _graded_cell(root, "cheater", "discounted_sum").outputs
    )
    assert "reading the planted link: FileNotFoundError" in printed, printed
    test = _graded_cell(root, "cheater", "test_discounted_sum")
    assert "an object of type __main__.Anything" in "".join(
        o.get("evalue", "") for o in test.outputs
    )


@pytest.fixture
def demo_environment(monkeypatch):
    """The grading environment of demo_run (its time limit and the demo's limits)."""
    monkeypatch.setenv(course.CELL_TIMEOUT_VARIABLE, "5")
    with classroom.grading_environment():
        yield


def test_the_preflight_graded_the_reference_once(demo_run, demo_environment):
    import json

    done = json.loads((course.work(demo_run.root) / "preflight.json").read_text())
    assert done == {FIXTURE: autograde.environment_key(demo_run.root, FIXTURE)}
    assert autograde.PREFLIGHT_STUDENT not in {o.student for o in demo_run.outcomes}
    assert not course.autograded_dir(demo_run.root, autograde.PREFLIGHT_STUDENT).exists()


def test_latest_of_two_submissions_counts_and_both_are_kept(demo_run):
    kept = exchange.inbound(demo_run.exchange, "twice", FIXTURE)
    assert len(kept) == 2
    assert cell_points(demo_run.root, "twice") == cell_points(demo_run.root, "perfect")


def test_feedback_and_grades_for_every_student(demo_run):
    def page(kind):
        return course.feedback_dir(demo_run.root, kind, FIXTURE) / f"{FIXTURE}.html"

    for kind in EXPECTED_POINTS:
        assert page(kind).exists(), kind
    assert "is not a valid notebook" in page("invalid_json").read_text()
    with open(demo_run.grades_csv) as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert set(rows) == set(EXPECTED_POINTS)
    for kind, points in EXPECTED_POINTS.items():
        assert float(rows[kind]["raw_score"]) == sum(points), kind
        assert rows[kind]["assignment"] == FIXTURE


def hidden_test_lines(root) -> set[str]:
    """Every non-blank line between the hidden-test markers of the lesson source, except the
    lines that the released notebook shows anyway (`check_close(`, `)`)."""
    source = course.source_path(root, FIXTURE).read_text()
    released = notebook_text(nbformat.read(course.release_path(root, FIXTURE), as_version=4))
    visible = {line.strip() for line in released.splitlines()}
    hidden = {
        line.strip()
        for kind, region in REGION.findall(source)
        if kind == "HIDDEN TESTS"
        for line in region.splitlines()
    }
    return {line for line in hidden if line and line not in visible}


def feedback_text(root, kind) -> str:
    page = course.feedback_dir(root, kind, FIXTURE) / f"{FIXTURE}.html"
    return feedback.page_text(page.read_text())


def test_feedback_pages_hold_no_hidden_test(demo_run):
    """Issue 31: not one line of a hidden test on any page; the instructor's copy keeps them."""
    root = demo_run.root
    secret = hidden_test_lines(root)
    assert len(secret) >= 8, secret
    for kind in EXPECTED_POINTS:
        text = feedback_text(root, kind)
        leaked = [line for line in secret if line in text]
        assert not leaked, f"{kind}: {leaked}"
        assert "HIDDEN TESTS" not in text, kind
    kept = course.autograded_path(root, "partial", FIXTURE).read_text()
    assert all(json_line in kept for json_line in (json.dumps(line)[1:-1] for line in secret))


def test_feedback_pages_show_scores_and_the_messages_of_failed_checks(demo_run):
    root = demo_run.root
    graded = [o.student for o in demo_run.outcomes if o.status == "graded"]
    assert len(graded) >= 20
    for kind in graded:
        text = feedback_text(root, kind)
        points = cell_points(root, kind)
        notebook = nbformat.read(course.autograded_path(root, kind, FIXTURE), as_version=4)
        for test_id in TESTS:
            score = re.search(rf"Grade cell: {test_id}\s+Score: ([\d.]+) / ([\d.]+)", text)
            assert score, f"{kind}: no score for {test_id}"
            assert float(score.group(1)) == points[test_id], f"{kind}: {test_id}"
            cell = _graded_cell(root, kind, test_id)
            assert float(score.group(2)) == course.points(cell), f"{kind}: {test_id}"
            errors = [o for o in cell.outputs if o.output_type == "error"]
            for error in errors:
                message = (error.evalue.splitlines() or [""])[0]
                assert f"{error.ename}: {message}".strip() in text, f"{kind}: {test_id}"
        said = text.count("# Hidden tests (not shown): ")
        assert said == sum(course.is_grade_test(c) for c in notebook.cells), kind
    partial = feedback_text(root, "partial")
    assert "# Hidden tests (not shown): ran and passed" in partial
    assert "# Hidden tests (not shown): not run: the cell stopped before them" in partial
    assert re.search(r"-+> 4 +raise NotImplementedError\(\)", partial), "the student's line"
    assert "hint: the reward at step t is weighted by gamma ** t" in feedback_text(root, "cheater")
    assert "[grading guard] found before this test: refused changing check.__code__" in (
        feedback_text(root, "code_swap")
    )


def test_a_second_run_resumes_and_grades_the_same(demo_run, demo_environment):
    root = demo_run.root
    before = {(o.student, o.score) for o in demo_run.outcomes}
    said = []
    autograde.autograde(root, echo=said.append)
    graded = len(EXPECTED_POINTS)
    assert said == [
        f"nothing new to grade in {course.submitted_dir(root)} ({graded} graded before)"
    ]
    # an interrupted run: the state lost two entries -> only those two are graded again
    state = autograde.load_state(root)
    for kind in ("perfect", "tamper"):
        del state[f"{kind}/{FIXTURE}"]
    autograde.save_state(root, state)
    said.clear()
    after = autograde.autograde(root, echo=said.append)
    assert any("2 submission(s) (perfect, tamper)" in line for line in said), said
    assert not any("preflight" in line for line in said), "the preflight is cached"
    assert {(o.student, o.score) for o in after} == before


def test_missing_sandbox_stops_grading(demo_run, monkeypatch):
    monkeypatch.setattr(sandbox, "_bwrap", lambda: None)
    monkeypatch.delenv(sandbox.OPT_OUT_VARIABLE, raising=False)
    with pytest.raises(sandbox.SandboxUnavailable, match="RLCOURSE_SANDBOX=off"):
        autograde.autograde(demo_run.root, regrade=True)
    assert autograde.load_state(demo_run.root), "the state of earlier runs is kept"


def test_student_bundle_has_no_solutions(demo_run, tmp_path):
    root = demo_run.root
    path = bundle.build(tmp_path / "bundle.zip", root)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        text = "\n".join(
            notebook_text(nbformat.reads(archive.read(n).decode(), as_version=4))
            for n in names
            if n.endswith(".ipynb")
        )
        everything = "\n".join(archive.read(n).decode(errors="replace") for n in names)
    inside = {n.split("/", 1)[1] for n in names}
    assert f"notebooks/{FIXTURE}/{FIXTURE}.ipynb" in inside
    assert {"README.md", "requirements.txt", "pyproject.toml", "rlhelpers/__init__.py"} <= inside
    for forbidden in ("solutions/", "grader/", "tests/", "bench/", "nbgrader_config.py"):
        assert not [n for n in inside if n.startswith(forbidden)], forbidden
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS"):
        assert marker not in everything
    source = course.source_path(root, FIXTURE).read_text()
    assert not [line for line in secret_lines(source) if line in text]
    assert 'include = ["rlhelpers*"]' in archive_text(path, "pyproject.toml")


def archive_text(path, name):
    with zipfile.ZipFile(path) as archive:
        return archive.read(f"{bundle.TOP}/{name}").decode()


def test_real_course_bundle_has_no_solution_files(tmp_path):
    """The real course's bundle: nothing of solutions/, no solution line of any lesson."""
    if not all(course.release_path(REPO, x).exists() for x in lesson_ids(REPO)):
        pytest.skip("notebooks/ is not released yet")
    path = bundle.build(tmp_path / "bundle.zip", REPO)
    with zipfile.ZipFile(path) as archive:
        content = {n.split("/", 1)[1]: archive.read(n) for n in archive.namelist()}
    assert not [n for n in content if n.startswith(("solutions/", "grader/", "tests/"))]
    # rlhelpers is the public infrastructure package, shipped as it is in the repository
    for name, data in content.items():
        if name.startswith("rlhelpers/"):
            assert data == (REPO / name).read_bytes(), name
    others = "\n".join(
        data.decode(errors="replace")
        for name, data in content.items()
        if not name.startswith(("rlhelpers/", "notebooks/"))
    )
    for lesson in lesson_ids(REPO):
        source = course.source_path(REPO, lesson).read_text()
        # a lesson's secrets against its own notebook (another lesson may share a line)
        everything = others + content[f"notebooks/{lesson}/{lesson}.ipynb"].decode()
        leaked = [line for line in secret_lines(source) if line in everything]
        assert not leaked, f"{lesson}: {leaked[:3]}"
        for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS"):
            assert marker not in everything


def test_zip_collect_from_an_lms_download(demo_run, tmp_path):
    root = demo_run.root
    release = course.release_path(root, FIXTURE)
    download = tmp_path / "download.zip"
    with zipfile.ZipFile(download, "w") as archive:
        archive.write(release, f"alice_{FIXTURE}.ipynb")
        archive.write(release, f"bob_{FIXTURE}.ipynb")
        archive.write(release, f"carol-{FIXTURE}.ipynb")  # does not match the documented pattern
        archive.writestr(f"../dave_{FIXTURE}.ipynb", release.read_bytes())  # leaves the archive
        archive.writestr(f"/tmp/erin_{FIXTURE}.ipynb", release.read_bytes())  # absolute
        archive.writestr("frank_notes.txt", "not a notebook")
        archive.writestr(f".._{FIXTURE}.ipynb", release.read_bytes())  # a student id that is ..
        archive.writestr(f"folder/.._{FIXTURE}.ipynb", release.read_bytes())
    skipped = exchange.zip_collect(root, FIXTURE, download)
    for student in ("alice", "bob"):
        assert sha256(course.submitted_path(root, student, FIXTURE)) == sha256(release)
    for student in ("carol", "dave", "erin", "frank"):
        assert not course.submitted_dir(root, student).exists(), student
    assert [s.split(":")[0] for s in skipped] == [
        f"'../dave_{FIXTURE}.ipynb'",
        f"'/tmp/erin_{FIXTURE}.ipynb'",
        "'frank_notes.txt'",
        f"'.._{FIXTURE}.ipynb'",
        f"'folder/.._{FIXTURE}.ipynb'",
    ]
    assert "'..' is not a valid student id" in skipped[-1]
    assert not (root.parent / f"dave_{FIXTURE}.ipynb").exists()
    assert not (course.work(root) / FIXTURE).exists(), "written outside grader/work/submitted"
    # autograde finds the collected submissions next to the class's, and nothing else
    found = autograde.submissions(root, [FIXTURE])
    assert sorted(found) == sorted((s, FIXTURE) for s in [*EXPECTED_POINTS, "alice", "bob"])
