# ---------------------------------------------------------------- on Kubernetes (deploy/k8s)
# Append to the course folder's nbgrader_config.py in the course image: students'
# pods see only their own inbound/<user>/ and feedback/<user>/ folders, so the
# course service collects from and releases feedback into per-student folders.
c.Exchange.path_includes_course = True
c.Authenticator.plugin_class = "nbgrader.auth.JupyterHubAuthPlugin"
c.ExchangeFactory.collect = "grader.hub.exchange.PerStudentInboundCollect"
c.ExchangeFactory.release_feedback = "grader.hub.exchange.PerStudentReleaseFeedback"
c.ExchangeFactory.release_assignment = "grader.hub.exchange.ModeSettingRelease"
