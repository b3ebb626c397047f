"""JupyterHub for the course on one server (JupyterHub 5.x, LocalProcessSpawner, system users).

    RLHUB_SITE=/srv/rlcourse/hub/site.json jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

The site file (`python -m grader.hub.layout setup` writes it) names the roster, the
folders and the loopback ports; grader/hub/layout.py turns it into the settings
below (nbgrader's multi-course layout: groups, roles, the course as a
service run by its grader account). The hub runs as root, from the course's
environment (so `grader` imports); the proxy is deploy/jupyterhub/node_modules'
configurable-http-proxy (`make hub-deps`).
"""

import os

from grader.hub import layout

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

site = layout.Site.load(os.environ.get(layout.SITE_VARIABLE, "/srv/rlcourse/hub/site.json"))
for section, values in layout.jupyterhub_settings(site).items():
    for name, value in values.items():
        setattr(c[section], name, value)
