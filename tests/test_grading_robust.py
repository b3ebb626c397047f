"""Bad submissions and a broken grading environment that need no class demo.

The demo (tests/test_grading_class.py) grades one simulated student of each
kind end to end; these tests pin the pieces that are cheap to test alone:
copying without links, the LMS zip's entries, the cell check, the guard's
module list, and the preflight that stops grading in a broken environment.
"""

from __future__ import annotations

import os
import stat
import zipfile

import nbformat
import pytest
from course_tools import FIXTURE_COURSE, NEEDS_SANDBOX, REPO, make_course

from grader import autograde, course, exchange, preflight, release
from grader.demo import students
from grader.kernel import guard, submission

FIXTURE = "00_fixture"


# --------------------------------------------------------------------------- links (item 7)


def test_a_copy_leaves_out_links_and_hard_links_to_files_of_others(tmp_path):
    secret = tmp_path / "instructor" / "solution.py"
    secret.parent.mkdir()
    secret.write_text("THE SOLUTION")
    handed_in = tmp_path / "handed_in"
    (handed_in / "data").mkdir(parents=True)
    (handed_in / "answer.ipynb").write_text("{}")
    (handed_in / "data" / "rewards.csv").write_text("1,2")
    (handed_in / "answers.py").symlink_to(secret)
    (handed_in / "data" / "more").symlink_to(secret.parent)
    if os.geteuid() == 0:  # a hard link to a file somebody else owns
        os.chown(secret, 12345, 12345)
        os.link(secret, handed_in / "hard.py")
    target = tmp_path / "copy"
    refused = submission.copy_folder(handed_in, target)
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == [
        "answer.ipynb",
        "data",
        "data/rewards.csv",
    ]
    assert "answers.py: answers.py is a symbolic link (links are not followed)" in refused
    assert any(r.startswith("data/more:") for r in refused)
    if os.geteuid() == 0:
        assert "hard.py: hard.py is a hard link to a file you do not own" in refused
    assert "THE SOLUTION" not in "".join(p.read_text() for p in target.rglob("*") if p.is_file())


def test_a_fingerprint_does_not_read_through_a_link(tmp_path):
    (tmp_path / "target").write_text("one")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "link").symlink_to(tmp_path / "target")
    before = autograde.fingerprint(folder)
    (tmp_path / "target").write_text("two")
    assert autograde.fingerprint(folder) == before


# --------------------------------------------------------------------------- LMS zip (item 4)


@pytest.mark.parametrize(
    ("name", "mode", "problem"),
    [
        ("alice_00_fixture.ipynb", 0o644, None),
        ("folder/bob_00_fixture.ipynb", 0o644, None),
        ("../evil_00_fixture.ipynb", 0o644, "a path that leaves the archive (..)"),
        ("a/../../evil_00_fixture.ipynb", 0o644, "a path that leaves the archive (..)"),
        ("/etc/evil_00_fixture.ipynb", 0o644, "an absolute path"),
        ("C:/evil_00_fixture.ipynb", 0o644, "an absolute path"),
        ("notes.txt", 0o644, "not a notebook (.ipynb)"),
        ("link_00_fixture.ipynb", stat.S_IFLNK | 0o777, "a symbolic link"),
    ],
)
def test_zip_entries_are_checked(name, mode, problem):
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    assert exchange.entry_problem(info) == problem


def test_safe_entries_are_copied_and_the_others_named(tmp_path):
    source, target = tmp_path / "download.zip", tmp_path / "kept.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("alice_00_fixture.ipynb", "{}")
        archive.writestr("../evil_00_fixture.ipynb", "{}")
        archive.writestr("readme.txt", "hello")
    skipped = exchange.copy_safe_entries(source, target)
    assert skipped == [
        "'../evil_00_fixture.ipynb': a path that leaves the archive (..)",
        "'readme.txt': not a notebook (.ipynb)",
    ]
    with zipfile.ZipFile(target) as kept:
        assert kept.namelist() == ["alice_00_fixture.ipynb"]


# --------------------------------------------------------------------------- cells (items 2, 3)


def _graded(cell_type, cell_id, solution=False, points=1):
    cell = (
        nbformat.v4.new_code_cell("x = 1")
        if cell_type == "code"
        else nbformat.v4.new_markdown_cell("text")
    )
    cell.metadata["nbgrader"] = {
        "grade": not solution or cell_type == "markdown",
        "grade_id": cell_id,
        "locked": not solution,
        "points": points,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    return cell


def test_copied_and_unknown_cells_lose_their_grade_metadata_with_a_note():
    reference = nbformat.v4.new_notebook(
        cells=[_graded("code", "answer", solution=True), _graded("code", "test_answer")]
    )
    handed_in = nbformat.v4.new_notebook(
        cells=[
            submission.note_cell(["a forged note"]),
            _graded("code", "answer", solution=True),
            _graded("code", "answer", solution=True),
            _graded("code", "test_answer"),
            _graded("code", "test_answer"),
            _graded("code", "test_of_another_lesson", points=10),
        ]
    )
    notes = submission.check_cells(handed_in, reference)
    ids = [course.grade_id(c) if c.metadata.get("nbgrader") else None for c in handed_in.cells]
    # an answer keeps its last copy, a test its first; the forged note is gone
    assert ids == [None, "answer", "test_answer", None, None]
    assert len(handed_in.cells) == 5
    assert any("test_of_another_lesson" in n and "carries no points" in n for n in notes)
    assert any("`answer` appears 2 times" in n and "the last" in n for n in notes)
    assert any("`test_answer` appears 2 times" in n and "the first" in n for n in notes)
    handed_in.cells.insert(0, submission.note_cell(notes))
    assert submission.grade_notes(handed_in) == [n.replace("`", "") for n in notes]


# --------------------------------------------------------------------------- guard (item 11)


def test_the_guard_restores_every_module_the_lessons_grade_cells_import():
    """The restore list follows the release notebooks' imports (no list kept by hand)."""
    guarded = set()
    for lesson in course.lesson_ids(REPO):
        path = course.release_path(REPO, lesson)
        if path.exists():
            guarded |= set(guard.guarded_modules(nbformat.read(path, as_version=4)))
    if not guarded:
        pytest.skip("notebooks/ is not released yet")
    for module in ("gymnasium", "rlhelpers.envs.tabular", "rlhelpers.bandits", "torch"):
        assert module in guarded, f"{module} is imported by a grade cell but not restored"
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("import torch.distributions as D\nfrom a.b import c, d"),
            _graded("code", "answer", solution=True),
        ]
    )
    notebook.cells[1].source = "import sneaky"
    names = guard.guarded_modules(notebook)
    assert {"torch", "torch.distributions", "a", "a.b", "a.b.c", "a.b.d"} <= set(names)
    assert "sneaky" not in names, "an answer cell's imports are the student's"
    assert set(guard.BASE_MODULES) <= set(names)


# --------------------------------------------------------------------------- preflight (item 12)


@NEEDS_SANDBOX
def test_a_broken_environment_stops_grading_and_writes_no_grade(tmp_path, monkeypatch):
    """The kernel imports an rlhelpers without its test helpers (another checkout): stop."""
    root = make_course(tmp_path, FIXTURE_COURSE, [FIXTURE])
    release.release(root, [FIXTURE])
    files = students.perfect(
        FIXTURE,
        nbformat.read(course.release_path(root, FIXTURE), as_version=4),
        nbformat.read(course.instructor_path(root, FIXTURE), as_version=4),
        {"root": root},
    )
    students.write_files(course.submitted_dir(root, "alice", FIXTURE), files)
    other = tmp_path / "other_checkout"
    (other / "rlhelpers").mkdir(parents=True)
    (other / "rlhelpers" / "__init__.py").write_text('"""An rlhelpers without testing.py."""\n')
    monkeypatch.setenv("PYTHONPATH", str(other))
    with pytest.raises(autograde.PreflightFailed) as failure:
        autograde.autograde(root, [FIXTURE], echo=lambda *a: None)
    message = str(failure.value)
    assert "no grade was written" in message
    assert "test_discounted_sum 0/2" in message, message
    assert "No module named 'rlhelpers.testing'" in message, message
    assert autograde.load_state(root) == {}
    assert autograde.scores(root) == {}, "the gradebook holds no grade of anybody"
    assert not course.autograded_dir(root, "alice").exists()
    assert not (course.work(root) / "preflight.json").exists()

    # fixed: the preflight passes once, and is not repeated while nothing changes
    monkeypatch.delenv("PYTHONPATH")
    autograde.preflight(root, FIXTURE, echo=lambda *a: None)
    assert autograde.scores(root) == {}, "the preflight's own grades are removed"
    monkeypatch.setattr(preflight, "grade_one", lambda *a, **k: pytest.fail("repeated"))
    autograde.preflight(root, FIXTURE, echo=lambda *a: None)
    key = autograde.environment_key(root, FIXTURE)
    monkeypatch.setenv("PYTHONPATH", str(other))
    assert autograde.environment_key(root, FIXTURE) != key, "a changed environment is checked"


# --------------------------------------------------------------------------- student ids (issue 29)


@pytest.mark.parametrize(
    ("student", "valid"),
    [
        ("alice", True),
        ("j.doe-2", True),
        ("A_b", True),
        ("x" * 64, True),
        ("x" * 65, False),
        ("..", False),
        (".", False),
        ("", False),
        (".hidden", False),
        ("a/b", False),
        ("../etc", False),
        ("a b", False),
        ("a+b", False),
        ("é", False),
    ],
)
def test_one_rule_for_student_ids(student, valid):
    assert (course.student_id_problem(student) is None) is valid


def test_a_student_id_that_is_a_path_is_reported_and_never_written(tmp_path):
    """Zip entries and exchange records with an invalid student id are left out, with why."""
    import re

    pattern = re.compile(course.load_config(REPO).FileNameCollectorPlugin.named_regexp)
    source, target = tmp_path / "download.zip", tmp_path / "kept.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr(f"alice_{FIXTURE}.ipynb", "{}")
        archive.writestr(f".._{FIXTURE}.ipynb", "{}")
        archive.writestr(f"sub/.._{FIXTURE}.ipynb", "{}")
    skipped = exchange.copy_safe_entries(source, target, pattern)
    assert [s.split(":")[0] for s in skipped] == [
        f"'.._{FIXTURE}.ipynb'",
        f"'sub/.._{FIXTURE}.ipynb'",
    ]
    assert all("'..' is not a valid student id" in s for s in skipped)
    with zipfile.ZipFile(target) as kept:
        assert kept.namelist() == [f"alice_{FIXTURE}.ipynb"]
    records = [
        {"username": "bob", "filename": f"bob+{FIXTURE}+1"},
        {"username": "..", "filename": f"..+{FIXTURE}+1"},
    ]
    kept_records, refused = exchange.collectable(records)
    assert kept_records == records[:1]
    assert refused == [f"..+{FIXTURE}+1: " + course.student_id_problem("..")]
