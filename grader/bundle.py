"""What students of a graded class get: a zip without solutions or hidden tests.

    python -m grader.bundle                  # build/student-bundle.zip
    python -m grader.bundle --out FILE.zip --root DIR

The zip holds the released notebooks (notebooks/, regenerated from the lesson
sources in a temporary folder: answers saved into the working copy's notebooks/
never ship), the rlhelpers package, requirements.txt, environment.yml, a
pyproject.toml that installs rlhelpers only, a small Makefile (lab, validate),
validate.py (grader/validate.py: a summary first), a student README and jupyter-config/
(STUDENT_LAB_CONFIG: `make lab` shows what students use, Validate and the
assignment list, and not nbgrader's instructor tools). It never holds
solutions/, grader/, tests/, bench/ or nbgrader_config.py: the public
repository is the instructor's, a graded class hands out this bundle.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import zipfile
from pathlib import Path

from grader import release, validate
from grader.course import COURSE_ID, RELEASE, REPO, SOURCES, copy_course, lesson_ids, release_path

TOP = COURSE_ID
LAB_CONFIG = "jupyter-config"
"""The bundle's Jupyter config folder (`make lab` puts it on JUPYTER_CONFIG_PATH)."""
VALIDATE_SCRIPT = "validate.py"
"""grader/validate.py, in the bundle: `make validate` with a summary first."""

INSTRUCTOR_PLUGINS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment")
EXCHANGE_PLUGINS = (
    "@jupyter/nbgrader:assignment-list",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:menu",  # it only opens these two and the formgrader
)
"""nbgrader's lab plugins that need an exchange (a course server)."""


TIMING_SETTINGS = "lab-settings"
"""JupyterLab settings overrides in a student's lab config folder (its app_settings_dir)."""
RECORD_TIMING = {"@jupyterlab/notebook-extension:tracker": {"recordTiming": True}}
"""JupyterLab's own setting that keeps each cell's last run times in the notebook; the class
report (grader/report) estimates time on task from them. A student can turn it off in
Settings > Notebook > Recording timing."""


def lab_config(plugins_off: tuple[str, ...], server_extensions_off: tuple[str, ...]) -> dict:
    """{file under a Jupyter config folder: its JSON}: nbgrader's tools off, cell timing on.

    The timing overrides are found through LabApp.app_settings_dir, an absolute
    path: placed() sets it for a folder on this machine, the bundle's Makefile
    passes it on the command line.
    """
    return {
        f"{TIMING_SETTINGS}/overrides.json": RECORD_TIMING,
        "labconfig/page_config.json": {"disabledExtensions": dict.fromkeys(plugins_off, True)},
        "jupyter_server_config.json": {
            "ServerApp": {
                "jpserver_extensions": {
                    f"nbgrader.server_extensions.{name}": False for name in server_extensions_off
                }
            }
        },
    }


STUDENT_LAB_CONFIG = lab_config(INSTRUCTOR_PLUGINS, ("formgrader",))
"""A student's lab, in the bundle and on the hub: Validate, the assignment list, no formgrader."""
SOLO_LAB_CONFIG = lab_config(
    INSTRUCTOR_PLUGINS + EXCHANGE_PLUGINS, ("formgrader", "assignment_list", "course_list")
)
"""`make lab`, someone learning alone: Validate only, nothing that looks for an exchange."""


def placed(config: dict, folder: Path) -> dict:
    """A lab config to write into `folder`: its app_settings_dir (the timing overrides) set."""
    server = json.loads(json.dumps(config["jupyter_server_config.json"]))
    server["LabApp"] = {"app_settings_dir": str(folder.resolve() / TIMING_SETTINGS)}
    return {**config, "jupyter_server_config.json": server}


def write_lab_config(folder: Path, config: dict) -> Path:
    """Write a lab config (STUDENT_LAB_CONFIG, SOLO_LAB_CONFIG) into a Jupyter config folder."""
    for name, data in placed(config, folder).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(lab_config_text(data))
    return folder


def lab_config_text(data: dict) -> str:
    return json.dumps(data, indent=1) + "\n"


ZIP_DATE = (2020, 1, 1, 0, 0, 0)  # fixed timestamps: the same inputs give the same zip

STUDENT_README = """\
# Reinforcement Learning Foundations (student edition)

```
make lab        # set up (first run: a few minutes) and open the course in JupyterLab
```

or by hand, with Python 3.11:

```
python3.11 -m venv .venv
.venv/bin/pip install -r requirements.txt
.venv/bin/pip install -e .
.venv/bin/jupyter lab notebooks/
```

Each lesson is one notebook in `notebooks/`:

{lessons}

Work through a notebook top to bottom. Exercise cells say
`raise NotImplementedError()` until you fill them in, and each exercise is
followed by a test cell. Do not edit or delete the test cells: grading runs the
original tests, plus hidden tests that check the same functions more
thoroughly, so a passing Validate is necessary but not sufficient. Press
**Validate** in JupyterLab, or run

```
make validate NB=notebooks/01_bandits/01_bandits.ipynb
```

Hand in `notebooks/NN_topic/NN_topic.ipynb` under exactly that file name, as
your course tells you (`nbgrader submit NN_topic --course {course_id}` on
the course server, or upload it to the learning-management system as
`<your id>_NN_topic.ipynb`). Grading runs your notebook with a time limit per
cell and a memory limit, without network access.

Your lab records, in each code cell of the notebook, when you last ran it
(JupyterLab's "Recording timing" setting, on in this course). Your instructor's
class report uses these times to see how long each exercise takes the class; they
never change a grade. To stop it: Settings > Settings Editor > Notebook >
Recording timing, off; from then on each cell you run drops its recorded times.
"""

STUDENT_MAKEFILE = """\
SHELL := /bin/bash
PY := .venv/bin/python
STAMP := .venv/.installed

.PHONY: lab validate
$(STAMP): requirements.txt pyproject.toml
\ttest -x $(PY) || python3.11 -m venv .venv
\t$(PY) -m pip install --quiet -r requirements.txt
\t$(PY) -m pip install --quiet --no-deps -e .
\ttouch $(STAMP)

lab: $(STAMP)
\tJUPYTER_CONFIG_PATH=$(CURDIR)/{lab_config} $(PY) -m jupyter lab notebooks/ \\
\t\t--LabApp.app_settings_dir=$(CURDIR)/{lab_config}/{timing_settings}

validate: $(STAMP)
\t@test -n "$(NB)" || { echo "usage: make validate NB=path/to/notebook.ipynb"; exit 2; }
\t$(PY) {validate} "$(NB)"
"""


def student_pyproject(text: str) -> str:
    """The repository's pyproject.toml, installing rlhelpers only, without tool settings."""
    text = text.split("\n[tool.pytest", 1)[0]
    return re.sub(r"include = \[[^\]]*\]", 'include = ["rlhelpers*"]', text).rstrip() + "\n"


def files(root: Path = REPO) -> dict[str, bytes]:
    """{path inside the zip: content} of the student bundle, with `root`'s notebooks/ as they are.

    build() hands it a fresh release (clean_release), never a working copy's notebooks/.
    """
    lessons = lesson_ids(root) or sorted(p.name for p in (root / RELEASE).iterdir() if p.is_dir())
    content: dict[str, bytes] = {}
    for lesson in lessons:
        notebook = release_path(root, lesson)
        if not notebook.is_file():
            raise FileNotFoundError(f"{notebook} is missing: run `make release` first")
        content[str(notebook.relative_to(root))] = notebook.read_bytes()
    for path in sorted((REPO / "rlhelpers").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            content[str(path.relative_to(REPO))] = path.read_bytes()
    for name in ("requirements.txt", "environment.yml"):
        if (REPO / name).exists():
            content[name] = (REPO / name).read_bytes()
    content["pyproject.toml"] = student_pyproject((REPO / "pyproject.toml").read_text()).encode()
    makefile = STUDENT_MAKEFILE.replace("{lab_config}", LAB_CONFIG)
    makefile = makefile.replace("{timing_settings}", TIMING_SETTINGS)
    content["Makefile"] = makefile.replace("{validate}", VALIDATE_SCRIPT).encode()
    content[VALIDATE_SCRIPT] = Path(validate.__file__).read_bytes()
    for name, data in STUDENT_LAB_CONFIG.items():
        content[f"{LAB_CONFIG}/{name}"] = lab_config_text(data).encode()
    listing = "\n".join(f"- `{release_path(Path(), lesson)}`" for lesson in lessons)
    content["README.md"] = STUDENT_README.format(lessons=listing, course_id=COURSE_ID).encode()
    return content


def clean_release(root: Path, tmp: Path) -> Path:
    """A copy of course `root` in `tmp` whose notebooks/ is regenerated from the lesson sources.

    (notebooks/ of a working copy may hold answers an instructor saved in the lab.)
    """
    lessons = lesson_ids(root)
    if not lessons:
        raise FileNotFoundError(
            f"{root / SOURCES} holds no lesson source: the bundle is built from a fresh release"
        )
    copy = copy_course(root, tmp, lessons)
    release.release(copy, lessons)
    return copy


def build(out: Path, root: Path = REPO) -> Path:
    """Write the student bundle zip (every file under TOP/, the course id) from a fresh release."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="student-bundle-") as tmp:
        content = files(clean_release(root, Path(tmp)))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(content.items()):
            info = zipfile.ZipInfo(f"{TOP}/{name}", date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO, help="course folder")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "student-bundle.zip")
    args = parser.parse_args(argv)
    path = build(args.out.resolve(), args.root.resolve())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
