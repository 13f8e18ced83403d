"""The thin asynchronous Kubernetes API client the operator uses for everything kopf does not do for it:
creating children, patching other objects' status, reading pods and secrets.

Plain dicts in, plain dicts out; errors by meaning (``NotFound``, ``Conflict``, ``Forbidden``, ``Invalid``).
Nothing here knows about kubetune's kinds.
"""

from .client import KubeClient, Resource
from .errors import ApiError, Conflict, Forbidden, Invalid, NotFound

__all__ = ["ApiError", "Conflict", "Forbidden", "Invalid", "KubeClient", "NotFound", "Resource"]
