"""``rediss://`` with redis-py's URL parameters (CA file, client certificate), against a local
TLS redis-server with certificates made here by ``openssl``. A wrong CA must degrade to the
loader with a warning, never raise into the tool call."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis_helpers import (
    RedisServer,
    _free_port,
    require_redis_server,
    running_redis_server,
)

from agent_cache import AsyncCache
from agent_cache.backends.redis import RedisBackend
from agent_cache.core.keys import stable_key

pytestmark = pytest.mark.redis


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(cwd: Path, name: str) -> None:
    # The extensions a CA needs under strict X.509 verification (Python 3.13's default).
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.pem", "-days", "1", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-addext", "subjectKeyIdentifier=hash", cwd=cwd)


def make_cert(cwd: Path, name: str, ca: str, san: str) -> None:
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
            f"{name}.csr", "-subj", f"/CN={name}", cwd=cwd)
    (cwd / f"{name}.ext").write_text(
        f"subjectAltName={san}\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "1", "-extfile", f"{name}.ext",
            cwd=cwd)


@pytest.fixture
def certs(tmp_path: Path) -> Path:
    if shutil.which("openssl") is None:
        import os

        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("openssl is not installed (CI=true: failing, not skipping)")
        pytest.skip("openssl is not installed")
    make_ca(tmp_path, "ca")
    make_ca(tmp_path, "other-ca")
    make_cert(tmp_path, "server", "ca", "IP:127.0.0.1")
    make_cert(tmp_path, "client", "ca", "DNS:client")
    return tmp_path


@pytest.fixture
def tls_server(certs: Path) -> Iterator[tuple[RedisServer, int]]:
    require_redis_server()
    tls_port = _free_port()
    yield from ((server, tls_port) for server in running_redis_server(certs, (
        "--tls-port", str(tls_port), "--tls-cert-file", str(certs / "server.pem"),
        "--tls-key-file", str(certs / "server.key"), "--tls-ca-cert-file", str(certs / "ca.pem"),
        "--tls-auth-clients", "yes",
    )))


def tls_url(port: int, certs: Path, ca: str) -> str:
    return (f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={certs / ca}.pem"
            f"&ssl_certfile={certs / 'client.pem'}&ssl_keyfile={certs / 'client.key'}"
            "&ssl_cert_reqs=required")


async def test_tls_with_ca_and_client_certificate(tls_server, certs):
    _, port = tls_server
    a = RedisBackend(tls_url(port, certs, "ca"))
    b = RedisBackend(tls_url(port, certs, "ca"))
    ca, cb = AsyncCache(name="cart", backend=a), AsyncCache(name="cart", backend=b)
    assert await a.subscribe() and await b.subscribe()
    assert await ca.get("u", loader=lambda: "v1") == "v1"
    assert await cb.get("u", loader=lambda: "not called") == "v1"  # from Redis, over TLS
    await ca.invalidate()
    assert await b.sync_backplane()
    assert await cb.get("u", loader=lambda: "v2") == "v2"
    assert a.get_metrics()["errors"] == 0 and a.get_metrics()["tier_disabled"] == 0
    await a.close()
    await b.close()


async def test_a_wrong_ca_degrades_to_the_loader_with_a_warning(tls_server, certs, caplog):
    _, port = tls_server
    backend = RedisBackend(tls_url(port, certs, "other-ca"), op_timeout=0.5)
    cache = AsyncCache(name="cart", backend=backend)
    with caplog.at_level(logging.WARNING, logger="agent_cache.backends.redis"):
        for i in range(3):
            assert await cache.get(f"u{i}", loader=lambda: "from the loader") == "from the loader"
        assert await backend.get(stable_key("cart", ("x",))) is not None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("certificate" in w.lower() for w in warnings), warnings
    assert backend.get_metrics()["errors"] >= 1
    await backend.close()
