"""The template's CloudWatch dashboard, read and drawn locally (`make dashboard`).

widgets.py reads the dashboard body out of template.yaml; emf.py turns EMF log lines into
datapoints and statistics; traffic.py produces EMF lines by running synthetic traffic through
the real handler; stand_ins.py measures in-process what only AWS would measure; render.py draws
the widgets into a PNG. The picture and the template cannot drift: the panels, their metrics,
statistics and annotations are the template's own.
"""
