"""Build the student release from the lesson sources.

    python -m grader.release                 # every lesson
    python -m grader.release 01_bandits      # one lesson
    python -m grader.release --root DIR      # another course folder (tests)

For each `solutions/NN_topic/NN_topic.py` (jupytext py:percent, the single
source of truth) this writes the instructor notebook
`solutions/NN_topic/NN_topic.ipynb` (git-ignored), asks nbgrader to generate
the student version `notebooks/NN_topic/NN_topic.ipynb`, and normalises it so
that releasing twice gives byte-identical files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jupytext
import nbformat

from grader import course
from grader.course import REPO, lesson_ids  # also grader.release.REPO / .lesson_ids for tests
from grader.nbgrader_cli import generate_assignments

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python"}
# cell metadata that jupytext adds to keep the .py layout; meaningless in a notebook
JUPYTEXT_CELL_KEYS = ("jupytext", "execution", "lines_to_next_cell", "lines_to_end_of_cell_marker")


def _tidy(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Outputs cleared, stable cell ids, only the metadata a kernel needs."""
    notebook.metadata = nbformat.from_dict(
        {"kernelspec": KERNELSPEC, "language_info": LANGUAGE_INFO}
    )
    for index, cell in enumerate(notebook.cells):
        grade_id = course.grade_id(cell)
        cell.id = grade_id if grade_id else f"cell-{index:03d}"
        for key in JUPYTEXT_CELL_KEYS:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.validate(notebook)
    return notebook


def build_source_notebook(source: Path) -> Path:
    """Write the .ipynb that nbgrader reads next to its py:percent source."""
    notebook = _tidy(jupytext.read(source))
    target = source.with_suffix(".ipynb")
    _write_if_changed(notebook, target)
    return target


def _write_if_changed(notebook: nbformat.NotebookNode, path: Path) -> None:
    text = nbformat.writes(notebook) + "\n"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def release(root: Path = REPO, lessons: list[str] | None = None) -> list[Path]:
    """Rebuild the instructor notebooks and regenerate the student release (its paths)."""
    lessons = lessons or lesson_ids(root, optional=True)
    for lesson_id in lessons:
        source = course.source_path(root, lesson_id)
        if not source.is_file():
            raise FileNotFoundError(f"no lesson source {source}")
        build_source_notebook(source)
    generate_assignments(root, lessons)
    released = [course.release_path(root, lesson_id) for lesson_id in lessons]
    for path in released:
        _write_if_changed(_tidy(nbformat.read(path, as_version=4)), path)
    return released


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lesson ids (default: all, optional ones too)")
    parser.add_argument("--root", type=Path, default=REPO, help="course folder")
    parser.add_argument(
        "--sources-only",
        action="store_true",
        help="only build solutions/*/*.ipynb from the .py sources",
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()
    # --sources-only builds what nbval runs (graded lessons); a release builds optional ones too
    lessons = args.lessons or lesson_ids(root, optional=not args.sources_only)
    if args.sources_only:
        written = [build_source_notebook(course.source_path(root, lid)) for lid in lessons]
    else:
        written = release(root, lessons)
    for path in written:
        print(f"wrote {path.relative_to(root)}")


if __name__ == "__main__":
    main()
