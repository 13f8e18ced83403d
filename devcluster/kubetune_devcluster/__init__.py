"""The local test ground: a real Kubernetes control plane on loopback, a process node that runs pods as local
processes, a Postgres server, tiny models and a vLLM CPU server.

Tests, ``make demo``, ``make deploy`` (``deploy.py`` renders the install artefacts from the chart) and the
benchmarks use it. The operator, the trainer and the serving code never import it.
"""
