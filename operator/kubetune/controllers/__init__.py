"""kopf handlers, one module per kind, and the plain functions they delegate to.

Importing this package registers every handler with kopf's default registry. Handlers are thin: they parse, call
one function, and let kopf retry; decisions (``training_phase``) are pure and tested without a cluster; side effects
(``training_children``, ``progress``) go through ``kubetune.kube``.
"""

from . import finetunedmodel, modelcomparison, startup, trainingjob

__all__ = ["finetunedmodel", "modelcomparison", "startup", "trainingjob"]
