"""Where the API server is and how to prove who we are: read from a kubeconfig or from the pod's service account.

Key material embedded in a kubeconfig (``certificate-authority-data``, ``client-certificate-data``,
``client-key-data``) stays in memory. The CA is handed to OpenSSL as data; a client certificate and key, which OpenSSL
loads only from a path, go through anonymous in-memory files (``memfd_create``), or where that is missing through a
private directory removed as soon as they are loaded. Nothing is left on disk.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class Connection:
    """An API server address and credentials. Files named by a kubeconfig are read when a client is built; embedded
    data is kept here, out of ``repr``."""

    server: str
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None
    insecure: bool = False
    ca_data: bytes | None = field(default=None, repr=False)
    cert_data: bytes | None = field(default=None, repr=False)
    key_data: bytes | None = field(default=None, repr=False)

    @classmethod
    def discover(cls, kubeconfig: str | None = None) -> Connection:
        """In-cluster when running in a pod; otherwise $KUBECONFIG or ~/.kube/config."""
        path = kubeconfig or os.environ.get("KUBECONFIG")
        if not path and (SERVICE_ACCOUNT_DIR / "token").exists() and os.environ.get("KUBERNETES_SERVICE_HOST"):
            return cls.in_cluster()
        return cls.from_kubeconfig(path or str(Path.home() / ".kube" / "config"))

    @classmethod
    def in_cluster(cls) -> Connection:
        host = os.environ["KUBERNETES_SERVICE_HOST"]
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        if ":" in host:
            host = f"[{host}]"
        return cls(server=f"https://{host}:{port}", ca_file=str(SERVICE_ACCOUNT_DIR / "ca.crt"),
                   token_file=str(SERVICE_ACCOUNT_DIR / "token"))

    @classmethod
    def from_kubeconfig(cls, path: str | Path, context: str | None = None) -> Connection:
        config = yaml.safe_load(Path(path).read_text())
        name = context or config.get("current-context")
        ctx = next(c["context"] for c in config["contexts"] if c["name"] == name)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == ctx["cluster"])
        user: dict[str, Any] = next((u["user"] for u in config.get("users", []) if u["name"] == ctx.get("user")), {})
        base = Path(path).parent

        def relative(value: str | None) -> str | None:
            # client-go resolves every file a kubeconfig names (tokenFile too) against the kubeconfig's directory.
            return str(base / value) if value else None

        def data(section: dict[str, Any], key: str) -> bytes | None:
            return base64.b64decode(section[key]) if section.get(key) else None

        # As in client-go, a file path wins over embedded data for the same item.
        return cls(
            server=cluster["server"].rstrip("/"),
            ca_file=relative(cluster.get("certificate-authority")),
            ca_data=None if cluster.get("certificate-authority") else data(cluster, "certificate-authority-data"),
            cert_file=relative(user.get("client-certificate")),
            cert_data=None if user.get("client-certificate") else data(user, "client-certificate-data"),
            key_file=relative(user.get("client-key")),
            key_data=None if user.get("client-key") else data(user, "client-key-data"),
            token=user.get("token"),
            token_file=relative(user.get("tokenFile")),
            insecure=bool(cluster.get("insecure-skip-tls-verify")),
        )

    def ca_pem(self) -> bytes | None:
        """The cluster's CA certificates (PEM), wherever the kubeconfig keeps them."""
        if self.ca_data is not None:
            return self.ca_data
        return Path(self.ca_file).read_bytes() if self.ca_file else None

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(
            cafile=self.ca_file, cadata=self.ca_data.decode("ascii") if self.ca_data is not None else None)
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        cert = self.cert_data if self.cert_data is not None else self.cert_file
        key = self.key_data if self.key_data is not None else self.key_file
        if cert is not None:
            key_context = _as_path(key, "client.key") if key is not None else nullcontext(None)
            with _as_path(cert, "client.crt") as cert_path, key_context as key_path:
                ctx.load_cert_chain(cert_path, key_path)
        return ctx

    def bearer(self) -> str | None:
        # Projected service-account tokens rotate, so read the file on each request.
        if self.token_file:
            return Path(self.token_file).read_text().strip()
        return self.token


@contextmanager
def _as_path(source: bytes | str, name: str) -> Iterator[str]:
    """A path OpenSSL can read ``source`` from, valid for the block: a file path as it is, data through memory."""
    if isinstance(source, str):
        yield source
        return
    if hasattr(os, "memfd_create"):  # Linux: an anonymous file that lives only in memory
        fd = os.memfd_create(f"kubetune-{name}", os.MFD_CLOEXEC)
        try:
            with open(fd, "wb", closefd=False) as handle:
                handle.write(source)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="kubetune-") as private:  # mkdtemp: 0700, removed when the block ends
        path = Path(private) / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(source)
        yield str(path)


__all__ = ["SERVICE_ACCOUNT_DIR", "Connection"]
