"""Grade a whole class in parallel: one sandboxed nbgrader run per submission, one gradebook writer.

    python -m grader.autograde --workers 4           # 4 submissions at a time on this machine
    python -m grader.autograde --broker redis://...  # Celery workers (grader/celery_app.py)
    python -m grader.parallel --bench --copies 4     # wall time: serial, 2 workers, 2 Celery

The coordinator (the process that runs autograde) owns the course: it checks
every lesson once (the preflight of grader/autograde.py), builds a **grading
kit** per lesson and records every result in the course's gradebook, the one
writer. A kit is what grading a submission of that lesson needs and nothing
else: the released notebook and a gradebook that holds the lesson's cells and
hidden tests, made by `generate_assignment` in a throw-away copy of the
course (no student, no grade, no solution: nbgrader keeps the released stubs
of answer cells). A submission travels as a zip of its folder, copied without
links (grader/submission.py).

A grader (a thread here, a Celery worker elsewhere) unpacks the kit and the
submission into a scratch course of its own, runs `nbgrader autograde` for
that one submission with the course's nbgrader_config.py (the same sandbox,
guard and preprocessors as serial grading), and returns the autograded folder,
the score of every grade cell, the comments and nbgrader's log.

Recording a result does what nbgrader's own autograde does to the gradebook
(SaveAutoGrades, AssignLatePenalties) with the grader's scores: a manual grade
given earlier is kept and flagged for review, as when grading serially. The
state file (grader/work/autograde_state.json) is written after each recorded
submission, so an interrupted run grades again only what was not recorded.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader import autograde, course, sandbox, submission
from grader.course import REPO
from grader.nbgrader_cli import nbgrader_env

STUDENT = "student"
"""The student id inside a scratch course (the real id never leaves the coordinator)."""
GRADING_VARIABLES = (
    course.CELL_TIMEOUT_VARIABLE,
    sandbox.MEMORY_VARIABLE,
    sandbox.FILE_VARIABLE,
    sandbox.THREADS_VARIABLE,
    sandbox.TMP_VARIABLE,
    sandbox.WRITE_VARIABLE,
    sandbox.PROCESS_VARIABLE,
    sandbox.OUTPUT_VARIABLE,
)
"""Limits a task carries from the coordinator to a remote grader (the sandbox opt-out never)."""


def default_workers() -> int:
    """Submissions graded at a time on this machine: RLCOURSE_WORKERS, or the number of cores."""
    return int(os.environ.get("RLCOURSE_WORKERS") or os.cpu_count() or 1)


# --------------------------------------------------------------------------- packing


def pack(files: dict[str, bytes]) -> str:
    """A zip of {relative path: bytes}, as base64 text (what travels in a JSON task)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            archive.writestr(name, data)
    return base64.b64encode(buffer.getvalue()).decode()


def unpack(text: str) -> dict[str, bytes]:
    """The files of a `pack`ed zip; a name that would leave its folder is an error."""
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(text))) as archive:
        files = {}
        for name in archive.namelist():
            parts = Path(name).parts
            if Path(name).is_absolute() or ".." in parts or not parts:
                raise ValueError(f"a packed file leaves its folder: {name!r}")
            if not name.endswith("/"):
                files[name] = archive.read(name)
        return files


def folder_files(folder: Path) -> dict[str, bytes]:
    """{relative path: bytes} of the regular files under a folder (links are never followed)."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


# --------------------------------------------------------------------------- kits


@dataclass(frozen=True)
class Kit:
    """What grading one lesson's submissions needs: its release and a gradebook of its cells."""

    lesson: str
    packed: str

    @property
    def key(self) -> str:
        return hashlib.sha256(self.packed.encode()).hexdigest()


@contextlib.contextmanager
def _database(url: str):
    """NBGRADER_DB_URL set to `url` while nbgrader runs here (the config file reads it)."""
    saved = os.environ.get("NBGRADER_DB_URL")
    os.environ["NBGRADER_DB_URL"] = url
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("NBGRADER_DB_URL", None)
        else:
            os.environ["NBGRADER_DB_URL"] = saved


def build_kit(root: Path, lesson: str) -> Kit:
    """The lesson's grading kit, made by generate_assignment in a throw-away course copy."""
    from grader.release import release

    with tempfile.TemporaryDirectory(prefix="rlcourse-kit-") as tmp:
        scratch = course.copy_course(root, Path(tmp), [lesson])
        with _database("sqlite:///" + str(scratch / course.GRADEBOOK)):
            release(scratch, [lesson])
        release_path = course.release_path(scratch, lesson)
        files = {
            release_path.relative_to(scratch).as_posix(): release_path.read_bytes(),
            course.GRADEBOOK.as_posix(): (scratch / course.GRADEBOOK).read_bytes(),
        }
    return Kit(lesson, pack(files))


def course_config(root: Path) -> Path:
    """The nbgrader_config.py a course is graded with (the fixture course uses this one's)."""
    own = root / course.CONFIG_FILE
    return own if own.exists() else REPO / course.CONFIG_FILE


# --------------------------------------------------------------------------- one submission


def grading_settings() -> dict[str, str]:
    """The coordinator's grading limits that are set (GRADING_VARIABLES)."""
    return {name: os.environ[name] for name in GRADING_VARIABLES if name in os.environ}


def grade_packed(
    kit: str,
    lesson: str,
    packed_submission: str,
    config: Path | None = None,
    settings: dict[str, str] | None = None,
) -> dict:
    """Grade one packed submission in a scratch course of its own; the result (JSON-ready).

    {"autograded": packed folder or None, "grades": {grade_id: [auto_score, needs_manual]},
    "comments": {grade_id: auto_comment}, "log": nbgrader's output, "seconds": grading time}
    """
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rlcourse-grade-") as tmp:
        root = Path(tmp) / "course"
        write_files(root, unpack(kit))
        shutil.copy(config or REPO / course.CONFIG_FILE, root / course.CONFIG_FILE)
        write_files(course.submitted_dir(root, STUDENT, lesson), unpack(packed_submission))
        env = nbgrader_env()
        env.update({k: v for k, v in (settings or {}).items() if k in GRADING_VARIABLES})
        env["NBGRADER_DB_URL"] = "sqlite:///" + str(root / course.GRADEBOOK)
        env["JUPYTER_RUNTIME_DIR"] = str(Path(tmp) / "runtime")
        args = ["autograde", lesson, "--force", "--log-level=WARN", f"--student={STUDENT}"]
        result = subprocess.run(
            [sys.executable, "-m", "nbgrader", *args],
            cwd=root,
            capture_output=True,
            text=True,
            env=env,
        )
        graded = course.autograded_dir(root, STUDENT, lesson)
        grades, comments = _scratch_grades(root, lesson)
        return {
            "autograded": pack(folder_files(graded)) if graded.is_dir() else None,
            "grades": grades,
            "comments": comments,
            "log": result.stdout + result.stderr,
            "seconds": time.perf_counter() - started,
        }


def _scratch_grades(root: Path, lesson: str) -> tuple[dict, dict]:
    """The scratch gradebook's grades and comments of the one submission (empty if none)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook("sqlite:///" + str(root / course.GRADEBOOK), course.COURSE_ID) as gradebook:
        try:
            notebook = gradebook.find_submission_notebook(lesson, lesson, STUDENT)
        except MissingEntry:
            return {}, {}
        grades = {g.name: [g.auto_score, bool(g.needs_manual_grade)] for g in notebook.grades}
        comments = {c.name: c.auto_comment for c in notebook.comments}
    return grades, comments


# --------------------------------------------------------------------------- recording


def record(root: Path, student: str, lesson: str, result: dict) -> None:
    """Write a grader's result into the course: the autograded folder and the gradebook."""
    target = course.autograded_dir(root, student, lesson)
    if target.exists():
        shutil.rmtree(target)
    if result["autograded"] is not None:
        write_files(target, unpack(result["autograded"]))
    _record_grades(root, student, lesson, result)
    logs = course.work(root) / "logs"
    logs.mkdir(exist_ok=True)
    with open(logs / f"autograde-{lesson}.log", "a") as handle:
        handle.write(f"--- {student}\n{result['log']}")


def _timestamp(root: Path, student: str, lesson: str) -> str | None:
    path = course.submitted_dir(root, student, lesson) / "timestamp.txt"
    text = path.read_text().strip() if path.is_file() and not path.is_symlink() else ""
    return text or None


def _record_grades(root: Path, student: str, lesson: str, result: dict) -> None:
    """Scores and comments as nbgrader's SaveAutoGrades and AssignLatePenalties would write them."""
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import AssignLatePenalties
    from nbgrader.utils import parse_utc

    config = course.load_config(root)
    url, course_id = config.CourseDirectory.db_url, config.CourseDirectory.course_id
    graded = result["autograded"] is not None
    with warnings.catch_warnings(), Gradebook(url, course_id) as gradebook:
        # (nbgrader's add_submission warns about its own session; its autograde does too)
        warnings.filterwarnings("ignore", "Object of type", module="sqlalchemy")
        warnings.filterwarnings("ignore", "Object of type", module="nbgrader")
        gradebook.update_or_create_student(student)
        stamp = _timestamp(root, student, lesson)
        extra = {"timestamp": parse_utc(stamp)} if stamp else {}
        gradebook.update_or_create_submission(lesson, student, **extra)
        for name, (auto_score, needs_manual) in result["grades"].items():
            grade = gradebook.find_grade(name, lesson, lesson, student)
            grade.auto_score = auto_score
            # SaveAutoGrades: an earlier manual grade is kept and marked for review
            grade.needs_manual_grade = needs_manual or (graded and grade.manual_score is not None)
        for name, text in result["comments"].items():
            gradebook.find_comment(name, lesson, lesson, student).auto_comment = text
        gradebook.db.commit()
    if graded:
        resources = {
            "nbgrader": {
                "notebook": lesson,
                "assignment": lesson,
                "student": student,
                "db_url": url,
            }
        }
        AssignLatePenalties(config=config).preprocess(nbformat.v4.new_notebook(), resources)


# --------------------------------------------------------------------------- a run


@dataclass
class Job:
    """One submission to grade: who, which lesson, its packed folder and what was left out."""

    student: str
    lesson: str
    packed: str
    refused: list[str]
    fingerprint: str

    @property
    def key(self) -> str:
        return f"{self.student}/{self.lesson}"


@dataclass
class GradeRun:
    """What a run graded: outcomes of the course, seconds per submission, wall time."""

    outcomes: list[autograde.Outcome]
    seconds: dict[str, float] = field(default_factory=dict)
    """{"student/lesson": seconds its grader took}, for the submissions graded in this run."""
    failed: dict[str, str] = field(default_factory=dict)
    """{"student/lesson": why}: what no grader could grade (not recorded: the next run tries)."""
    wall_s: float = 0.0
    mode: str = "serial"


def make_job(root: Path, student: str, lesson: str, fingerprint: str) -> Job:
    """A submission's folder copied without links (nbgrader's ignore list applied), packed."""
    with tempfile.TemporaryDirectory(prefix="rlcourse-pack-") as tmp:
        copy = Path(tmp) / "copy"
        refused = submission.copy_folder(
            course.submitted_dir(root, student, lesson), copy, autograde._ignored(root)
        )
        return Job(student, lesson, pack(folder_files(copy)), refused, fingerprint)


class Recorder:
    """The one writer of the course's gradebook and state: records each result once."""

    def __init__(self, root: Path, state: dict, jobs: list[Job], progress: bool, echo):
        self.root, self.state, self.echo = root, state, echo
        self.left = {job.key: job for job in jobs}
        self.seconds: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self.recorded: list[str] = []
        self.bar = _progress_bar(len(jobs), progress)
        self._done = self._bad = 0

    def record(self, key: str, result: dict) -> bool:
        """Record one grader's result; False when that submission was recorded already."""
        job = self.left.pop(key, None)
        if job is None:
            return False
        after = autograde.fingerprint(course.submitted_dir(self.root, job.student, job.lesson))
        if after != job.fingerprint:
            raise RuntimeError(f"submission {key} changed while grading")
        record(self.root, job.student, job.lesson, result)
        status, details = autograde._classify(
            self.root, job.student, job.lesson, result["log"], job.refused
        )
        self.state[key] = {"hash": job.fingerprint, "status": status, "details": details}
        autograde.save_state(self.root, self.state)
        self.seconds[key] = result["seconds"]
        self.recorded.append(key)
        self._tick(status != "graded")
        return True

    def fail(self, key: str, why: str) -> None:
        """A submission no grader could grade: said, not recorded (the next run tries again)."""
        if self.left.pop(key, None) is not None:
            self.failed[key] = why
            self.echo(f"  {key}: could not be graded: {why}")
            self._tick(True)

    def _tick(self, bad: bool) -> None:
        self._done += 1
        self._bad += bad
        if self.bar is not None:
            self.bar.set_postfix(done=self._done, failed=self._bad, left=len(self.left))
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _progress_bar(total: int, shown: bool):
    if not shown or not total:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="submission", desc="autograding", file=sys.stderr)


def grade_all(
    root: Path = REPO,
    workers: int | None = None,
    broker: str | None = None,
    lessons: list[str] | None = None,
    regrade: bool = False,
    echo: Callable[[str], object] = print,
    progress: bool | None = None,
) -> GradeRun:
    """Grade every new or changed submission: `workers` at a time here, or through `broker`.

    workers=1 without a broker is serial grading (grader.autograde's one nbgrader
    run per lesson). Returns the course's outcomes and the seconds per submission.
    """
    root = root.resolve()
    workers = workers or default_workers()
    started = time.perf_counter()
    if broker is None and workers == 1:
        outcomes = autograde.autograde(root, lessons, regrade=regrade, echo=echo)
        return GradeRun(outcomes, wall_s=time.perf_counter() - started, mode="serial")
    if progress is None:
        progress = sys.stderr.isatty()
    with autograde.grading_run(echo):
        state = {} if regrade else autograde.load_state(root)
        jobs, kits = prepare(root, lessons, state, echo)
        recorder = Recorder(root, state, jobs, progress, echo)
        try:
            if not jobs:
                where = course.submitted_dir(root)
                echo(f"nothing new to grade in {where} ({len(state)} graded before)")
            elif broker is None:
                echo(f"autograding {len(jobs)} submission(s), {workers} at a time")
                _grade_here(root, jobs, kits, workers, recorder)
            else:
                from grader import celery_app

                echo(f"autograding {len(jobs)} submission(s) through {celery_app.safe(broker)}")
                celery_app.grade_through_broker(broker, jobs, kits, recorder)
        finally:
            recorder.close()
    mode = f"celery ({broker})" if broker else f"{workers} workers"
    return GradeRun(
        autograde.outcomes(root),
        recorder.seconds,
        recorder.failed,
        time.perf_counter() - started,
        mode,
    )


def prepare(
    root: Path, lessons: list[str] | None, state: dict, echo
) -> tuple[list[Job], dict[str, Kit]]:
    """The submissions to grade, each lesson's preflight passed once, and each lesson's kit."""
    jobs, kits = [], {}
    for lesson in lessons or course.lesson_ids(root):
        pending = autograde.pending_submissions(root, lesson, state)
        if not pending:
            continue
        autograde._ensure_in_gradebook(root, lesson)
        autograde.preflight(root, lesson, echo)
        kits[lesson] = build_kit(root, lesson)
        jobs += [make_job(root, student, lesson, digest) for student, digest in pending.items()]
    return jobs, kits


def _grade_here(
    root: Path, jobs: list[Job], kits: dict[str, Kit], workers: int, recorder: Recorder
) -> None:
    """Grade the jobs `workers` at a time (each in a subprocess); record on this thread."""
    config, settings = course_config(root), grading_settings()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grader") as pool:
        futures = {
            pool.submit(
                grade_packed, kits[job.lesson].packed, job.lesson, job.packed, config, settings
            ): job
            for job in jobs
        }
        try:
            remaining = set(futures)
            while remaining:
                finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for future in finished:
                    job = futures[future]
                    error = future.exception()
                    if error is None:
                        recorder.record(job.key, future.result())
                    else:
                        recorder.fail(job.key, f"{type(error).__name__}: {error}")
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


# --------------------------------------------------------------------------- bench


def reference_class(root: Path, lessons: list[str], copies: int) -> None:
    """`copies` students who hand in the reference answers of every lesson."""
    from grader.grading import fill_answers

    for lesson in lessons:
        release = nbformat.read(course.release_path(root, lesson), as_version=4)
        reference = nbformat.read(course.instructor_path(root, lesson), as_version=4)
        notebook = fill_answers(release, reference)
        for number in range(copies):
            path = course.submitted_path(root, f"reference{number:03d}", lesson)
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, path)


def cell_points(root: Path) -> dict[str, dict[str, float | None]]:
    """{"student/lesson": {grade_id: score}} of every graded submission (to compare runs)."""
    from nbgrader.api import Gradebook

    config = course.load_config(root).CourseDirectory
    points = {}
    with Gradebook(config.db_url, config.course_id) as gradebook:
        for assignment in gradebook.assignments:
            for handed_in in assignment.submissions:
                key = f"{handed_in.student.id}/{assignment.name}"
                points[key] = {
                    grade.name: grade.score
                    for notebook in handed_in.notebooks
                    for grade in notebook.grades
                }
    return points


@dataclass
class BenchRow:
    mode: str
    submissions: int
    wall_s: float
    per_submission_s: float
    same_grades: bool
    cpu_s: float = 0.0
    """CPU seconds of this process and the graders it waited for (not the sandboxed kernels)."""
    load: float = 0.0
    """The machine's 1-minute load average when the mode ended (other users' work too)."""


def bench(
    course_root: Path = REPO,
    lessons: list[str] | None = None,
    copies: int = 2,
    modes: Iterable[str] = ("serial", "workers=2", "celery=2"),
    echo=print,
) -> list[BenchRow]:
    """Wall time to grade `copies` reference submissions of every lesson, in each mode.

    Each mode grades a fresh copy of the course; the preflight runs (and is cached)
    before the clock starts, so the times are grading only. Celery modes start a
    private redis-server on a free loopback port and N workers (grader/celery_app.py).
    """
    from grader.release import release

    course_root = course_root.resolve()
    lessons = lessons or course.lesson_ids(course_root)
    rows, reference, checked = [], None, None
    with tempfile.TemporaryDirectory(prefix="rlcourse-bench-") as tmp:
        for mode in modes:
            root = course.copy_course(course_root, Path(tmp) / mode.replace("=", "-"), lessons)
            release(root, lessons)
            reference_class(root, lessons, copies)
            if checked is not None:  # the same lessons and environment: the verdict holds
                shutil.copy(checked, autograde._preflight_path(root))
            for lesson in lessons:  # the preflight is not what is measured
                autograde._ensure_in_gradebook(root, lesson)
                autograde.preflight(root, lesson, echo=lambda *a: None)
            checked = autograde._preflight_path(root)
            before = _cpu_seconds()
            run = _bench_mode(root, mode, echo)
            cpu = _cpu_seconds() - before
            points = cell_points(root)
            reference = reference or points
            total = len(lessons) * copies
            same = points == reference
            load = os.getloadavg()[0]
            rows.append(BenchRow(mode, total, run.wall_s, run.wall_s / total, same, cpu, load))
            echo(f"{mode}: {run.wall_s:.1f} s for {total} submissions ({cpu:.0f} CPU s)")
    return rows


def _cpu_seconds() -> float:
    """CPU seconds of this process and of the children it has waited for."""
    import resource

    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )


def _bench_mode(root: Path, mode: str, echo) -> GradeRun:
    quiet = lambda *a: None  # noqa: E731
    if mode == "serial":
        return grade_all(root, workers=1, echo=quiet, progress=False)
    kind, _, count = mode.partition("=")
    if kind == "workers":
        return grade_all(root, workers=int(count), echo=quiet, progress=False)
    from grader import celery_app

    with celery_app.local_cluster(int(count)) as url:
        return grade_all(root, broker=url, echo=quiet, progress=False)


def bench_table(
    rows: list[BenchRow], lessons: int, students: int = 300, machines: Iterable[int] = (1, 10)
) -> str:
    """The measured rows, and a projection (stated as one) for a class on 1 and 10 machines.

    The projection takes each mode's measured wall seconds per submission on
    this machine and assumes worker machines like it, as busy as it was, and a
    broker that costs nothing more than it did here.
    """
    lines = [
        "| mode | submissions | wall s | wall s per submission | load at the end "
        "| same grades as serial |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.mode} | {row.submissions} | {row.wall_s:.1f} | {row.per_submission_s:.1f} "
            f"| {row.load:.1f} | {'yes' if row.same_grades else 'NO'} |"
        )
    total = students * lessons
    lines.append("")
    lines.append(
        f"Projection (not measured): {students} students x {lessons} lesson(s) = {total} "
        "submissions at each mode's wall seconds per submission on machines like this one:"
    )
    for row in rows:
        counts = [1] if row.mode == "serial" else list(machines)
        spans = ", ".join(
            f"{total * row.per_submission_s / count / 3600:.1f} h on {count}" for count in counts
        )
        lines.append(f"- {row.mode}: {spans} machine(s)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", action="store_true", help="time serial / workers / Celery")
    parser.add_argument("--course", type=Path, default=REPO, help="course folder")
    parser.add_argument("--lessons", nargs="*", help="lesson ids (default: all)")
    parser.add_argument("--copies", type=int, default=2, help="reference submissions per lesson")
    parser.add_argument(
        "--modes", nargs="*", default=["serial", "workers=2", "celery=2"], help="what to time"
    )
    args = parser.parse_args(argv)
    if not args.bench:
        parser.error("nothing to do: python -m grader.autograde grades; --bench times it")
    lessons = args.lessons or course.lesson_ids(args.course.resolve())
    rows = bench(args.course, lessons, args.copies, args.modes)
    print(bench_table(rows, len(lessons)))


if __name__ == "__main__":
    main()
