"""The course on a real JupyterHub: the hub demo's term, its five traps, and privacy.

One module-scoped hub (grader.demo.hub_term: system users, LocalProcessSpawner,
free loopback ports) runs the term of the fixture course's lesson (`make
hub-demo` runs lesson 01's; the hub's plumbing is the same, and the fixture
grades in seconds where lesson 01 takes a minute per notebook); the tests then ask the hub
and the users' own servers, and the privacy tests try, as the student's own
account (a kernel of the student's server), what no student may do. Skipped
only where the machine cannot create users (not root, no useradd).
"""

from __future__ import annotations

import json
import stat
import textwrap
import time

import nbformat
import pytest
import requests
from course_tools import FIXTURE_COURSE

from grader.course import COURSE_ID, REPO, instructor_path, is_grade_test, points
from grader.demo import hub_term
from grader.hub import layout

LESSON = "00_fixture"
FUTURE = "2099-01-01 00:00:00.000000 UTC"
"""The timestamp of a forged submission: newer than any real one."""


@pytest.fixture(scope="module")
def term_run():
    reason = hub_term.can_create_users()
    if reason:
        pytest.skip(f"the hub tests need real users: {reason}")
    postgresql = hub_term.Postgres.binaries() is not None
    with hub_term.running_hub(postgresql=postgresql, source=FIXTURE_COURSE, lesson=LESSON) as run:
        started = time.perf_counter()
        hub_term.term(run)
        run.seconds["term"] = time.perf_counter() - started
        yield run


def autograded_points(site) -> float:
    notebook = nbformat.read(instructor_path(site.course, LESSON), as_version=4)
    return sum(points(cell) for cell in notebook.cells if is_grade_test(cell))


def table_scores(table: str) -> dict[str, float]:
    """{student: score} of the grade table's lesson column ('score/max')."""
    rows = [line.split() for line in table.splitlines()[2:] if line.strip()]
    return {row[0]: float(row[1].split("/")[0]) for row in rows}


def as_student(run, student: str, code: str) -> dict:
    """Run code in a kernel of the student's own server; it prints one JSON object."""
    out = run.user(student).run(textwrap.dedent(code)).check(f"{student}'s attempt").stdout
    return json.loads(out.strip().splitlines()[-1])


ATTEMPT = """
import json, os, shutil, subprocess
results = {}
def attempt(name, action):
    try:
        action()
        results[name] = "allowed"
    except OSError as error:
        results[name] = type(error).__name__
"""


# --------------------------------------------------------------------------- the term


def test_term_grades_both_students(term_run):
    good, blank = term_run.site.students
    scores = table_scores(term_run.table)
    assert scores.get(good) == autograded_points(term_run.site), term_run.table
    assert scores.get(blank) == 0, term_run.table


def test_each_student_fetched_their_feedback(term_run):
    for student in term_run.site.students:
        found = hub_term.feedback_files(term_run.user(student), LESSON)
        assert [name for name in found if name.endswith(f"{LESSON}.html")], (student, found)


def test_gradebook_is_the_configured_one(term_run):
    """PostgreSQL when the machine has it (make hub-deps installs it), else SQLite."""
    service = term_run.hub.service(term_run.site.instructors[0])
    root = str(term_run.site.course)
    code = (
        "from pathlib import Path; from grader import course; "
        f"print(course.load_config(Path({root!r})).CourseDirectory.db_url)"
    )
    shown = service.run(code)
    url = shown.check("the gradebook url").stdout.strip()
    if term_run.postgres:
        assert url.startswith("postgresql+psycopg://"), url
    else:
        assert url.startswith("sqlite:///"), url


# --------------------------------------------------------------------------- the traps


def test_only_the_roster_may_log_in(term_run):
    """JupyterHub 5's allow_all is False: the roster is allowed_users, nobody else gets in."""
    site = term_run.site
    outsider = site.extra["outsider"]
    for user, password, allowed in [
        (site.students[0], site.extra["password"], True),
        (outsider, site.extra["password"], False),
    ]:
        session = requests.Session()
        session.get(f"{site.url}/hub/login", timeout=60)
        form = {"username": user, "password": password, "_xsrf": session.cookies.get("_xsrf")}
        reply = session.post(f"{site.url}/hub/login", data=form, allow_redirects=False, timeout=120)
        if allowed:
            assert reply.status_code == 302, (user, reply.status_code, reply.text[:300])
        else:
            assert reply.status_code == 403, (user, reply.status_code, reply.text[:300])


def test_formgrader_may_be_framed_by_lab(term_run):
    """JupyterHub >= 4.1's CSP would blank the formgrader panel: the service allows 'self'."""
    service = term_run.hub.service(term_run.site.instructors[0])
    reply = service.ok("GET", "/formgrader")
    assert layout.SERVICE_CSP in reply.headers.get("Content-Security-Policy", ""), reply.headers


def test_course_list_works_for_students_and_instructors(term_run):
    """nbgrader#1831: without read:services the course list raises KeyError 'prefix'."""
    site = term_run.site
    for user in (site.students[0], site.instructors[0]):
        reply = term_run.user(user).ok("GET", "/formgraders").json()
        assert reply["success"], (user, reply)
    courses = term_run.user(site.instructors[0]).ok("GET", "/formgraders").json()["value"]
    assert [c["url"] for c in courses if c["course_id"] == COURSE_ID] == [
        f"{site.url}/services/{COURSE_ID}/lab?formgrader=true"
    ], courses


def test_grader_account_is_a_hub_user_of_the_formgrade_group(term_run):
    """nbgrader#1872: the formgrader fails when its grader account is no hub user."""
    site = term_run.site
    model = term_run.hub.ok("GET", f"/users/{site.grader}").json()
    assert layout.formgrade_group() in model["groups"], model
    listed = term_run.hub.service(site.instructors[0]).ok("GET", "/formgrader/api/assignments")
    assert LESSON in {a["name"] for a in listed.json()}, listed.text[:300]


def test_release_is_readable_whatever_the_umask(term_run):
    """nbgrader#686: the course service runs under umask 077; the release is 0755/0644."""
    site = term_run.site
    service_pids = [p for p in hub_pids(site.grader)]
    assert service_pids, "the course service runs as the grader account"
    umask = umask_of(service_pids[0])
    assert umask == int(layout.SERVICE_UMASK, 8), oct(umask)
    released = site.exchange / COURSE_ID / "outbound" / LESSON
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [released, *released.rglob("*")]}
    for path in [released, *released.rglob("*")]:
        wanted = 0o005 if path.is_dir() else 0o004  # others read (and enter folders)
        assert modes[path.name] & wanted == wanted, (path, oct(modes[path.name]))


def hub_pids(user: str) -> list[int]:
    import pwd
    from pathlib import Path

    uid = pwd.getpwnam(user).pw_uid
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if proc.stat().st_uid == uid and b"singleuser" in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def umask_of(pid: int) -> int:
    from pathlib import Path

    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Umask:"):
            return int(line.split()[1], 8)
    raise AssertionError(f"no umask for {pid}")


# --------------------------------------------------------------------------- students' lab


def test_students_lab_has_no_instructor_tools(term_run):
    """Validate and the assignment list, not the formgrader or create-assignment."""
    student = term_run.user(term_run.site.students[0])
    assert student.request("GET", "/formgrader").status_code == 404
    assert student.ok("GET", "/assignments", params={"course_id": COURSE_ID}).json()["success"]
    page = student.ok("GET", "/lab").text
    for plugin in ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"):
        assert plugin in page, f"{plugin} is not disabled in the student's lab"
    assert "@jupyter/nbgrader:validate-assignment" not in page.split("disabledExtensions")[-1][:400]


# --------------------------------------------------------------------------- privacy


def submission_of(run, student: str):
    inbound = run.site.exchange / COURSE_ID / "inbound"
    found = sorted(inbound.glob(f"{student}+{LESSON}+*"))
    assert found, f"no submission of {student} in {inbound}"
    return found[-1]


def test_student_cannot_read_or_change_another_submission(term_run):
    """nbgrader#978: even knowing its exact name, another student's submission is closed."""
    good, blank = term_run.site.students
    victim = submission_of(term_run, good)
    notebook = victim / f"{LESSON}.ipynb"
    code = (
        ATTEMPT
        + f"""
inbound, victim, notebook = {str(victim.parent)!r}, {str(victim)!r}, {str(notebook)!r}
attempt("list the inbound", lambda: os.listdir(inbound))
attempt("list the submission", lambda: os.listdir(victim))
attempt("read the notebook", lambda: open(notebook).read())
attempt("overwrite the notebook", lambda: open(notebook, "w").write("{{}}"))
attempt("add a file", lambda: open(victim + "/extra.txt", "w").write("x"))
attempt("rename the submission", lambda: os.rename(victim, victim + "-gone"))
attempt("remove the submission", lambda: shutil.rmtree(victim))
print(json.dumps(results))
"""
    )
    results = as_student(term_run, blank, code)
    assert results and all(v != "allowed" for v in results.values()), results
    assert notebook.exists()


def test_student_cannot_submit_as_another(term_run):
    """nbgrader submit --student is refused; a forged inbound folder is never collected."""
    good, blank = term_run.site.students
    genuine = submission_of(term_run, good)
    code = (
        ATTEMPT
        + f"""
os.chdir(os.path.expanduser("~"))
done = subprocess.run(["nbgrader", "submit", {LESSON!r}, "--course", {COURSE_ID!r},
                       "--student", {good!r}], capture_output=True, text=True)
results["nbgrader submit --student"] = "allowed" if done.returncode == 0 else "refused"
results["message"] = done.stdout + done.stderr
forged = os.path.join({str(genuine.parent)!r}, {good!r} + "+{LESSON}+" + {FUTURE!r} + "+x")
os.mkdir(forged)
shutil.copy(os.path.expanduser("~/{COURSE_ID}/{LESSON}/{LESSON}.ipynb"), forged)
open(forged + "/timestamp.txt", "w").write({FUTURE!r})
results["forged"] = forged
print(json.dumps(results))
"""
    )
    results = as_student(term_run, blank, code)
    assert results["nbgrader submit --student"] == "refused", results
    assert "only as yourself" in results["message"], results["message"][-500:]
    service = term_run.hub.service(term_run.site.instructors[0])
    log = service.ok("POST", f"/formgrader/api/assignment/{LESSON}/collect").json()
    assert "left out" in json.dumps(log), log
    collected = (
        term_run.site.course / "grader" / "work" / "submitted" / good / LESSON / "timestamp.txt"
    )
    assert collected.read_text().strip() == (genuine / "timestamp.txt").read_text().strip()


def test_student_cannot_read_solutions_gradebook_or_course(term_run):
    site = term_run.site
    blank = site.students[1]
    source = site.course / "solutions" / LESSON / f"{LESSON}.py"
    reference = instructor_path(site.course, LESSON)
    targets = {
        "list the course folder": f"os.listdir({str(site.course)!r})",
        "read the lesson source": f"open({str(source)!r}).read()",
        "read the instructor notebook": f"open({str(reference)!r}).read()",
        "read the gradebook folder": f"os.listdir({str(site.course / 'grader' / 'work')!r})",
        "read the checkout's solutions": f"os.listdir({str(REPO / 'solutions')!r})",
        "read another student's home": f"os.listdir({str(site.homes / site.students[0])!r})",
    }
    lines = [f"attempt({name!r}, lambda: {expr})" for name, expr in targets.items()]
    code = ATTEMPT + "\n".join(lines) + "\nprint(json.dumps(results))\n"
    results = as_student(term_run, blank, code)
    assert set(results) == set(targets), results
    assert all(v == "PermissionError" for v in results.values()), results
    if term_run.postgres:
        probe = f"""
import psycopg
try:
    psycopg.connect(host="127.0.0.1", port={term_run.postgres.port}, user="rlcourse",
                    dbname="gradebook", password="", connect_timeout=10)
    print('"connected"')
except psycopg.OperationalError:
    print('"refused"')
"""
        assert as_student(term_run, blank, probe) == "refused"
