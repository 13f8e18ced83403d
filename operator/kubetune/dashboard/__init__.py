"""The web dashboard (``kubetune dashboard``): training runs with live loss curves, models and where they are served,
comparisons with their charts and samples, read from the database mirror; and, when an administrator turns them on,
actions that create or patch kubetune's objects through the Kubernetes API, exactly as ``kubectl apply`` would.

What belongs here: the aiohttp application (``app``), its pages (``pages``) and JSON endpoints (``api``), the
read-only access to the mirror (``database``) and the queries over it (``queries/``), the server-side down-sampling
of long curves (``downsample``), the Events read from the cluster (``events``), the actions (``actions/``: pure
manifest builders, their application, the bearer token), the Jinja2 templates and the static files (our CSS and
script, and Chart.js built by ``make assets`` from ``frontend/package-lock.json``).

What does not: anything that writes the mirror (``kubetune.store``), the operator's controllers, builders, the
in-pod code or kopf (an import-linter contract keeps it so). The dashboard never writes the database; it changes the
cluster only through the actions, as its own ServiceAccount.
"""
