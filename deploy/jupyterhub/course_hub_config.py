# ---------------------------------------------------------------- on the hub (deploy/jupyterhub)
# grader.hub.layout appends this block to the course folder's nbgrader_config.py on the
# hub: the hub's groups say who is in the course, and collect keeps only the
# submissions that their student's own account made (a folder in the inbound
# named after another student is left out with a warning).
c.Exchange.path_includes_course = True
c.Authenticator.plugin_class = "nbgrader.auth.JupyterHubAuthPlugin"
c.ExchangeFactory.collect = "grader.hub.exchange.OwnerCheckedCollect"
c.ExchangeFactory.release_assignment = "grader.hub.exchange.ModeSettingRelease"
