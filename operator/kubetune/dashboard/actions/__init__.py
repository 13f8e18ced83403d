"""The dashboard's actions, off unless an administrator turns them on (``kubetune dashboard --actions``,
``dashboard.actions.enabled`` in the chart): start a TrainingJob, deploy or withdraw a model version on a serving
target, start a ModelComparison. ``manifests`` builds each object from a form (pure, checked against the API models),
``cluster`` creates or patches it through the Kubernetes API as the dashboard's own ServiceAccount, ``tokens`` holds
the bearer token every action needs. Nothing here reads the mirror.
"""
