"""How long the chart's life takes on a fresh local cluster, with nothing to train: `helm install` of the previous
release, `helm upgrade` to this chart (the CRD hook included), `helm uninstall` (the purge hook included), each
waited for (`--wait`). Repeated, with the median reported; writes its section of docs/benchmarks.md.

    .venv/bin/python bench/helm_timings.py --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from docs_section import replace_section

from kubetune_devcluster.controlplane import start_cluster
from kubetune_devcluster.helm import Helm
from kubetune_devcluster.postgres import free_port

REPO = Path(__file__).resolve().parents[1]
PREVIOUS_CHART = REPO / "tests" / "fixtures" / "charts" / "kubetune-0.1.0.tgz"
NAMESPACE = "kubetune-system"


def one_run() -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="kubetune-helm-bench-"))
    cluster = start_cluster(root=root)
    try:
        helm = Helm(cluster.kubeconfig, root / "helm")
        values = {"metrics": {"port": free_port()}}
        times = {}
        for step, action in (
            ("install 0.1.0", lambda: helm.install("kubetune", NAMESPACE, chart=PREVIOUS_CHART, values=values)),
            ("upgrade to this chart", lambda: helm.upgrade("kubetune", NAMESPACE, values=values)),
            ("uninstall", lambda: helm.uninstall("kubetune", NAMESPACE)),
            ("install this chart", lambda: helm.install("kubetune", NAMESPACE, values=values)),
        ):
            started = time.monotonic()
            action()
            times[step] = time.monotonic() - started
        return times
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [one_run() for _ in range(args.runs)]
    medians = {step: statistics.median(r[step] for r in runs) for step in runs[0]}
    print(json.dumps({"runs": runs, "median_seconds": medians}, indent=1))
    lines = ["## Helm install, upgrade and uninstall", "",
             f"`.venv/bin/python bench/helm_timings.py --runs {args.runs}`: a fresh local cluster per run, no "
             "workload, each command with `--wait`; median of the runs.", "",
             "| step | median |", "|---|---|"]
    lines += [f"| `helm {step}` | {seconds:.1f} s |" for step, seconds in medians.items()]
    replace_section("helm-timings", lines)


if __name__ == "__main__":
    main()
