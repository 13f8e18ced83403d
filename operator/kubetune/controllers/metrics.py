"""The operator's own Prometheus metrics, served on KUBETUNE_METRICS_PORT (training pods serve their own)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RECONCILES = Counter("kubetune_reconciles_total", "Reconciliations, by kind and result (ok, retry, error).",
                     ["kind", "result"])
TRANSITIONS = Counter("kubetune_phase_transitions_total", "Phase transitions, by kind and the phase entered.",
                      ["kind", "phase"])
ADAPTER_LOADS = Counter("kubetune_adapter_loads_total",
                        "Adapter loads on vLLM pods, by outcome (loaded, present, failed).", ["outcome"])
ROLLOUT_SECONDS = Histogram("kubetune_adapter_rollout_seconds",
                            "Time to make an adapter servable on every ready pod of one target.",
                            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))

MODEL_LIST_READS = Counter("kubetune_vllm_model_list_reads_total",
                           "GET /v1/models requests sent to vLLM pods (shared by the adapters served there).")
TARGET_WATCHES = Gauge("kubetune_target_watches",
                       "Serving-target Deployments watched (one pod watch each, shared by their models).")
LEADER = Gauge("kubetune_leader", "1 while this replica holds the Lease and acts; 0 while it stands by.")


def serve(port: int) -> None:
    if port:
        start_http_server(port)
