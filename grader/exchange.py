"""nbgrader's exchange for a shared server, and collecting files downloaded from an LMS.

    python -m grader.exchange release [LESSON ...]      # publish notebooks/ to students
    python -m grader.exchange collect [LESSON ...]      # exchange -> grader/work/submitted
    python -m grader.exchange zip-collect LESSON PATH   # zip/folder of <student>_<lesson>.ipynb

The exchange root is `c.Exchange.root` in nbgrader_config.py
(`NBGRADER_EXCHANGE`, default /srv/nbgrader/exchange); `--exchange DIR`
overrides it. Students run, from their own home folder,

    nbgrader fetch_assignment 01_bandits --course rl-foundations
    nbgrader submit 01_bandits --course rl-foundations

Collecting keeps every submission in the exchange (a student may submit many
times) and copies the latest one of each student to grader/work/submitted,
without following links (`SafeCollect`, grader/kernel/submission.py): a symbolic link
a student planted (pointing at the instructor's solutions, say) is left out
with a warning. zip-collect skips, with a warning that names it, every entry
of an LMS download that is not a plain notebook at a safe path (an absolute
path, `..`, a link, another kind of file) or whose student id breaks the one
rule of grader/course.py (`STUDENT_ID`), and collects the rest; collect leaves
out, with a warning, a submission whose student id breaks it.
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import shutil
import stat
import sys
import zipfile
from pathlib import Path, PurePosixPath

from nbgrader.exchange.default import ExchangeCollect

from grader.course import (
    COURSE_ID,
    DOWNLOADED,
    REPO,
    lesson_ids,
    load_config,
    student_id_problem,
    submitted_dir,
)
from grader.kernel.submission import copy_folder
from grader.nbgrader_cli import run_nbgrader, student_exchange_step


def collectable(records: list[dict]) -> tuple[list[dict], list[str]]:
    """(kept, refused): nbgrader's submission records whose student id is valid, and why not."""
    kept, refused = [], []
    for record in records:
        problem = student_id_problem(str(record.get("username", "")))
        if problem is None:
            kept.append(record)
        else:
            refused.append(f"{record.get('filename', '?')}: {problem}")
    return kept, refused


class SafeCollect(ExchangeCollect):
    """nbgrader's collect, copying each submission without following links; a submission
    whose student id breaks course.STUDENT_ID is reported and never written."""

    def copy_files(self):
        self.src_records, refused = collectable(self.src_records)
        for reason in refused:
            self.log.warning("collect: left out %s", reason)
        super().copy_files()

    def do_copy(self, src, dest, log=None):
        ignore = list(self.coursedir.ignore)
        refused = copy_folder(
            Path(src), Path(dest), lambda p: any(fnmatch.fnmatch(p.name, x) for x in ignore)
        )
        for reason in refused:
            self.log.warning("collect: left out %s/%s", src, reason)


def _exchange_args(exchange: Path | None) -> list[str]:
    return [f"--Exchange.root={exchange}"] if exchange else []


def prepare_exchange(exchange: Path) -> Path:
    """An exchange folder that every user of the machine may write to (nbgrader's layout)."""
    exchange.mkdir(parents=True, exist_ok=True)
    exchange.chmod(0o777)
    return exchange


def release_assignment(root: Path, lesson: str, exchange: Path | None = None) -> None:
    """Copy notebooks/<lesson> to the exchange's outbound folder."""
    run_nbgrader(
        ["release_assignment", lesson, "--force", "--log-level=WARN", *_exchange_args(exchange)],
        root,
    )


def fetch_assignment(
    home: Path, lesson: str, exchange: Path | None = None, student: str = "student"
) -> Path:
    """`nbgrader fetch_assignment LESSON` in a student's home: it lands in home/<lesson>/."""
    home.mkdir(parents=True, exist_ok=True)
    student_exchange_step("fetch", home, lesson, student, exchange)
    return home / lesson


def submit(home: Path, lesson: str, student: str, exchange: Path | None = None) -> None:
    """`nbgrader submit LESSON --student STUDENT` in a student's home: hands in home/<lesson>/."""
    student_exchange_step("submit", home, lesson, student, exchange)


def collect(root: Path, lesson: str, exchange: Path | None = None) -> None:
    """The latest submission of every student -> grader/work/submitted (newer replace older)."""
    run_nbgrader(
        ["collect", lesson, "--update", "--log-level=WARN", *_exchange_args(exchange)], root
    )


def inbound(exchange: Path, student: str, lesson: str) -> list[Path]:
    """Every submission a student made of a lesson that the exchange keeps."""
    folder = exchange / COURSE_ID / "inbound"
    return sorted(folder.glob(f"{student}+{lesson}+*"))


def zip_collect(root: Path, lesson: str, source: Path) -> list[str]:
    """Submissions downloaded from an LMS -> grader/work/submitted.

    `source` is a zip file or a folder of notebooks named `<student>_<lesson>.ipynb`
    (for example `jdoe_01_bandits.ipynb`; the student id has no underscore). The
    pattern is `c.FileNameCollectorPlugin.named_regexp` in nbgrader_config.py.
    Returns (and prints) the entries it skipped and why.
    """
    # nbgrader's ZipCollectApp reads <downloaded_directory>/<lesson>/archive
    archive = root / DOWNLOADED / lesson / "archive"
    archive.mkdir(parents=True, exist_ok=True)
    pattern = re.compile(load_config(root).FileNameCollectorPlugin.named_regexp)
    skipped = []
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            problem = name_problem(path.name, pattern)
            if path.is_symlink():
                skipped.append(f"{path.relative_to(source)}: a symbolic link")
            elif path.is_file() and problem is not None:
                skipped.append(f"{path.relative_to(source)}: {problem}")
            elif path.is_file():
                shutil.copy2(path, archive / path.name)
    elif zipfile.is_zipfile(source):
        skipped = copy_safe_entries(source, archive / source.name, pattern)
    else:
        raise ValueError(f"{source} is neither a folder nor a zip file")
    for reason in skipped:
        print(f"zip-collect: skipped {reason}", file=sys.stderr)
    run_nbgrader(["zip_collect", lesson, "--force", "--log-level=WARN"], root)
    return skipped


def entry_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip entry is not collected (None: a notebook at a safe relative path)."""
    name = PurePosixPath(info.filename.replace("\\", "/"))
    if info.is_dir():
        return None if not (name.is_absolute() or ".." in name.parts) else "an unsafe folder"
    if name.is_absolute() or info.filename[1:3] == ":/" or info.filename[1:3] == ":\\":
        return "an absolute path"
    if ".." in name.parts:
        return "a path that leaves the archive (..)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link"
    if name.suffix != ".ipynb":
        return "not a notebook (.ipynb)"
    return None


def name_problem(name: str, pattern: re.Pattern | None) -> str | None:
    """Why a collected file name gives no valid student id (None: it does, or no pattern).

    `pattern` is nbgrader's FileNameCollectorPlugin.named_regexp (its `student_id` group).
    """
    found = pattern.match(name) if pattern is not None else None
    if found is None or "student_id" not in found.groupdict():
        return None  # not a submission's name: nbgrader's zip_collect ignores it
    return student_id_problem(found.group("student_id"))


def copy_safe_entries(source: Path, target: Path, pattern: re.Pattern | None = None) -> list[str]:
    """Write the notebooks of zip `source` at safe paths to zip `target`; the skipped entries.

    With `pattern` (the file-name pattern), an entry whose student id breaks
    course.STUDENT_ID is skipped too.
    """
    skipped = []
    with zipfile.ZipFile(source) as given, zipfile.ZipFile(target, "w") as kept:
        for info in given.infolist():
            problem = entry_problem(info) or (
                None if info.is_dir() else name_problem(info.filename, pattern)
            )
            if problem is not None:
                skipped.append(f"{info.filename!r}: {problem}")
            elif not info.is_dir():
                kept.writestr(info.filename, given.read(info))
    return skipped


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["release", "collect", "zip-collect"])
    parser.add_argument("args", nargs="*", help="lesson ids (zip-collect: LESSON PATH)")
    parser.add_argument("--root", type=Path, default=REPO, help="course folder")
    parser.add_argument("--exchange", type=Path, default=None, help="exchange root")
    options = parser.parse_args(argv)
    root = options.root.resolve()
    if options.step == "zip-collect":
        if len(options.args) != 2:
            parser.error("zip-collect needs LESSON PATH")
        zip_collect(root, options.args[0], Path(options.args[1]).resolve())
        print(f"collected {options.args[1]} into {submitted_dir(root)}")
        return
    for lesson in options.args or lesson_ids(root):
        if options.step == "release":
            release_assignment(root, lesson, options.exchange)
            print(f"released {lesson} to the exchange")
        else:
            collect(root, lesson, options.exchange)
            print(f"collected {lesson}")


if __name__ == "__main__":
    main()
