"""nbgrader's configuration of every user's own server on the hub (its /etc/jupyter).

grader.hub.layout copies it into the site's Jupyter config folder, which the hub's
spawner puts on JUPYTER_CONFIG_PATH. The course id and the exchange are the
course's: students fetch into ~/<course>/<lesson>/ (path_includes_course) and
the hub's groups say who is in which course (JupyterHubAuthPlugin).
"""

import os

from grader.course import COURSE_ID

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

c.CourseDirectory.course_id = COURSE_ID
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE", "/srv/nbgrader/exchange")
c.Exchange.path_includes_course = True
c.Authenticator.plugin_class = "nbgrader.auth.JupyterHubAuthPlugin"
# a submission is readable by its student and the instructors only; never under another name
c.ExchangeFactory.submit = "grader.hub.exchange.PrivateSubmit"
