"""Connection.from_kubeconfig: where the operator's API client finds its server, CA, client certificate and token.

The certificates are real (issued by the test ground's PKI), so the SSL context built from them is the one a client
would use.
"""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetune.kube.client import Connection
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


def test_inline_certificate_data(tmp_path: Path, pki: PKI) -> None:
    client = pki.issue("inline", "kubetune-operator")
    path = write_kubeconfig(tmp_path / "config",
                            {"server": "https://127.0.0.1:6443/", "certificate-authority-data": b64(pki.ca.cert)},
                            {"client-certificate-data": b64(client.cert), "client-key-data": b64(client.key)})
    conn = Connection.from_kubeconfig(str(path))
    assert conn.server == "https://127.0.0.1:6443"
    assert conn.ca_file and conn.cert_file and conn.key_file
    assert Path(conn.ca_file).read_bytes() == pki.ca.cert.read_bytes()
    assert Path(conn.cert_file).read_bytes() == client.cert.read_bytes()
    assert Path(conn.key_file).read_bytes() == client.key.read_bytes()
    assert Path(conn.key_file).stat().st_mode & 0o077 == 0  # the private key is not left readable by others
    assert conn.token is None and conn.bearer() is None
    ctx = conn.ssl_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert len(ctx.get_ca_certs()) == 1


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
