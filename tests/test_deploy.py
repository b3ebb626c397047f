"""What the hub and the cluster need that no server has to run for: configs and choices.

The hub itself, with real users, is tests/test_grading_hub.py.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile

import yaml

from grader import bundle
from grader.course import COURSE_ID, REPO
from grader.hub import layout
from grader.hub.exchange import per_student_submissions

K8S = REPO / "deploy" / "k8s"


def test_per_student_collect_keeps_only_what_lies_in_its_students_folder(tmp_path):
    inbound = tmp_path / "inbound"
    for student, name in [
        ("ana", "ana+01_bandits+2026-01-01 10:00:00.000000 UTC+a1"),
        ("ana", "ana+01_bandits+2026-01-02 10:00:00.000000 UTC+a2"),
        ("ana", "ana+02_mdps+2026-01-02 10:00:00.000000 UTC+a3"),
        ("ben", "ana+01_bandits+2099-01-01 10:00:00.000000 UTC+forged"),
        ("ben", "ben+01_bandits+2026-01-01 11:00:00.000000 UTC+b1"),
    ]:
        (inbound / student / name).mkdir(parents=True)
    kept, refused = per_student_submissions(inbound, "01_bandits")
    assert kept == [
        "ana/ana+01_bandits+2026-01-01 10:00:00.000000 UTC+a1",
        "ana/ana+01_bandits+2026-01-02 10:00:00.000000 UTC+a2",
        "ben/ben+01_bandits+2026-01-01 11:00:00.000000 UTC+b1",
    ]
    assert refused == ["ben/ana+01_bandits+2099-01-01 10:00:00.000000 UTC+forged"]


def _documents(name):
    return list(yaml.safe_load_all((K8S / name).read_text()))


def test_k8s_student_pods_mount_only_their_own_folders():
    values = _documents("values.yaml")[0]
    mounts = {m["mountPath"]: m for m in values["singleuser"]["storage"]["extraVolumeMounts"]}
    base = f"/srv/nbgrader/exchange/{COURSE_ID}"
    assert mounts[f"{base}/outbound"].get("readOnly") is True
    assert mounts[f"{base}/inbound"]["subPath"] == f"{COURSE_ID}/inbound/{{username}}"
    assert mounts[f"{base}/feedback"]["subPath"] == f"{COURSE_ID}/feedback/{{username}}"
    assert len(mounts) == 3, "a student pod mounts nothing else of the exchange"


def test_k8s_roles_and_service_are_the_single_servers():
    values = _documents("values.yaml")[0]
    site = layout.Site(REPO, ["instructor1"], ["student1"], driver_token="")
    wanted = {r["name"]: sorted(r["scopes"]) for r in layout.roles(site)}
    given = {name: sorted(r["scopes"]) for name, r in values["hub"]["loadRoles"].items()}
    assert given == wanted
    assert values["hub"]["config"]["Authenticator"]["allow_all"] is False
    assert COURSE_ID in values["hub"]["services"]
    kinds = [d["kind"] for d in _documents("course.yaml")]
    assert kinds == ["PersistentVolumeClaim", "PersistentVolumeClaim", "Deployment", "Service"]


def test_student_bundle_lab_disables_the_instructor_tools(tmp_path):
    """The bundle's `make lab` config: Jupyter itself reports the two plugins and the API off."""
    with zipfile.ZipFile(io.BytesIO(_bundle_bytes(tmp_path))) as archive:
        archive.extractall(tmp_path / "unzipped")
    top = tmp_path / "unzipped" / bundle.TOP
    assert f"JUPYTER_CONFIG_PATH=$(CURDIR)/{bundle.LAB_CONFIG}" in (top / "Makefile").read_text()
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(top / bundle.LAB_CONFIG)}
    labextensions = _jupyter(["labextension", "list"], env)
    for plugin in bundle.INSTRUCTOR_PLUGINS:
        assert plugin in labextensions.split("Disabled extensions:")[-1], labextensions
    assert "validate-assignment" not in labextensions.split("Disabled extensions:")[-1]
    loaded = json.loads(_python(SERVER_EXTENSIONS, env).strip().splitlines()[-1])
    assert loaded["nbgrader.server_extensions.formgrader"] is False, loaded
    assert loaded["nbgrader.server_extensions.assignment_list"] is True, loaded
    assert loaded["nbgrader.server_extensions.validate_assignment"] is True, loaded


SERVER_EXTENSIONS = """
import json
from jupyter_core.paths import jupyter_config_path
from jupyter_server.extension.config import ExtensionConfigManager
manager = ExtensionConfigManager(read_config_path=jupyter_config_path())
print(json.dumps(manager.get_jpserver_extensions()))
"""
"""The server extensions a Jupyter server started with this environment loads."""


def _bundle_bytes(tmp_path) -> bytes:
    files = {
        f"{bundle.TOP}/{name}": data
        for name, data in bundle.files(REPO).items()
        if not name.startswith("notebooks/")
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _jupyter(args, env) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "jupyter", *args], capture_output=True, text=True, env=env
    )
    return done.stdout + done.stderr


def _python(code, env) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_hub_settings_name_the_roster_and_free_nothing_else(tmp_path):
    site = layout.Site(tmp_path, ["teach"], ["ana", "ben"], grader="g", driver_token="")
    settings = layout.jupyterhub_settings(site)
    assert settings["Authenticator"]["allowed_users"] == {"teach", "ana", "ben", "g"}
    assert settings["Authenticator"]["allow_all"] is False
    groups = settings["JupyterHub"]["load_groups"]
    assert groups[layout.formgrade_group()]["users"] == ["teach", "g"]
    assert "g" not in groups[layout.students_group()]["users"]
    assert [s["name"] for s in settings["JupyterHub"]["services"]] == [COURSE_ID]
    assert json.dumps(settings, default=sorted)  # plain data the hub's config can take
