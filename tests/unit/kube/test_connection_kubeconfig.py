"""Connection.from_kubeconfig: where the operator's API client (and the test ground's) finds its server, CA, client
certificate and token, and how the key material reaches OpenSSL without a file left on disk.

The certificates are real (issued by the test ground's PKI), so the SSL context built from them is the one a client
would use.
"""

from __future__ import annotations

import base64
import os
import socket
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetune.kube.connection import Connection
from kubetune_devcluster.kubeapi import KubeREST
from kubetune_devcluster.pki import PKI

Json = dict[str, Any]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return PKI(tmp_path_factory.mktemp("pki"))


def write_kubeconfig(path: Path, cluster: Json, user: Json, extra_contexts: list[Json] | None = None,
                     current: str = "main") -> Path:
    config = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c-main", "cluster": cluster},
                     {"name": "c-other", "cluster": {"server": "https://other.example:6443"}}],
        "users": [{"name": "u-main", "user": user}, {"name": "u-other", "user": {"token": "other-token"}}],
        "contexts": [{"name": "main", "context": {"cluster": "c-main", "user": "u-main"}},
                     {"name": "other", "context": {"cluster": "c-other", "user": "u-other"}},
                     *(extra_contexts or [])],
        "current-context": current,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def inline_kubeconfig(path: Path, pki: PKI) -> tuple[Path, Any]:
    client = pki.issue("inline", "kubetune-operator")
    cluster = {"server": "https://127.0.0.1:6443/", "certificate-authority-data": b64(pki.ca.cert)}
    user = {"client-certificate-data": b64(client.cert), "client-key-data": b64(client.key)}
    config = write_kubeconfig(path, cluster, user)
    return config, client


def test_inline_certificate_data_stays_in_memory(tmp_path: Path, pki: PKI) -> None:
    path, client = inline_kubeconfig(tmp_path / "config", pki)
    conn = Connection.from_kubeconfig(str(path))
    assert conn.server == "https://127.0.0.1:6443"
    assert (conn.ca_file, conn.cert_file, conn.key_file) == (None, None, None)  # nothing written anywhere
    assert conn.ca_data == pki.ca.cert.read_bytes() == conn.ca_pem()
    assert (conn.cert_data, conn.key_data) == (client.cert.read_bytes(), client.key.read_bytes())
    assert "PRIVATE KEY" not in repr(conn)  # a logged connection does not show the key
    assert conn.token is None and conn.bearer() is None
    ctx = conn.ssl_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert len(ctx.get_ca_certs()) == 1


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.mark.parametrize("memfd", [True, False], ids=["memfd", "private-directory"])
def test_no_key_material_is_left_on_disk(tmp_path: Path, pki: PKI, monkeypatch: pytest.MonkeyPatch,
                                         memfd: bool) -> None:
    """Building the SSL context (client certificate and key included) leaves no file behind, in either way the key
    reaches OpenSSL: an in-memory file (Linux), or a private directory removed at once (elsewhere)."""
    path, _ = inline_kubeconfig(tmp_path / "kube" / "config", pki)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where a temporary file would go
    if not memfd:
        monkeypatch.delattr(os, "memfd_create")
    created: list[str] = []
    real_mkdtemp = tempfile.mkdtemp

    def watched_mkdtemp(*args: Any, **kwargs: Any) -> str:
        made = real_mkdtemp(*args, **kwargs)
        created.append(made)
        assert os.stat(made).st_mode & 0o077 == 0  # private to this user while the key is in it
        return made

    monkeypatch.setattr(tempfile, "mkdtemp", watched_mkdtemp)
    before = files_under(tmp_path)
    conn = Connection.from_kubeconfig(str(path))
    ctx = conn.ssl_context()
    assert files_under(tmp_path) == before
    assert bool(created) is not memfd  # the fallback really went through a directory, and only it did
    assert not [p for p in created if os.path.exists(p)]
    # The context holds the client certificate: the server's CA accepts a handshake with it.
    server = pki.issue("server", "kube-apiserver", ip_addresses=("127.0.0.1",), server=True)
    assert handshake_client_subject(ctx, server, pki) == "kubetune-operator"


def test_the_test_grounds_client_leaves_nothing_on_disk_either(tmp_path: Path, pki: PKI,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # Its old kubeconfig reader wrote each embedded item to /tmp and never removed it.
    path, _ = inline_kubeconfig(tmp_path / "kube" / "config", pki)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    before = files_under(tmp_path)
    client = KubeREST.from_kubeconfig(path)
    assert files_under(tmp_path) == before
    assert client.connection.cert_data is not None and client.connection.cert_file is None


def handshake_client_subject(client_ctx: ssl.SSLContext, server: Any, pki: PKI) -> str:
    """Run a TLS handshake on loopback that requires a client certificate; return the client's common name."""
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca.cert))
    server_ctx.load_cert_chain(str(server.cert), str(server.key))
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    seen: list[str] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                subject = dict(item[0] for item in tls.getpeercert()["subject"])
                seen.append(subject["commonName"])

        thread = threading.Thread(target=serve)
        thread.start()
        with socket.create_connection(("127.0.0.1", port)) as raw, \
                client_ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.do_handshake()
        thread.join(10)
    return seen[0]


def test_file_paths_are_relative_to_the_kubeconfig(tmp_path: Path, pki: PKI, monkeypatch: pytest.MonkeyPatch) -> None:
    client = pki.issue("files", "kubetune-operator")
    home = tmp_path / "home" / ".kube"
    (home / "pki").mkdir(parents=True)
    (tmp_path / "home" / "certs").mkdir()
    (home / "pki" / "ca.crt").write_bytes(pki.ca.cert.read_bytes())
    (tmp_path / "home" / "certs" / "op.crt").write_bytes(client.cert.read_bytes())
    path = write_kubeconfig(home / "config",
                            {"server": "https://127.0.0.1:6443", "certificate-authority": "pki/ca.crt"},
                            {"client-certificate": "../certs/op.crt", "client-key": str(client.key)})
    monkeypatch.chdir(tmp_path)  # not the kubeconfig's directory: relative paths must not follow the CWD
    conn = Connection.from_kubeconfig(str(path))
    assert conn.ca_file is not None and conn.cert_file is not None
    assert Path(conn.ca_file).resolve() == (home / "pki" / "ca.crt").resolve()
    assert Path(conn.cert_file).resolve() == (tmp_path / "home" / "certs" / "op.crt").resolve()
    assert conn.key_file == str(client.key)  # absolute paths stay as they are
    assert len(conn.ssl_context().get_ca_certs()) == 1


def test_token_file_is_relative_to_the_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # client-go resolves tokenFile like the certificate paths (clientcmd.GetAuthInfoFileReferences).
    (tmp_path / "kube" / "tokens").mkdir(parents=True)
    (tmp_path / "kube" / "tokens" / "op").write_text("first-token\n")
    path = write_kubeconfig(tmp_path / "kube" / "config", {"server": "https://k8s.example:6443"},
                            {"tokenFile": "tokens/op"})
    monkeypatch.chdir(tmp_path)
    conn = Connection.from_kubeconfig(str(path))
    assert conn.bearer() == "first-token"
    # Projected tokens rotate: each request reads the file again.
    (tmp_path / "kube" / "tokens" / "op").write_text("rotated-token")
    assert conn.bearer() == "rotated-token"


def test_static_token(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", {"server": "https://k8s.example:6443"}, {"token": "abc.def"})
    conn = Connection.from_kubeconfig(str(path))
    assert (conn.token, conn.bearer(), conn.cert_file, conn.ca_file) == ("abc.def", "abc.def", None, None)


def test_contexts(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", {"server": "https://main.example:6443"}, {"token": "main-token"},
                            current="other")
    current = Connection.from_kubeconfig(str(path))
    assert (current.server, current.bearer()) == ("https://other.example:6443", "other-token")
    chosen = Connection.from_kubeconfig(str(path), context="main")
    assert (chosen.server, chosen.bearer()) == ("https://main.example:6443", "main-token")


def test_insecure_skip_tls_verify(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", {"server": "https://k8s.example:6443",
                                                  "insecure-skip-tls-verify": True}, {"token": "t"})
    conn = Connection.from_kubeconfig(str(path))
    assert conn.insecure
    ctx = conn.ssl_context()
    assert (ctx.check_hostname, ctx.verify_mode) == (False, ssl.CERT_NONE)


def test_discover_reads_kubeconfig_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_kubeconfig(tmp_path / "config", {"server": "https://from-env.example:6443"}, {"token": "t"})
    monkeypatch.setenv("KUBECONFIG", str(path))
    assert Connection.discover().server == "https://from-env.example:6443"
