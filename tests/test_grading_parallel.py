"""Parallel grading on one machine gives exactly the grades of serial grading.

One module-scoped run grades the fixture course's whole bad-submission corpus
two submissions at a time (grader/pipeline.py: two warm grader processes);
every cell's score and every outcome must be what serial grading gives, as
tests/grading_corpus.py pins it
(tests/test_grading_class.py checks the same tables on a serial run). The
cheaper pieces (packing, kits, the scratch course, the progress bar) are
tested alone.
"""

from __future__ import annotations

import os
import tempfile

import nbformat
import pytest
from course_tools import FIXTURE_COURSE, NEEDS_SANDBOX, make_course, secret_lines
from grading_corpus import (
    EXPECTED_OUTCOME,
    FIXTURE,
    assert_outcome,
    assert_pinned_points,
    corpus_course,
    corpus_kinds,
    grading_limits,
)

from grader import autograde, course, grade_one, gradebook, pipeline, recording

pytestmark = NEEDS_SANDBOX
NOT_GRADED = {kind: said[0] for kind, said in EXPECTED_OUTCOME.items() if said[0] != "graded"}
"""the corpus kinds that nbgrader never runs, with their status"""


class Said(list):
    def __call__(self, line):
        self.append(str(line))


@pytest.fixture(scope="module")
def two_at_a_time(tmp_path_factory):
    """(course, the run, what it said): the corpus graded by two workers."""
    root = corpus_course(tmp_path_factory.mktemp("parallel"))
    said = Said()
    with grading_limits():
        run = pipeline.grade_all(root, workers=2, echo=said, progress=False)
    return root, run, said


def test_every_cell_scores_what_serial_grading_gives(two_at_a_time):
    root, run, _ = two_at_a_time
    assert_pinned_points(root)
    assert run.mode == "2 workers" and not run.failed
    assert set(run.seconds) == {f"{kind}/{FIXTURE}" for kind in corpus_kinds()}, (
        "every submission was graded by a worker"
    )


def test_every_outcome_says_what_serial_grading_says(two_at_a_time):
    root, run, _ = two_at_a_time
    recorded = autograde.outcomes(root)
    assert sorted(o.student for o in recorded) == corpus_kinds()
    for outcome in recorded:
        assert_outcome(outcome)
    assert sorted((o.student, o.status) for o in run.outcomes) == sorted(
        (o.student, o.status) for o in recorded
    )


def test_gradebook_has_each_submission_once_and_no_preflight_student(two_at_a_time):
    from nbgrader.api import Gradebook

    root, _, _ = two_at_a_time
    config = course.load_config(root).CourseDirectory
    with Gradebook(config.db_url, config.course_id) as gradebook:
        handed_in = [s.student.id for s in gradebook.find_assignment(FIXTURE).submissions]
        students = {s.id for s in gradebook.students}
    assert sorted(handed_in) == corpus_kinds()
    assert autograde.PREFLIGHT_STUDENT not in students


def test_the_preflight_ran_once_for_the_lesson(two_at_a_time):
    _, _, said = two_at_a_time
    assert len([line for line in said if line.startswith(f"  preflight {FIXTURE}")]) == 1, said


def test_autograded_notebooks_are_where_feedback_reads_them(two_at_a_time):
    root, _, _ = two_at_a_time
    status = {o.student: o.status for o in autograde.outcomes(root)}
    for kind in corpus_kinds():
        graded = course.autograded_path(root, kind, FIXTURE).exists()
        assert graded == (kind not in NOT_GRADED), (kind, status[kind])
    for kind, said in NOT_GRADED.items():
        assert status[kind] == said
    graded = nbformat.read(course.autograded_path(root, "exception", FIXTURE), as_version=4)
    errors = [o.ename for c in graded.cells for o in c.get("outputs", []) if "ename" in o]
    assert "ValueError" in errors
    pages = autograde.feedback(root, [FIXTURE], echo=lambda *a: None)
    assert len(pages) == len(corpus_kinds())


def test_an_interrupted_run_grades_only_what_was_not_recorded(two_at_a_time):
    two, _, _ = two_at_a_time
    before = gradebook.cell_points(two)
    state = autograde.load_state(two)
    for kind in ("perfect", "tamper"):
        del state[f"{kind}/{FIXTURE}"]
    autograde.save_state(two, state)
    said = Said()
    with grading_limits():
        run = pipeline.grade_all(two, workers=2, echo=said, progress=False)
    assert set(run.seconds) == {f"perfect/{FIXTURE}", f"tamper/{FIXTURE}"}
    assert not [line for line in said if "preflight" in line], "the preflight is cached"
    assert gradebook.cell_points(two) == before
    with grading_limits():
        again = pipeline.grade_all(two, workers=2, echo=said, progress=False)
    assert again.seconds == {}
    assert said[-1].startswith("nothing new to grade")


# --------------------------------------------------------------------------- the pieces


def test_a_kit_holds_the_release_and_a_gradebook_without_students_or_solutions(tmp_path):
    from nbgrader.api import Gradebook

    root = make_course(tmp_path, FIXTURE_COURSE, [FIXTURE])
    kit = pipeline.build_kit(root, FIXTURE)
    files = grade_one.unpack(kit.packed)
    assert sorted(files) == [course.GRADEBOOK.as_posix(), f"notebooks/{FIXTURE}/{FIXTURE}.ipynb"]
    source = course.source_path(root, FIXTURE).read_text()
    solution_only = secret_lines(source.split("### BEGIN HIDDEN TESTS")[0])
    assert solution_only
    for name, data in files.items():
        text = data.decode(errors="replace")
        assert not [line for line in solution_only if line in text], name
    database = tmp_path / "kit.db"
    database.write_bytes(files[course.GRADEBOOK.as_posix()])
    with Gradebook(f"sqlite:///{database}", course.COURSE_ID) as gradebook:
        assert gradebook.students == []
        assert [a.name for a in gradebook.assignments] == [FIXTURE]
    assert not course.work(root).joinpath("gradebook.db").exists(), "the course is untouched"


def test_the_scratch_course_holds_only_what_grading_needs(tmp_path, monkeypatch):
    kit = grade_one.pack({"notebooks/x/x.ipynb": b"{}", "grader/work/gradebook.db": b""})
    handed_in = grade_one.pack({"x.ipynb": b"{}", "data/rewards.csv": b"1,2"})
    seen = {}

    def fake_nbgrader(root, lesson, student):
        seen["files"] = sorted(
            p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()
        )
        seen["student"], seen["db"] = student, os.environ["NBGRADER_DB_URL"]
        return False, "nbgrader failed"

    monkeypatch.setattr(grade_one, "autograde_here", fake_nbgrader)
    monkeypatch.setattr(grade_one, "scratch_grades", lambda root, lesson: ({}, {}))
    task = grade_one.Task("x", grade_one.Kit("x", kit), handed_in)
    result = grade_one.grade_one(task)
    assert seen["files"] == [
        "grader/work/gradebook.db",
        f"grader/work/submitted/{grade_one.STUDENT}/x/data/rewards.csv",
        f"grader/work/submitted/{grade_one.STUDENT}/x/x.ipynb",
        "nbgrader_config.py",
        "notebooks/x/x.ipynb",
    ]
    assert seen["db"].endswith("/course/grader/work/gradebook.db"), "never the course's database"
    assert "NBGRADER_DB_URL" not in os.environ or os.environ["NBGRADER_DB_URL"] != seen["db"]
    assert seen["student"] == grade_one.STUDENT
    assert result.autograded is None and result.log == "nbgrader failed"


def test_grading_leaves_nothing_in_the_temporary_folder(tmp_path, monkeypatch):
    """A warm grader's kit and scratch courses go away with it: /tmp does not fill up."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    monkeypatch.setattr(grade_one, "autograde_here", lambda root, lesson, student: (False, ""))
    monkeypatch.setattr(grade_one, "scratch_grades", lambda root, lesson: ({}, {}))
    kit = grade_one.Kit("x", grade_one.pack({"notebooks/x/x.ipynb": str(tmp_path).encode()}))
    for number in range(2):
        handed_in = grade_one.pack({"x.ipynb": f"{number}".encode()})
        grade_one.grade_one(grade_one.Task("x", kit, handed_in))
    assert list(temporary.iterdir()) == []


def test_a_grader_keeps_the_kits_it_used_last_and_no_more(monkeypatch):
    monkeypatch.setattr(grade_one, "KITS", {})
    kits = [grade_one.Kit("x", grade_one.pack({"n.txt": f"{n}".encode()})) for n in range(10)]
    for kit in kits[: grade_one.KITS_KEPT]:
        grade_one.unpacked_kit(kit)
    grade_one.unpacked_kit(kits[0])  # used again: now the most recent
    grade_one.unpacked_kit(kits[-1])
    assert len(grade_one.KITS) == grade_one.KITS_KEPT
    assert kits[0].key in grade_one.KITS and kits[1].key not in grade_one.KITS
    assert grade_one.unpacked_kit(kits[-1]) == {"n.txt": b"9"}


def test_a_packed_name_that_leaves_its_folder_is_refused():
    assert grade_one.unpack(grade_one.pack({"a/b.txt": b"x"})) == {"a/b.txt": b"x"}
    for name in ("../escape.txt", "/etc/passwd", "a/../../b"):
        with pytest.raises(ValueError, match="leaves its folder"):
            grade_one.unpack(grade_one.pack({name: b"x"}))


def test_the_progress_bar_counts_done_failed_and_left(tmp_path, capsys):
    jobs = [recording.Job(f"s{n}", FIXTURE, "", [], "") for n in range(3)]
    recorder = recording.Recorder(tmp_path, {}, jobs, progress=True, echo=lambda *a: None)
    recorder.fail(f"s0/{FIXTURE}", "the worker died")
    recorder.close()
    err = capsys.readouterr().err
    assert "done=1" in err and "failed=1" in err and "left=2" in err, err
    assert "1/3" in err and "<" in err, "tqdm's count and its estimate of the time left"
    assert recorder.failed == {f"s0/{FIXTURE}": "the worker died"}
    recorder.fail(f"s0/{FIXTURE}", "again")
    assert recorder.failed == {f"s0/{FIXTURE}": "the worker died"}, "counted once"
