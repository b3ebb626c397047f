"""The course on a shared server: what a JupyterHub deployment runs, apart from grading.

Grading (grader/ and grader/kernel/) imports nothing of this folder; the hub
uses the grading as any instructor does (`python -m grader.autograde` in the
course service).

    layout    the site: accounts, groups, roles, folders and their modes, the hub's
              settings (python -m grader.hub.layout setup | service)
    exchange  nbgrader's exchange among real users: private submissions, collect
              by owner, release with explicit modes, the per-student k8s mounts
"""
