"""What a handed-in folder may bring to grading: its cells, and its files without links.

Two accidents of real classes made nbgrader fail a whole submission (0 points,
"grading failed"): a copy-pasted cell (the same `grade_id` twice) and a cell
with grade metadata that the lesson does not have (copied from another
notebook). :class:`CheckSubmittedCells`, the first of nbgrader's sanitizing
preprocessors (nbgrader_config.py), grades such a notebook instead:

- of the cells that share a `grade_id`, an answer keeps its LAST copy (what
  the student wrote last) and every other cell (a test, a locked cell) its
  FIRST; the other copies lose their grade metadata and run as ordinary cells
  (as they did when the student ran the notebook), so they earn and cost
  nothing;
- a cell whose `grade_id` the released notebook does not have loses its grade
  metadata the same way: it never changes the maximum;
- what was ignored is said in a markdown cell at the top of the autograded
  notebook (`NOTE_HEADING`), which the feedback shows and `grade_notes` reads
  back for the outcome.

A submission is copied without following links (`copy_folder`): a symbolic
link is left out (it could point at the instructor's files), and so is a hard
link to a file that someone other than the folder's owner owns.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from grader.course import grade_id, reference_notebook

NOTE_HEADING = "**Grading note** (written by the grader, not by you):"


# --------------------------------------------------------------------------- cells


def _has_grade_metadata(cell: NotebookNode) -> bool:
    return bool(cell.metadata.get("nbgrader"))


def _is_answer_id(reference: NotebookNode, cell_id: str) -> bool:
    for cell in reference.cells:
        if grade_id(cell) == cell_id:
            return bool(cell.metadata["nbgrader"].get("solution"))
    return False


def check_cells(notebook: NotebookNode, reference: NotebookNode) -> list[str]:
    """Strip the grade metadata of duplicated and unknown cells; what was ignored, in words."""
    known = {grade_id(c) for c in reference.cells if _has_grade_metadata(c)} - {None}
    notebook.cells = [c for c in notebook.cells if not is_note(c)]
    positions: dict[str, list[int]] = {}
    notes = []
    for index, cell in enumerate(notebook.cells):
        if not _has_grade_metadata(cell):
            continue
        cell_id = grade_id(cell)
        if cell_id in known:
            positions.setdefault(cell_id, []).append(index)
        elif cell_id is None:
            del cell.metadata["nbgrader"]  # nbgrader metadata without an id: nothing to grade
        else:
            del cell.metadata["nbgrader"]
            notes.append(
                f"a cell you added with grade metadata (`{cell_id}`) is not part of this "
                "lesson: it ran as an ordinary cell and carries no points"
            )
    for cell_id, found in positions.items():
        if len(found) < 2:
            continue
        answer = _is_answer_id(reference, cell_id)
        kept = found[-1] if answer else found[0]
        for index in found:
            if index != kept:
                del notebook.cells[index].metadata["nbgrader"]
        which = "the last (an answer: what you wrote last)" if answer else "the first"
        notes.append(
            f"`{cell_id}` appears {len(found)} times (a copied cell): {which} is graded, "
            "the other copies ran as ordinary cells"
        )
    return notes


def note_cell(notes: list[str]) -> NotebookNode:
    return nbformat.v4.new_markdown_cell(
        NOTE_HEADING + "\n" + "".join(f"\n- {note}" for note in notes)
    )


def is_note(cell: NotebookNode) -> bool:
    return cell.cell_type == "markdown" and cell.source.startswith(NOTE_HEADING)


def grade_notes(notebook: NotebookNode) -> list[str]:
    """The notes the grader wrote at the top of an autograded notebook."""
    if not notebook.cells or not is_note(notebook.cells[0]):
        return []
    lines = notebook.cells[0].source.splitlines()[1:]
    return [line[2:].replace("`", "") for line in lines if line.startswith("- ")]


class CheckSubmittedCells(NbGraderPreprocessor):
    """Duplicated and unknown grade cells are ignored with a note, not a failed submission."""

    release_directory = Unicode(
        "", help="Folder of the released notebooks (<dir>/<assignment>/<notebook>.ipynb)."
    ).tag(config=True)

    def preprocess(self, nb, resources):
        reference = reference_notebook(self.release_directory, resources)
        if reference is None:
            return nb, resources
        notes = check_cells(nb, reference)
        for note in notes:
            self.log.warning("%s", note)
        if notes:
            nb.cells.insert(0, note_cell(notes))
        return nb, resources


# --------------------------------------------------------------------------- files


def refusal(path: Path, owner: int) -> str | None:
    """Why a file of a handed-in folder owned by `owner` is not copied, or None."""
    info = path.lstat()
    if path.is_symlink():
        return f"{path.name} is a symbolic link (links are not followed)"
    if path.is_file() and info.st_nlink > 1 and info.st_uid != owner:
        return f"{path.name} is a hard link to a file you do not own"
    if not (path.is_file() or path.is_dir()):
        return f"{path.name} is not a regular file"
    return None


def copy_folder(
    source: Path, target: Path, skip: Callable[[Path], bool] = lambda path: False
) -> list[str]:
    """Copy a handed-in folder without following links; why each left-out file was left out.

    `target` is replaced. `skip` leaves out files silently (nbgrader's ignore list).
    """
    owner = source.lstat().st_uid
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    refused = []
    for folder, subfolders, files in os.walk(source):
        here = Path(folder)
        for name in sorted([*subfolders, *files]):
            path = here / name
            why = refusal(path, owner)
            if why is not None:
                refused.append(f"{path.relative_to(source)}: {why}")
                if name in subfolders:
                    subfolders.remove(name)
                continue
            if skip(path):
                if name in subfolders:
                    subfolders.remove(name)
                continue
            destination = target / path.relative_to(source)
            if path.is_dir():
                destination.mkdir()
            else:
                shutil.copy2(path, destination, follow_symlinks=False)
    return refused
