"""Simulated students: a good, a partial, an untouched and one bad submission of each kind.

Every builder works on any lesson: it starts from the released notebook and
the instructor notebook (for the reference answers) and returns the files the
student hands in, {file name: bytes}. The class demo and the grading tests use
them; `EXPECTED` says how each one must end.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import nbformat

from grader import course
from grader.grading import fill_answers

Files = dict[str, bytes]


def _answer_indices(notebook: nbformat.NotebookNode) -> list[int]:
    """Indices of the answer code cells (written answers are graded by hand)."""
    return [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and course.is_answer(cell)
    ]


def _test_indices(notebook: nbformat.NotebookNode) -> list[int]:
    """Indices of the autograded test cells."""
    return [i for i, cell in enumerate(notebook.cells) if course.is_grade_test(cell)]


def _files(lesson: str, notebook: nbformat.NotebookNode) -> Files:
    return {f"{lesson}.ipynb": nbformat.writes(notebook).encode()}


def _defined_names(source: str) -> list[str]:
    """Functions and classes an answer cell defines."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [
        n.name
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
    ]


def _prepend_to_answer(
    perfect: nbformat.NotebookNode, which: int, code: str
) -> nbformat.NotebookNode:
    """The perfect notebook with `code` run before the answer of answer cell number `which`."""
    index = _answer_indices(perfect)[which]
    perfect.cells[index].source = code + "\n" + perfect.cells[index].source
    return perfect


def middle(perfect: nbformat.NotebookNode) -> int:
    """The answer cell in the middle (the second of two): earlier exercises keep points."""
    return len(_answer_indices(perfect)) // 2


Builder = Callable[[str, nbformat.NotebookNode, nbformat.NotebookNode, dict], Files]


def perfect(lesson, release, instructor, context) -> Files:
    """Every answer right, run in a lab that records cell timing (for the class report)."""
    return with_recorded_timing(_files(lesson, fill_answers(release, instructor)), lesson, 0)


def partial(lesson, release, instructor, context) -> Files:
    """The first half of the answer cells (rounded up) filled in, the rest untouched."""
    filled = fill_answers(release, instructor)
    notebook = nbformat.from_dict(release)
    answers = _answer_indices(notebook)
    for index in answers[: (len(answers) + 1) // 2]:
        notebook.cells[index].source = filled.cells[index].source
    return with_recorded_timing(_files(lesson, notebook), lesson, 1)


def untouched(lesson, release, instructor, context) -> Files:
    return _files(lesson, release)


def syntax_error(lesson, release, instructor, context) -> Files:
    notebook = fill_answers(release, instructor)
    return _files(lesson, _prepend_to_answer(notebook, 0, "def broken(:\n    pass"))


def exception(lesson, release, instructor, context) -> Files:
    notebook = fill_answers(release, instructor)
    return _files(lesson, _prepend_to_answer(notebook, 0, "raise ValueError('a bug in my answer')"))


def infinite_loop(lesson, release, instructor, context) -> Files:
    notebook = fill_answers(release, instructor)
    return _files(lesson, _prepend_to_answer(notebook, 0, "while True:\n    pass"))


def stubborn_loop(lesson, release, instructor, context) -> Files:
    """An infinite loop in the middle answer that swallows the interrupt."""
    notebook = fill_answers(release, instructor)
    code = "while True:\n    try:\n        while True:\n            pass\n"
    code += "    except KeyboardInterrupt:\n        pass"
    return _files(lesson, _prepend_to_answer(notebook, middle(notebook), code))


def memory_hog(lesson, release, instructor, context) -> Files:
    """Asks for 64 GiB at once: the address-space limit refuses it (nothing is touched)."""
    notebook = fill_answers(release, instructor)
    code = "hog = bytearray(64 * 2**30)"
    return _files(lesson, _prepend_to_answer(notebook, 0, code))


def sys_exit(lesson, release, instructor, context) -> Files:
    notebook = fill_answers(release, instructor)
    return _files(lesson, _prepend_to_answer(notebook, middle(notebook), "import sys\nsys.exit(1)"))


def os_exit(lesson, release, instructor, context) -> Files:
    notebook = fill_answers(release, instructor)
    return _files(lesson, _prepend_to_answer(notebook, middle(notebook), "import os\nos._exit(1)"))


def killed_kernel(lesson, release, instructor, context) -> Files:
    notebook = fill_answers(release, instructor)
    code = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"
    return _files(lesson, _prepend_to_answer(notebook, middle(notebook), code))


def test_cell_pass(lesson, release, instructor, context) -> Files:
    """Every test cell replaced by `pass`, answers untouched: the original tests still run."""
    notebook = nbformat.from_dict(release)
    for index in _test_indices(notebook):
        notebook.cells[index].source = "pass"
    return _files(lesson, notebook)


def test_cell_deleted(lesson, release, instructor, context) -> Files:
    """Every test cell deleted, answers right: the original tests are put back and pass."""
    notebook = fill_answers(release, instructor)
    tests = set(_test_indices(notebook))
    notebook.cells = [c for i, c in enumerate(notebook.cells) if i not in tests]
    return _files(lesson, notebook)


TAMPER = """\
import sys
import numpy
numpy.allclose = lambda *a, **k: True
numpy.isclose = lambda a, b, *args, **k: numpy.ones(numpy.shape(a), dtype=bool)
numpy.testing.assert_allclose = lambda *a, **k: None
numpy.array_equal = lambda *a, **k: True
if "torch" in sys.modules:
    sys.modules["torch"].allclose = lambda *a, **k: True
    sys.modules["torch"].testing.assert_close = lambda *a, **k: None
import rlhelpers.testing
for _name in rlhelpers.testing.__all__:
    if _name.startswith("check"):
        setattr(rlhelpers.testing, _name, lambda *a, **k: None)
        globals()[_name] = lambda *a, **k: None
"""


def tamper(lesson, release, instructor, context) -> Files:
    """Wrong answers, and every test helper (numpy, torch, rlhelpers.testing) made to pass."""
    notebook = nbformat.from_dict(release)
    answers = _answer_indices(notebook)
    for position, index in enumerate(answers):
        names = _defined_names(fill_answers(release, instructor).cells[index].source)
        wrong = "".join(f"def {name}(*args, **kwargs):\n    return 0\n\n" for name in names)
        notebook.cells[index].source = (TAMPER if position == 0 else "") + wrong
    return _files(lesson, notebook)


def invalid_json(lesson, release, instructor, context) -> Files:
    text = nbformat.writes(fill_answers(release, instructor))
    return {f"{lesson}.ipynb": text[: len(text) // 2].encode()}


def wrong_name(lesson, release, instructor, context) -> Files:
    return {f"{lesson} (1).ipynb": perfect(lesson, release, instructor, context)[f"{lesson}.ipynb"]}


SECRET_VARIABLE = "RLCOURSE_DEMO_SECRET"
"""A decoy credential the class demo puts in the grader's environment (the snoop looks)."""

SNOOP = """\
import glob, os, socket, threading
ROOT = {root!r}
GRADEBOOK = {gradebook!r}
SUBMITTED = {submitted!r}
SECRET = {secret!r}
attempts = {{}}
def attempt(what, action):
    try:
        attempts[what] = "SUCCEEDED: " + repr(action())[:80]
    except BaseException as error:
        attempts[what] = "blocked: " + type(error).__name__
def fill(path, most=2**30):
    with open(path, "wb") as handle:
        for _ in range(most // 2**23):
            handle.write(bytes(2**23))
    return most
def many_threads(most=20000):
    stop = threading.Event()
    started = []
    try:
        for _ in range(most):
            thread = threading.Thread(target=stop.wait)
            thread.start()
            started.append(thread)
    finally:
        stop.set()
    return len(started)
attempt("list solutions", lambda: glob.glob(ROOT + "/solutions/*/*") or 1 / 0)
attempt("read a solution", lambda: open(glob.glob(ROOT + "/solutions/*/*.py")[0]).read())
attempt("read the gradebook", lambda: open(GRADEBOOK, "rb").read(16))
attempt("read other submissions", lambda: os.listdir(SUBMITTED))
attempt("write outside its folder", lambda: open(ROOT + "/ESCAPED.txt", "w").write("x"))
attempt("write to the home folder", lambda: open(os.path.expanduser("~/E.txt"), "w").write("x"))
attempt("open a network connection", lambda: socket.create_connection(("1.1.1.1", 53), timeout=3))
attempt("resolve a host name", lambda: socket.gethostbyname("pypi.org"))
attempt("read the grader's secrets", lambda: os.environ[SECRET])
attempt("read root's files", lambda: open("/etc/shadow").read(8))
attempt("fill /tmp", lambda: fill("/tmp/filler"))
attempt("fill its folder", lambda: fill("filler"))
attempt("start 20000 threads", many_threads)
for name in ("/tmp/filler", "filler"):
    if os.path.exists(name):
        os.remove(name)
for what, result in attempts.items():
    print(f"{{what}}: {{result}}")
leaked = [w for w, r in attempts.items() if r.startswith("SUCCEEDED")]
if not leaked:
    raise NotImplementedError("sandboxed: nothing to copy")
# had the sandbox leaked the solutions, the reference answers would be copied here
"""


def snoop(lesson, release, instructor, context) -> Files:
    """Stub answers, plus an attempt to read the solutions and gradebook, write, and connect."""
    notebook = nbformat.from_dict(release)
    index = _answer_indices(notebook)[0]
    root = Path(context["root"])
    notebook.cells[index].source = SNOOP.format(
        root=str(root),
        gradebook=str(root / course.GRADEBOOK),
        submitted=str(course.submitted_dir(root)),
        secret=SECRET_VARIABLE,
    )
    return _files(lesson, notebook)


NOISY = """\
import sys, warnings
warnings.warn("this answer is slow on long episodes")
print("progress: 100%", file=sys.stderr)
"""
FLOOD = """\
global _floods
_floods = globals().get("_floods", 0) + 1
if _floods <= 2:  # 2 MiB of output in each of the first two calls
    print("x" * 2**21)
"""


def noisy(lesson, release, instructor, context) -> Files:
    """Right answers that warn (stderr) when called, and the second one floods its output."""
    notebook = fill_answers(release, instructor)
    for position, index in enumerate(_answer_indices(notebook)[:2]):
        extra = NOISY if position == 0 else FLOOD
        notebook.cells[index].source = _inject_into_functions(notebook.cells[index].source, extra)
    return _files(lesson, notebook)


def _inject_into_functions(source: str, code: str) -> str:
    """`code` run first thing in every top-level function of an answer cell."""
    lines = []
    body = "".join(f"    {line}\n" for line in code.splitlines())
    for line in source.splitlines():
        lines.append(line)
        if line.startswith("def ") and line.rstrip().endswith(":"):
            lines.append(body.rstrip("\n"))
    return "\n".join(lines)


def _pasted(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of a cell as Jupyter pastes it: the same metadata, a cell id of its own."""
    copy = nbformat.from_dict(cell)
    if "id" in copy:
        copy["id"] = f"{copy['id']}-pasted"[:64]
    return copy


def copy_paste(lesson, release, instructor, context) -> Files:
    """Right answers, the first answer and the last test cell pasted twice, and a cell with
    grade metadata of its own (10 points) copied from another notebook."""
    notebook = fill_answers(release, instructor)
    first_answer = _answer_indices(notebook)[0]
    last_test = _test_indices(notebook)[-1]
    copies = {index: _pasted(notebook.cells[index]) for index in (first_answer, last_test)}
    for index in sorted(copies, reverse=True):
        notebook.cells.insert(index + 1, copies[index])
    stranger = nbformat.v4.new_code_cell("assert False, 'a test of another notebook'")
    stranger["id"] = "pasted-from-another-notebook"  # a fixed id: the corpus stays the same
    stranger.metadata["nbgrader"] = {
        "grade": True,
        "grade_id": "test_from_another_notebook",
        "locked": True,
        "points": 10,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    notebook.cells.append(stranger)
    return _files(lesson, notebook)


PRETENDER = """\
class Anything:
    \"\"\"Equals and converts to whatever the test expects: it reads it from the caller.\"\"\"
    def _expected(self):
        import inspect
        for frame in inspect.stack():
            for name in ("expected", "expected_array", "correct"):
                if name in frame.frame.f_locals:
                    return frame.frame.f_locals[name]
        return 0
    def __array__(self, dtype=None, copy=None):
        import numpy
        return numpy.asarray(self._expected(), dtype=dtype)
    def __float__(self):
        return float(self._expected())
    def __int__(self):
        return int(self._expected())
    def __index__(self):
        return int(self._expected())
    def __eq__(self, other):
        return True
    def __bool__(self):
        return True
    __hash__ = object.__hash__
try:
    print(open("answers.py").read()[:200])
except OSError as error:
    print("reading the planted link:", type(error).__name__)
"""


def cheater(lesson, release, instructor, context) -> Files:
    """Every answer returns an object that pretends to be the expected value; the demo also
    plants links to the solutions in the exchange and the submitted folder (LINKS)."""
    notebook = nbformat.from_dict(release)
    for position, index in enumerate(_answer_indices(notebook)):
        names = _defined_names(fill_answers(release, instructor).cells[index].source)
        wrong = "".join(
            f"def {name}(*args, **kwargs):\n    return Anything()\n\n" for name in names
        )
        notebook.cells[index].source = (PRETENDER if position == 0 else "") + wrong
    return _files(lesson, notebook)


def solution_links(root: Path, lesson: str) -> dict[str, Path]:
    """{name: target} of the symbolic links the cheater plants: the lesson's solutions."""
    return {"answers.py": course.source_path(root, lesson)}


LINKS: dict[str, Callable[[Path, str], dict[str, Path]]] = {"cheater": solution_links}
"""Kinds that plant symbolic links where the instructor's tools copy from (the demo does it)."""


# --------------------------------------------------------------------------- code that stays
# active while a check runs (issue 32): each one puts a wrong first answer behind a trick
# that made the checks pass before the guard undid it.

CODE_SWAP = """\
import rlhelpers.testing as _testing
def _always_passes(*args, **kwargs):
    return None
try:  # the helpers' own function objects, changed in place: re-binding restores nothing
    for _name in _testing.__all__:
        if _name.startswith("check"):
            _helper = getattr(_testing, _name)
            getattr(_helper, "__wrapped__", _helper).__code__ = _always_passes.__code__
except RuntimeError as _error:
    print("changing check_close:", _error)
"""

TORCH_MODE = """\
import sys
import torch
from torch.overrides import TorchFunctionMode
class _Expected(TorchFunctionMode):
    \"\"\"Answers `tensor.detach()` with the value that the calling check expects.\"\"\"
    def __torch_function__(self, func, types, args=(), kwargs=None):
        frame = sys._getframe(1)
        while frame is not None and func is torch.Tensor.detach:
            if frame.f_code.co_name == "check_close" and "expected" in frame.f_locals:
                return torch.as_tensor(frame.f_locals["expected"], dtype=torch.float64)
            frame = frame.f_back
        return func(*args, **(kwargs or {}))
def _install():
    if not torch._C._len_torch_function_stack():
        _Expected().__enter__()
_install()
"""

TRACE_HOOK = """\
import sys, threading
def _tracer(frame, event, arg):
    \"\"\"On entering a check, its `got` becomes its `expected` (written back after the hook).\"\"\"
    if event == "call" and frame.f_code.co_name == "check_close":
        frame.f_locals["got"] = frame.f_locals["expected"]
    return None
try:
    threading.settrace(_tracer)
    sys.settrace(_tracer)
except RuntimeError as _error:
    print("sys.settrace:", _error)
"""

GC_CALLBACK = """\
import gc, sys
def _rewrite(phase, info):
    \"\"\"In a collection inside a check: its copy of the answer becomes the expected.\"\"\"
    frame = sys._getframe(1)
    while frame is not None:
        names = frame.f_locals
        if frame.f_code.co_name == "check_close" and "expected_array" in names:
            names["got_array"][...] = names["expected_array"]
        frame = frame.f_back
gc.callbacks.append(_rewrite)
gc.set_threshold(1)  # a collection at nearly every allocation
"""

THREAD = """\
import sys, threading, time
def _patch_the_checks():
    \"\"\"Every millisecond: the helpers' comparison says 'close' for everything.\"\"\"
    import numpy
    while True:
        checks = sys.modules.get("rlhelpers.testing")
        if checks is not None:
            vars(checks)["_less_equal"] = lambda a, b: numpy.ones(numpy.shape(a), dtype=bool)
        time.sleep(0.001)
threading.Thread(target=_patch_the_checks, daemon=True, name="patcher").start()
"""

AUDIT_HOOK = """\
import sys, numpy
def _on_event(event, args):
    \"\"\"Whenever a cell is compiled (grade cells too): patches the helpers again.\"\"\"
    checks = sys.modules.get("rlhelpers.testing")
    if event == "compile" and checks is not None:
        vars(checks)["_less_equal"] = lambda a, b: numpy.ones(numpy.shape(a), dtype=bool)
sys.addaudithook(_on_event)
"""

ACTIVE_CODE = {
    "code_swap": (CODE_SWAP, "0.0"),
    "torch_mode": (TORCH_MODE, "_install() or torch.tensor(0.0)"),
    "trace_hook": (TRACE_HOOK, "0.0"),
    "gc_callback": (GC_CALLBACK, "0.0"),
    "thread": (THREAD, "time.sleep(0.02) or 0.0"),
    "audit_hook": (AUDIT_HOOK, "0.0"),
}
"""{kind: (the trick, the wrong answer every function of the first answer cell returns)}"""


def active_code(kind: str) -> Builder:
    """A builder: right answers, but the first is wrong, with the trick of ACTIVE_CODE[kind]."""

    def build(lesson, release, instructor, context) -> Files:
        notebook = fill_answers(release, instructor)
        trick, value = ACTIVE_CODE[kind]
        index = _answer_indices(notebook)[0]
        names = _defined_names(notebook.cells[index].source)
        wrong = "".join(f"def {name}(*args, **kwargs):\n    return {value}\n\n" for name in names)
        notebook.cells[index].source = trick + "\n\n" + wrong
        return _files(lesson, notebook)

    build.__doc__ = f"The first answer wrong behind {kind}: {ACTIVE_CODE[kind][0].splitlines()[0]}"
    return build


KINDS: dict[str, Builder] = {
    "perfect": perfect,
    "partial": partial,
    "untouched": untouched,
    "syntax_error": syntax_error,
    "exception": exception,
    "infinite_loop": infinite_loop,
    "stubborn_loop": stubborn_loop,
    "memory_hog": memory_hog,
    "sys_exit": sys_exit,
    "os_exit": os_exit,
    "killed_kernel": killed_kernel,
    "test_cell_pass": test_cell_pass,
    "test_cell_deleted": test_cell_deleted,
    "tamper": tamper,
    "invalid_json": invalid_json,
    "wrong_name": wrong_name,
    "snoop": snoop,
    "noisy": noisy,
    "copy_paste": copy_paste,
    "cheater": cheater,
    **{kind: active_code(kind) for kind in ACTIVE_CODE},
}
"""Every simulated student; the demo adds 'twice' (untouched, then perfect)."""

# How each one must end: the exercises that lose points, in words (README, demo).
EXPECTED = {
    "perfect": "every autograded point",
    "partial": "the points of the exercises it answered",
    "untouched": "0 points",
    "syntax_error": "SyntaxError in the first answer cell: that exercise 0, the others full",
    "exception": "ValueError in the first answer cell: that exercise 0, the others full",
    "infinite_loop": "CellTimeoutError (per-cell time limit): that exercise 0, the others full",
    "stubborn_loop": "swallows the interrupt: the kernel is stopped, earlier exercises full, "
    "the middle one and later ones 0 (not run)",
    "memory_hog": "MemoryError (address-space limit): that exercise 0, the others full",
    "sys_exit": "SystemExit in the middle answer cell: that exercise 0, the others full",
    "os_exit": "kernel died in the middle: earlier exercises full, later ones 0 (not run)",
    "killed_kernel": "kernel killed in the middle: earlier exercises full, later ones 0 (not run)",
    "test_cell_pass": "test cells restored from the gradebook: 0 points (answers are stubs)",
    "test_cell_deleted": "test cells put back from the gradebook and run: every autograded point",
    "tamper": "numpy/torch/rlhelpers helpers restored before each test: 0 points",
    "invalid_json": "not a valid notebook: 0 points, status 'invalid notebook'",
    "wrong_name": "wrong file name: 0 points, status 'wrong file name'",
    "snoop": "every attempt blocked by the sandbox (files, secrets in the environment, "
    "root's files, network, filling /tmp or its folder, too many threads): 0 points",
    "noisy": "right answers that warn on stderr and flood their output: every autograded "
    "point, the outcome says what went to stderr and where the output was cut",
    "copy_paste": "a pasted answer and test cell, a grade cell of another notebook: graded, "
    "every autograded point, the maximum unchanged, the outcome says what was ignored",
    "cheater": "objects that pretend to be the expected value, links to the solutions: "
    "refused by the test helpers, the links left out: 0 points",
    "twice": "two submissions kept in the exchange, the later (perfect) one graded",
    "code_swap": "a wrong first answer, the helpers' code changed in place: refused by the "
    "guard's audit hook, the helpers loaded afresh: that exercise 0, the others full",
    "torch_mode": "a wrong first answer (a tensor), a torch function mode that answers the "
    "check's tensor reads with the expected value: popped, and checks read tensors with modes "
    "off: that exercise 0, the others full",
    "trace_hook": "a wrong first answer, sys.settrace / threading.settrace rewriting the "
    "check's locals: refused / removed: that exercise 0, the others full",
    "gc_callback": "a wrong first answer, a gc callback rewriting the check's copy: removed, "
    "gc off during grade cells: that exercise 0, the others full",
    "thread": "a wrong first answer, a thread that keeps patching the helpers: stopped before "
    "the grade cell: that exercise 0, the others full",
    "audit_hook": "a wrong first answer, an audit hook patching the helpers when a cell is "
    "compiled: refused (the guard's hook came first): that exercise 0, the others full",
}


TIMING_START = "2026-01-05T09:00:00"
"""When every timed demo student starts a lesson (UTC)."""


def with_recorded_timing(files: Files, lesson: str, seed: int) -> Files:
    """The lesson's notebook as a lab with recordTiming on leaves it: each code cell run once,
    in order, 1 to 6 minutes after the one before (seeded), one second each. The perfect and
    the partial student hand in such notebooks."""
    import random
    from datetime import datetime, timedelta

    name = f"{lesson}.ipynb"
    notebook = nbformat.reads(files[name].decode(), as_version=4)
    rng = random.Random(f"{lesson}/{seed}")
    clock = datetime.fromisoformat(TIMING_START)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        clock += timedelta(minutes=rng.uniform(1, 6))
        cell.metadata["execution"] = {
            "iopub.execute_input": clock.isoformat() + "Z",
            "shell.execute_reply": (clock + timedelta(seconds=1)).isoformat() + "Z",
        }
    return {**files, name: nbformat.writes(notebook).encode()}


def write_files(folder: Path, files: Files) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


def build_class(root: Path, lesson: str, kinds: list[str] | None = None) -> dict[str, Files]:
    """{kind: files} for a released course folder (snoop aims at `root`)."""
    release = nbformat.read(course.release_path(root, lesson), as_version=4)
    reference = nbformat.read(course.instructor_path(root, lesson), as_version=4)
    return {
        kind: KINDS[kind](lesson, release, reference, {"root": root}) for kind in kinds or KINDS
    }


def write_zip(path: Path, submissions: dict[str, Files]) -> None:
    """Submissions as `<kind>/<file name>` entries of a zip with fixed timestamps."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for kind, files in sorted(submissions.items()):
            for name, data in sorted(files.items()):
                archive.writestr(zipfile.ZipInfo(f"{kind}/{name}", (2020, 1, 1, 0, 0, 0)), data)


def main(argv: list[str] | None = None) -> None:
    """Write the bad submissions of a lesson as a zip (tests/fixtures/submissions)."""
    import argparse
    import tempfile

    from grader.release import release

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--course", type=Path, required=True)
    parser.add_argument("--lesson", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = course.copy_course(args.course.resolve(), Path(tmp), [args.lesson])
        release(root, [args.lesson])
        corpus = build_class(root, args.lesson, [k for k in KINDS if k != "snoop"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_zip(args.out, corpus)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
