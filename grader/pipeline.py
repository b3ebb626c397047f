"""Autograding a course, one submission at a time: the whole path, top to bottom.

    grade_all(root, workers=N)           # N warm grader processes here (N = 1: serial)
    grade_all(root, broker="redis://")   # Celery workers elsewhere (grader/celery_app.py)

1. **pending**: the submissions in grader/work/submitted/ that are new or changed
   since grader/work/autograde_state.json recorded them (all with `regrade`);
2. **preflight**: per lesson, its grading kit (the release and a gradebook of its
   cells, made in a throw-away copy of the course; kept in grader/work/kits/
   while nothing it depends on changes), and its reference answers
   graded with that kit (grader/preflight.py; cached while nothing changed);
3. **jobs**: each submission copied without links (nbgrader's ignore list
   applied) and packed, with the lesson's kit and the grading limits: a Task;
4. **run**: `grade_one` on each task (grader/grade_one.py), in warm processes
   here or on Celery workers (grader/runners.py);
5. **record and classify**: each result written into the course, as nbgrader
   would, by this process only, its outcome classified and the state file
   written (grader/recording.py);
6. **outcomes and reports**: grader/work/outcomes.csv (`outcomes`).

Submissions are never modified (their hash is checked before and after
grading); a submission that cannot be graded gets 0 and a clear outcome and
never stops the others; one that no grader could grade is reported and not
recorded, so the next run grades it.
"""

from __future__ import annotations

import contextlib
import csv
import fnmatch
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grader import course, preflight
from grader.course import REPO
from grader.grade_one import Kit, Task, folder_files, pack
from grader.gradebook import has_assignment, scores, sqlite_url
from grader.kernel import sandbox, submission
from grader.limits import GradingLimits, environment
from grader.recording import Job, Recorder, fingerprint, load_state
from grader.release import release
from grader.runners import default_workers, run_here, run_through_broker, start_warm_server

PREFLIGHT_STUDENT = "rlcourse-preflight"
"""A student id that grading never records (older courses' preflight; skipped when found)."""


@dataclass
class Outcome:
    student: str
    lesson: str
    status: str  # graded | wrong file name | invalid notebook | refused | grading failed
    score: float
    max_score: float
    details: str


@dataclass
class GradeRun:
    """What a run graded: outcomes of the course, seconds per submission, wall time."""

    outcomes: list[Outcome]
    seconds: dict[str, float] = field(default_factory=dict)
    """{"student/lesson": seconds its grader took}, for the submissions graded in this run."""
    failed: dict[str, str] = field(default_factory=dict)
    """{"student/lesson": why}: what no grader could grade (not recorded: the next run tries)."""
    wall_s: float = 0.0
    mode: str = "serial"
    grader_cpu_s: float = 0.0
    """CPU seconds the grader processes spent on this run's submissions (kernels not included)."""


def grade_all(
    root: Path = REPO,
    workers: int | None = None,
    broker: str | None = None,
    lessons: list[str] | None = None,
    regrade: bool = False,
    echo: Callable[[str], object] = print,
    progress: bool | None = None,
) -> GradeRun:
    """Grade every new or changed submission: `workers` at a time here, or through `broker`."""
    root, workers = root.resolve(), workers or default_workers()
    lessons = lessons or course.lesson_ids(root)
    progress = sys.stderr.isatty() if progress is None else progress
    started = time.perf_counter()
    with grading_run(echo):
        state = {} if regrade else load_state(root)
        found_in = {lesson: pending_submissions(root, lesson, state) for lesson in lessons}
        pending = {lesson: found for lesson, found in found_in.items() if found}
        if pending and not broker:
            start_warm_server()  # (it imports nbgrader while this process prepares the jobs)
        kits = {lesson: checked_kit(root, lesson, echo) for lesson in pending}
        jobs = [
            make_job(root, student, lesson, digest)
            for lesson, found in pending.items()
            for student, digest in found.items()
        ]
        tasks = {job.key: task_of(root, job, kits[job.lesson]) for job in jobs}
        recorder = Recorder(root, state, jobs, progress, echo)
        try:
            if not jobs:
                where = course.submitted_dir(root)
                echo(f"nothing new to grade in {where} ({len(state)} graded before)")
            elif broker:
                run_through_broker(broker, tasks, recorder)
            else:
                for lesson, found in pending.items():
                    echo(f"autograding {lesson}: {len(found)} submission(s) ({', '.join(found)})")
                run_here(tasks, workers, recorder)
        finally:
            recorder.close()
    mode = f"celery ({broker})" if broker else "serial" if workers == 1 else f"{workers} workers"
    wall = time.perf_counter() - started
    cpu = sum(recorder.cpu.values())
    return GradeRun(outcomes(root), recorder.seconds, recorder.failed, wall, mode, cpu)


def autograde(
    root: Path = REPO,
    lessons: list[str] | None = None,
    regrade: bool = False,
    echo=print,
    workers: int = 1,
    broker: str | None = None,
    progress: bool | None = None,
) -> list[Outcome]:
    """grade_all's outcomes (serial unless `workers` or `broker` say otherwise)."""
    return grade_all(root, workers, broker, lessons, regrade, echo, progress).outcomes


# --------------------------------------------------------------------------- 0. the run


@contextlib.contextmanager
def grading_run(echo=print):
    """While grading: the sandbox checked (or its opt-out said), a private runtime folder."""
    if sandbox.opted_out():
        echo(f"WARNING: {sandbox.OPT_OUT_VARIABLE}=off: grading WITHOUT the sandbox")
    else:
        sandbox.check()  # raises SandboxUnavailable with why and how to opt out
    with (
        tempfile.TemporaryDirectory(prefix="rlcourse-runtime-") as runtime,
        environment({"JUPYTER_RUNTIME_DIR": runtime}),
    ):
        yield


# --------------------------------------------------------------------------- 1. pending


def submissions(root: Path, lessons: list[str] | None = None) -> list[tuple[str, str]]:
    """(student, lesson) of every collected submission of the course's lessons."""
    known = lessons or course.lesson_ids(root)
    found = []
    submitted = course.submitted_dir(root)
    if submitted.is_dir():
        for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir()):
            if student_dir.name == PREFLIGHT_STUDENT or student_dir.is_symlink():
                continue
            for lesson in known:
                if (student_dir / lesson).is_dir():
                    found.append((student_dir.name, lesson))
    return found


def pending_submissions(root: Path, lesson: str, state: dict) -> dict[str, str]:
    """{student: fingerprint} of a lesson's submissions that are new or changed since `state`."""
    students = [s for s, lesson_id in submissions(root, [lesson]) if lesson_id == lesson]
    hashes = {s: fingerprint(course.submitted_dir(root, s, lesson)) for s in students}
    return {s: h for s, h in hashes.items() if state.get(f"{s}/{lesson}", {}).get("hash") != h}


# --------------------------------------------------------------------------- 2. preflight


def ensure_in_gradebook(root: Path, lesson: str) -> None:
    """The gradebook knows a lesson's grade cells only after generate_assignment."""
    if not has_assignment(root, lesson):
        release(root, [lesson])


def build_kit(root: Path, lesson: str) -> Kit:
    """The lesson's grading kit, made by generate_assignment in a throw-away course copy."""
    with tempfile.TemporaryDirectory(prefix="rlcourse-kit-") as tmp:
        scratch = course.copy_course(root, Path(tmp), [lesson])
        with environment({"NBGRADER_DB_URL": sqlite_url(scratch)}):
            release(scratch, [lesson])
        release_path = course.release_path(scratch, lesson)
        files = {
            release_path.relative_to(scratch).as_posix(): release_path.read_bytes(),
            course.GRADEBOOK.as_posix(): (scratch / course.GRADEBOOK).read_bytes(),
        }
    return Kit(lesson, pack(files))


def checked_kit(root: Path, lesson: str, echo=print) -> Kit:
    """The lesson's kit, once its reference answers got every point with it (the preflight).

    The kit is kept in grader/work/kits/ under the preflight's key (the lesson, the
    grading code, nbgrader's version...), so it is built again only when that changes.
    """
    ensure_in_gradebook(root, lesson)
    key = preflight.environment_key(root, lesson)
    kit = stored_kit(root, lesson, key) or store_kit(root, key, build_kit(root, lesson))
    preflight.check(root, lesson, kit, echo, key)
    return kit


def kit_path(root: Path, lesson: str) -> Path:
    return course.work(root) / "kits" / f"{lesson}.json"


def stored_kit(root: Path, lesson: str, key: str) -> Kit | None:
    """The kit kept for this key, or None."""
    path = kit_path(root, lesson)
    stored = json.loads(path.read_text()) if path.exists() else {}
    return Kit(lesson, stored["packed"]) if stored.get("key") == key else None


def store_kit(root: Path, key: str, kit: Kit) -> Kit:
    path = kit_path(root, kit.lesson)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"key": key, "packed": kit.packed}))
    return kit


def check_preflight(root: Path, lesson: str, echo=print) -> None:
    """The preflight of one lesson on its own (PreflightFailed unless every point)."""
    checked_kit(root.resolve(), lesson, echo)


# --------------------------------------------------------------------------- 3. jobs


def ignored(root: Path) -> Callable[[Path], bool]:
    """nbgrader's CourseDirectory.ignore patterns, as a test on a path."""
    patterns = list(course.load_config(root).CourseDirectory.get("ignore", []))
    return lambda path: any(fnmatch.fnmatch(path.name, p) for p in patterns if p != "*.py")


def make_job(root: Path, student: str, lesson: str, digest: str) -> Job:
    """A submission's folder copied without links (nbgrader's ignore list applied), packed."""
    with tempfile.TemporaryDirectory(prefix="rlcourse-pack-") as tmp:
        copy = Path(tmp) / "copy"
        refused = submission.copy_folder(
            course.submitted_dir(root, student, lesson), copy, ignored(root)
        )
        return Job(student, lesson, pack(folder_files(copy)), refused, digest)


def task_of(root: Path, job: Job, kit: Kit) -> Task:
    """What a grader gets of a job: no student id; the course's config and limits."""
    return Task(job.lesson, kit, job.packed, GradingLimits.from_env(), str(course_config(root)))


def course_config(root: Path) -> Path:
    """The nbgrader_config.py a course is graded with (the fixture course uses this one's)."""
    own = root / course.CONFIG_FILE
    return own if own.exists() else REPO / course.CONFIG_FILE


# --------------------------------------------------------------------------- 6. outcomes


def outcomes(root: Path = REPO) -> list[Outcome]:
    """The outcome of every graded submission, also written to grader/work/outcomes.csv."""
    root = root.resolve()
    state = load_state(root)
    points = scores(root)
    result = []
    for key, entry in sorted(state.items()):
        student, lesson = key.split("/", 1)
        score, max_score = points.get((student, lesson), (0.0, 0.0))
        result.append(Outcome(student, lesson, entry["status"], score, max_score, entry["details"]))
    with open(course.work(root) / "outcomes.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(Outcome.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(asdict(o) for o in result)
    return result
