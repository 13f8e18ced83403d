"""Where kubetune's own kinds live in the API, for the client."""

from ..api import GROUP, VERSION
from ..kube import Resource

TRAININGJOBS = Resource(f"{GROUP}/{VERSION}", "trainingjobs")
FINETUNEDMODELS = Resource(f"{GROUP}/{VERSION}", "finetunedmodels")
MODELCOMPARISONS = Resource(f"{GROUP}/{VERSION}", "modelcomparisons")
