"""``python -m kubetune_devcluster.processnode --kubeconfig K --state-dir D``: run a process node until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from ..kubeapi import KubeREST
from .kubelet_api import KubeletApi
from .node import NodeCapacity, ProcessNode
from .provisioner import Provisioner


def _taint(value: str) -> dict[str, str]:
    spec, sep, effect = value.rpartition(":")
    key, _, taint_value = spec.partition("=")
    if not sep or not key or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
        raise argparse.ArgumentTypeError(f"expected KEY[=VALUE]:NoSchedule|PreferNoSchedule|NoExecute, got {value!r}")
    return {"key": key, "value": taint_value, "effect": effect} if taint_value else {"key": key, "effect": effect}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run Kubernetes pods as local processes (a kubelet stand-in).")
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--state-dir", required=True, type=Path, help="pod directories, logs and volumes live here")
    parser.add_argument("--name", default="process-node")
    parser.add_argument("--cpu", default="16")
    parser.add_argument("--memory", default="64Gi")
    parser.add_argument("--gpus", type=int, default=2, help="advertised GPU capacity (no GPU is used)")
    parser.add_argument("--gpu-resource", default="nvidia.com/gpu")
    parser.add_argument("--label", action="append", default=[], help="extra node label key=value")
    parser.add_argument("--taint", action="append", default=[], type=_taint, metavar="KEY[=VALUE]:EFFECT",
                        help="register the node with this taint (repeatable), e.g. a node only some pods may use")
    parser.add_argument("--kubelet-cert", help="serving certificate of the kubelet API (container logs)")
    parser.add_argument("--kubelet-key", help="its key")
    parser.add_argument("--kubelet-client-ca", help="CA of the clients it serves (the API server's kubelet client)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    api = KubeREST.from_kubeconfig(args.kubeconfig)
    labels = dict(item.split("=", 1) for item in args.label)
    capacity = NodeCapacity(cpu=args.cpu, memory=args.memory, gpus=args.gpus, gpu_resource=args.gpu_resource)
    node = ProcessNode(api, args.name, args.state_dir, capacity, labels, args.taint)
    provisioner = Provisioner(api, args.state_dir / "volumes")
    kubelet_api = None
    if args.kubelet_cert and args.kubelet_key and args.kubelet_client_ca:
        kubelet_api = KubeletApi(node.find_log, args.kubelet_cert, args.kubelet_key, args.kubelet_client_ca)
        node.kubelet_port = kubelet_api.port
        kubelet_api.start()

    def shutdown(signum: int, _frame: object) -> None:
        provisioner.stop()
        if kubelet_api is not None:
            kubelet_api.stop()
        node.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    provisioner.start()
    node.run()


if __name__ == "__main__":
    main()
