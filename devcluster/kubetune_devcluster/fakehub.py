"""A TEST DOUBLE of the Hugging Face Hub: an outside service that cannot be reached from the test machines.

It serves model repositories from local directories (the tiny model of ``tinymodel``), with exactly the endpoints
huggingface_hub 2.4 calls to resolve a revision and download a snapshot (``HfApi.resolve_revision`` and
``snapshot_download``), and the headers it reads:

- ``GET /api/models/{repo}/revision/{revision}``: ``{"id", "sha", "siblings"}``, the revision resolved to a commit;
- ``GET /api/models/{repo}/tree/{revision}?recursive=...``: the files (``path``, ``size``, ``oid``, and ``lfs`` for
  weights), in one page (no ``Link`` header);
- ``HEAD`` and ``GET /{repo}/resolve/{revision}/{path}``: ``X-Repo-Commit``, ``ETag`` (the git blob sha1, or the
  sha256 for an LFS file, as the Hub sends them) and ``Content-Length``; GET sends the bytes.

Errors are shaped as the Hub shapes them (huggingface_hub classifies them by status and ``X-Error-Code``): 401
``RepoNotFound`` for a missing repo and for a private one asked for without a token, 401 with ``X-Error-Message:
Invalid credentials in Authorization header`` for a wrong token, 404 ``RevisionNotFound`` and 404 ``EntryNotFound``.
``fail_with`` makes every request answer that status, as during an outage. Point huggingface_hub at it with
``HF_ENDPOINT=<url>`` (read when huggingface_hub is imported).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

# Files the Hub stores through LFS; the others are plain git blobs.
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".h5", ".msgpack", ".gguf", ".onnx")
INVALID_CREDENTIALS = "Invalid credentials in Authorization header"
_API = re.compile(r"^/api/models/(?P<repo>.+?)/(?P<kind>revision|tree)/(?P<rev>[^/]+)$")
_RESOLVE = re.compile(r"^/(?P<repo>.+?)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")


@dataclass(frozen=True)
class RepoFile:
    path: str
    data: bytes

    @property
    def lfs(self) -> bool:
        return self.path.endswith(LFS_SUFFIXES)

    @property
    def blob_id(self) -> str:
        """git's object id for the blob."""
        return hashlib.sha1(b"blob %d\0" % len(self.data) + self.data).hexdigest()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def etag(self) -> str:
        return self.sha256 if self.lfs else self.blob_id

    def tree_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": "file", "oid": self.blob_id, "size": len(self.data), "path": self.path}
        if self.lfs:
            entry["lfs"] = {"oid": self.sha256, "size": len(self.data), "pointerSize": 134}
        return entry


@dataclass
class Repo:
    repo_id: str
    private: bool
    refs: dict[str, str] = field(default_factory=dict)  # branch or tag -> commit
    commits: dict[str, dict[str, RepoFile]] = field(default_factory=dict)  # commit -> path -> file

    def commit_of(self, revision: str) -> str | None:
        if revision in self.commits:
            return revision
        return self.refs.get(revision)


@dataclass(frozen=True)
class Request:
    """What the fake Hub was asked, for tests to assert on."""

    method: str
    path: str
    authorization: str | None


class FakeHub:
    """A local stand-in for huggingface.co. ``publish`` repositories, then ``start`` it (or use it as a context)."""

    def __init__(self, token: str | None = None, host: str = "127.0.0.1") -> None:
        self.token = token
        self.host = host
        self.repos: dict[str, Repo] = {}
        self.requests: list[Request] = []
        self.fail_with: int | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the fake Hub first"
        return f"http://{self.host}:{self._server.server_address[1]}"

    def publish(self, repo_id: str, revision: str, directory: Path, private: bool = False) -> str:
        """Commit the files of ``directory`` to ``repo_id`` and point branch or tag ``revision`` at it; returns the
        commit sha (a digest of the repo and its files, so the same content gets the same commit)."""
        repo = self.repos.setdefault(repo_id, Repo(repo_id, private))
        repo.private = repo.private or private
        files = {
            p.relative_to(directory).as_posix(): RepoFile(p.relative_to(directory).as_posix(), p.read_bytes())
            for p in sorted(Path(directory).rglob("*"))
            if p.is_file()
        }
        digest = hashlib.sha1(repo_id.encode())
        for path, file in files.items():
            digest.update(f"{path}\0{file.blob_id}\n".encode())
        commit = digest.hexdigest()
        repo.commits[commit] = files
        repo.refs[revision] = commit
        return commit

    def start(self) -> FakeHub:
        hub = self

        class Handler(_HubHandler):
            fake = hub

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _HubHandler(BaseHTTPRequestHandler):
    fake: FakeHub
    protocol_version = "HTTP/1.1"  # keep-alive, as huggingface_hub's client expects; every answer has a length

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read FakeHub.requests instead

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def _serve(self, body: bool) -> None:
        hub = self.fake
        path = urlsplit(self.path).path
        authorization = self.headers.get("authorization")
        hub.requests.append(Request(self.command, path, authorization))
        if hub.fail_with is not None:
            return self._error(hub.fail_with, body, message="fake Hub outage")
        if authorization is not None and (hub.token is None or authorization != f"Bearer {hub.token}"):
            return self._error(401, body, message=INVALID_CREDENTIALS)
        api, resolve = _API.match(path), _RESOLVE.match(path)
        match = api or resolve
        if match is None:
            return self._error(404, body, message="no such endpoint")
        repo = hub.repos.get(unquote(match["repo"]))
        if repo is None or (repo.private and authorization is None):
            return self._error(401, body, code="RepoNotFound", message="Repository not found")
        revision = unquote(match["rev"])
        commit = repo.commit_of(revision)
        if commit is None:
            return self._error(404, body, code="RevisionNotFound", message=f"Invalid rev id: {revision}")
        files = repo.commits[commit]
        if api is not None and api["kind"] == "revision":
            info = {"id": repo.repo_id, "sha": commit, "private": repo.private,
                    "siblings": [{"rfilename": p} for p in files]}
            return self._send(200, json.dumps(info).encode(), "application/json", body)
        if api is not None:
            tree = [f.tree_entry() for f in files.values()]
            return self._send(200, json.dumps(tree).encode(), "application/json", body)
        file = files.get(unquote(match["path"]))
        if file is None:
            return self._error(404, body, code="EntryNotFound", message="Entry not found", commit=commit)
        headers = {"X-Repo-Commit": commit, "ETag": f'"{file.etag}"'}
        return self._send(200, file.data, "application/octet-stream", body, headers)

    def _error(self, status: int, body: bool, message: str, code: str | None = None, commit: str | None = None) -> None:
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        if commit:
            headers["X-Repo-Commit"] = commit
        self._send(status, json.dumps({"error": message}).encode(), "application/json", body, headers)

    def _send(self, status: int, data: bytes, content_type: str, body: bool,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(data)
