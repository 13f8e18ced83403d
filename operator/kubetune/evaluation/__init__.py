"""What runs inside a ModelComparison's evaluator pod (``python -m kubetune.evaluation --config PATH``).

- ``prompts``: the prompts file (JSON Lines, or a trainer's held-out split) and the seeded draw of ``samples``;
- ``client``: one streamed chat request with ``vllm bench serve``'s timings, retried with backoff; ``judge``: the
  pairwise judge, asked in both orders under vLLM structured outputs;
- ``scoring`` (reference metrics), ``statistics`` (Wilson interval, paired bootstrap, percentiles), ``verdict`` (the
  rule of docs/evaluation.md), ``aggregate`` (samples -> ``ModelComparison.status.results``);
- ``samples``: the JSON Lines file every sample is appended to (fsync'd), and resuming from it;
- ``progress``: /progress and /metrics; ``secrets``: API keys from the environment, redacted everywhere;
- ``runner``: the run from config to result; ``main``: the entry point, its exit codes and termination message.

Nothing here talks to Kubernetes (the pod has no API token) or imports the operator (``controllers``, ``builders``)
or kopf. The contract with the operator is ``kubetune.api.evaluator``.
"""
