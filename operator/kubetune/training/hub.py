"""An ``hf://`` base model: downloaded from the Hugging Face Hub into the pod before anything loads it.

The revision is resolved to a commit first, and the snapshot is downloaded at that commit, so every file comes from
one commit even if the branch moves meanwhile; the commit is recorded in the adapter's manifest and in the checkpoint
fingerprint (a retry that finds the branch moved starts over rather than resume on other weights).

huggingface_hub reads ``HF_HUB_OFFLINE`` once, at import, into ``constants.HF_HUB_OFFLINE``, and every call (its own
and transformers') asks ``is_offline_mode()``, which returns that flag; setting the variable later changes nothing
in this process. So the download clears the flag (and the variable) for itself, whatever they were, and sets both once
the snapshot is local: from then on nothing in the trainer reaches for a hub.

Errors by meaning: a repo or revision that does not exist, or a token the Hub refuses (401, 403), fails the same way
on every retry: ``ConfigInvalid`` (exit 4). The Hub unreachable, a timeout, a 429 or a 5xx: ``BaseModelUnavailable``
(exit 1), and the next pod tries again. The token is never put in a message: it is in no URL the Hub's errors quote,
and every message is scrubbed of it all the same.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kubetune.api.trainer import BaseModelRef, HubModel

from .errors import BaseModelUnavailable, ConfigInvalid, TrainerError

log = logging.getLogger(__name__)

DEFAULT_REVISION = "main"
TOKEN_FIELD = "spec.baseModel.source.tokenSecretRef"
URI_FIELD = "spec.baseModel.source.uri"
# Weights in formats the PyTorch loaders never read: a repo that ships them beside safetensors (TensorFlow, Flax,
# ONNX, GGUF, Meta's original checkpoint) would otherwise multiply the download.
IGNORED_FILES = ["*.h5", "*.msgpack", "*.ot", "*.tflite", "*.onnx", "*.onnx_data", "*.gguf", "*.pth",
                 "onnx/*", "original/*", "openvino/*", "coreml/*"]
MESSAGE_MAX = 600


@dataclass(frozen=True)
class FetchedBaseModel:
    """Where the snapshot is, and which commit it is."""

    repo_id: str
    revision: str
    commit: str
    path: Path

    @property
    def uri(self) -> str:
        return f"hf://{self.repo_id}@{self.revision}"


def fetch_base_model(ref: BaseModelRef) -> FetchedBaseModel | None:
    """Download ``ref.hub`` into ``ref.path``; None when the base is already local (a pvc source)."""
    hub = ref.hub
    if hub is None:
        return None
    token = _token(hub)
    revision = hub.revision or DEFAULT_REVISION
    from huggingface_hub import HfApi, constants, snapshot_download
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()  # pod logs get one line per download, not a bar per file
    # Read now, not at huggingface_hub's import, as HF_HUB_OFFLINE is: a mirror or a private Hub is honoured either way.
    endpoint = os.environ.get("HF_ENDPOINT", "").rstrip("/") or constants.ENDPOINT
    started = time.monotonic()
    log.info("downloading hf://%s@%s from %s into %s", hub.repo_id, revision, endpoint, ref.path)
    try:
        with _online():
            # token=False, not None: without a tokenSecretRef no token is sent, not even one found on the image.
            resolved = HfApi(endpoint=endpoint).resolve_revision(hub.repo_id, revision=revision, token=token or False)
            path = snapshot_download(hub.repo_id, revision=resolved, token=token or False, local_dir=ref.path,
                                     endpoint=endpoint, ignore_patterns=IGNORED_FILES)
    except Exception as e:
        raise _meaning(e, hub, revision, endpoint, token) from e
    fetched = FetchedBaseModel(hub.repo_id, revision, resolved.resolved, Path(path))
    files = [p for p in fetched.path.rglob("*") if p.is_file() and ".cache" not in p.relative_to(fetched.path).parts]
    log.info("downloaded %s (commit %s): %d files, %.1f MB in %.1f s", fetched.uri, fetched.commit, len(files),
             sum(p.stat().st_size for p in files) / 1e6, time.monotonic() - started)
    return fetched


def _token(hub: HubModel) -> str | None:
    if hub.token_env is None:
        return None
    token = os.environ.get(hub.token_env, "").strip()
    if not token:
        raise ConfigInvalid(f"{TOKEN_FIELD}: the Secret key is empty (the pod's {hub.token_env} is not set)")
    return token


@contextmanager
def _online() -> Iterator[None]:
    from huggingface_hub import constants

    os.environ.pop("HF_HUB_OFFLINE", None)
    constants.HF_HUB_OFFLINE = False
    try:
        yield
    finally:
        # From here on the base is local: loading it must never reach for a hub.
        os.environ["HF_HUB_OFFLINE"] = "1"
        constants.HF_HUB_OFFLINE = True


def _meaning(error: Exception, hub: HubModel, revision: str, endpoint: str, token: str | None) -> TrainerError:
    """The error huggingface_hub raised, as the trainer's error that says what to do about it."""
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"hf://{hub.repo_id}@{revision} on {endpoint}"
    status = error.response.status_code if isinstance(error, HfHubHTTPError) else None
    if token:
        access = f"the token in {TOKEN_FIELD}"
    else:
        access = f"no token (set {TOKEN_FIELD} to a Secret key holding a Hugging Face token that can read it)"
    if isinstance(error, RevisionNotFoundError):
        problem = (f"{where}: revision {revision!r} does not exist in {hub.repo_id}; fix the @revision of {URI_FIELD} "
                   "(a branch, a tag or a commit sha)")
    elif isinstance(error, GatedRepoError):
        problem = (f"{where}: the model is gated and {access} has not been granted access; accept its terms on the "
                   "Hub with the token's account")
    elif isinstance(error, RepositoryNotFoundError):
        problem = (f"{where}: repository {hub.repo_id} was not found, or it is private and was asked for with "
                   f"{access}; check {URI_FIELD}")
    elif status in (401, 403):
        problem = f"{where}: the Hub refused {access} (HTTP {status}); put a valid token in the Secret"
    elif status is not None and 400 <= status < 500 and status not in (408, 429):
        problem = f"{where}: the Hub refused the download (HTTP {status}): {_detail(error)}"
    elif isinstance(error, HFValidationError):
        problem = f"{URI_FIELD}: {hub.repo_id!r} is not a valid repository id: {_detail(error)}"
    else:
        # Unreachable, timed out, rate-limited, 5xx: the next pod downloads again.
        return BaseModelUnavailable(_scrub(f"cannot download {where}: {type(error).__name__}: {_detail(error)}",
                                           token))
    return ConfigInvalid(_scrub(problem, token))


def _detail(error: Exception) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 3] + "..."


def _scrub(message: str, token: str | None) -> str:
    return message.replace(token, "[token]") if token else message
