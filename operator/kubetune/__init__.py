"""kubetune: a Kubernetes operator for LLM fine-tuning.

Subpackages, by role:

- ``api``: pydantic models of the custom resources, the one source for ``crds/``;
- ``builders``: pure functions from a spec to a whole manifest dict, with no I/O;
- ``controllers``: kopf handlers, one module per kind;
- ``kube``: the thin asynchronous Kubernetes API client the operator uses;
- ``serving``: the vLLM client and the rollout of adapters across pods;
- ``training``: what runs inside a training pod (datasets, backends, progress, checkpoints).

The local test ground (control plane, process node, Postgres, tiny models, the demo) is not part of this package: it
lives in the repository's ``devcluster/`` as ``kubetune_devcluster``, so the wheel and the images hold only what runs
in a cluster.
"""

__version__ = "0.1.0"
GROUP = "kubetune.dev"
VERSION = "v1alpha1"
