"""nbgrader's exchange on a shared server, where students are real users who can look around.

nbgrader's own submit leaves each submission folder 0777 with 0644 files in
an inbound folder anyone may write to, hidden from other students only by a
random suffix (nbgrader#978), and its collect only warns when a folder named
after one student was made by another. On the hub (deploy/jupyterhub):

- PrivateSubmit: a submission folder is 0770, group formgrade-<course> (the
  inbound folder's setgid group): its student and the instructors enter it,
  nobody else; a student submits only as themself.
- OwnerCheckedCollect: the latest submission of each student that the
  student's own account made is collected; one that another account made is
  left out with a warning (on top of SafeCollect: no links are followed).
- ModeSettingRelease: release copies with explicit modes whatever the
  instructor's umask (nbgrader#686): 0755 folders, 0644 files.
"""

from __future__ import annotations

import glob
import os
import pwd
from pathlib import Path

from nbgrader.exchange.default import (
    ExchangeReleaseAssignment,
    ExchangeReleaseFeedback,
    ExchangeSubmit,
)
from nbgrader.utils import get_username

from grader.exchange import SafeCollect
from grader.hub.layout import MODES


def restrict(folder: Path, dir_mode: int, file_mode: int) -> None:
    """chmod every folder under `folder` (itself included) and every file."""
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        path.chmod(dir_mode if path.is_dir() else file_mode)


class PrivateSubmit(ExchangeSubmit):
    """nbgrader's submit: only as oneself, and only the instructors read the submission."""

    def init_dest(self):
        claimed = self.coursedir.student_id
        if claimed not in ("*", "", get_username()):
            self.fail(f"You can submit only as yourself ({get_username()}), not as {claimed}.")
        super().init_dest()

    def copy_files(self):
        previous = os.umask(0o077)
        try:
            super().copy_files()
        finally:
            os.umask(previous)
        restrict(
            Path(self.inbound_path) / self.assignment_filename,
            MODES["submission"],
            MODES["submission_file"],
        )


def owner_name(path: str) -> str:
    try:
        return pwd.getpwuid(os.lstat(path).st_uid).pw_name
    except KeyError:
        return "an unknown account"


class OwnerCheckedCollect(SafeCollect):
    """Collect only the submissions each student's own account made."""

    def _genuine(self, record: dict) -> bool:
        return owner_name(os.path.join(self.inbound_path, record["filename"])) == record["username"]

    def _sort_by_timestamp(self, records):
        newest_first = super()._sort_by_timestamp(records)
        forged = [r for r in newest_first if not self._genuine(r)]
        for record in forged:
            path = os.path.join(self.inbound_path, record["filename"])
            self.log.warning(
                "collect: left out %s: it claims to be %s's but %s made it",
                path,
                record["username"],
                owner_name(path),
            )
        return [r for r in newest_first if r not in forged] + forged

    def copy_files(self):
        # (a student with forged folders only: nothing of theirs; the warning is above)
        self.src_records = [r for r in self.src_records if self._genuine(r)]
        super().copy_files()


class ModeSettingRelease(ExchangeReleaseAssignment):
    """nbgrader's release_assignment, with the modes of the released files set explicitly."""

    def copy_files(self):
        super().copy_files()
        restrict(Path(self.dest_path), MODES["outbound"], 0o644)


# --------------------------------------------------------------------------- on Kubernetes
# Student pods run as one uid, so file modes cannot keep students apart: each pod
# mounts only inbound/<its user>/ and feedback/<its user>/ (deploy/k8s/values.yaml)
# at the places nbgrader expects, and students' nbgrader is unchanged. The course
# service mounts the whole exchange and uses these two.


def per_student_submissions(inbound: Path, assignment: str) -> tuple[list[str], list[str]]:
    """(kept, refused): `<student>/<name>` of each submission in inbound/<student>/ folders.

    A submission is its student's when it lies in that student's own folder (the
    one only their pod mounts); one named after somebody else is refused.
    """
    kept, refused = [], []
    for folder in sorted(p for p in inbound.iterdir() if p.is_dir() and not p.is_symlink()):
        for submission in sorted(folder.glob(f"*+{assignment}+*")):
            owner = submission.name.rsplit("+", 3)[0]
            relative = f"{folder.name}/{submission.name}"
            (kept if owner == folder.name else refused).append(relative)
    return kept, refused


class PerStudentInboundCollect(SafeCollect):
    """collect from inbound/<student>/ folders: the latest submission of each student."""

    def init_src(self):
        super().init_src()  # checks, the due date; finds nothing at the top of inbound
        kept, refused = per_student_submissions(
            Path(self.inbound_path), self.coursedir.assignment_id
        )
        for relative in refused:
            self.log.warning("collect: left out %s: not in its student's own folder", relative)
        wanted = self.coursedir.student_id or "*"
        latest: dict[str, dict] = {}
        for relative in kept:
            record = self._path_to_record(relative)
            record["filename"] = relative
            if wanted not in ("*", record["username"]):
                continue
            best = latest.get(record["username"])
            if best is None or record["timestamp"] > best["timestamp"]:
                latest[record["username"]] = record
        self.src_records = list(latest.values())


class PerStudentReleaseFeedback(ExchangeReleaseFeedback):
    """release_feedback into feedback/<student>/ (the folder that student's pod mounts)."""

    def copy_files(self):
        pattern = self.coursedir.format_path(
            self.coursedir.feedback_directory, "*", self.coursedir.assignment_id
        )
        outbound = Path(self.dest_path)
        for source in sorted(Path(p) for p in glob.glob(pattern)):
            student = source.parent.name
            if self.coursedir.student_id not in ("", "*", student):
                continue
            target = outbound / student
            target.mkdir(exist_ok=True)
            target.chmod(0o755)
            self.src_path, self.dest_path = str(source), str(target)
            super().copy_files()
        self.dest_path = str(outbound)
