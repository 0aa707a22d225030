"""The README's nginx configuration, run for real in front of ``ksef-tui serve``.

The block between the README's ``nginx-portal`` markers is taken as it is; only the listening
address, the port of serve and the certificate paths are put in for the test (a throwaway
self-signed certificate). The client reaches nginx at 127.0.0.2, nginx reaches serve from
127.0.0.1: serve must see the client's address through ``X-Forwarded-For``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.web.conftest import CLIENT, CLIENT_PASSWORD
from tests.web.portal import ENTER, TerminalClient

README = Path(__file__).resolve().parents[2] / "README.md"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)


def readme_block() -> str:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- nginx-portal-begin -->\s*```nginx\n(.*?)```\s*<!-- nginx-portal-end -->", text, re.S)
    assert block, "the README has no nginx-portal block"
    return block.group(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ksef.biuro.example.pl")])
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "portal.pem", tmp / "portal.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    os.chmod(key_path, 0o600)
    return cert_path, key_path


def nginx_conf(tmp: Path, block: str, listen_port: int, serve_port: int) -> Path:
    cert, key = self_signed(tmp)
    server = (block.replace("listen 443 ssl;", f"listen 127.0.0.1:{listen_port} ssl; listen 127.0.0.2:{listen_port} ssl;")
              .replace("/etc/ssl/ksef.biuro.example.pl.pem", str(cert))
              .replace("/etc/ssl/ksef.biuro.example.pl.key", str(key))
              .replace("http://127.0.0.1:8000", f"http://127.0.0.1:{serve_port}"))
    for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / temp).mkdir(exist_ok=True)
    conf = tmp / "nginx.conf"
    conf.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\nworker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\n"
        f"events {{ worker_connections 64; }}\n"
        f"http {{\n access_log off;\n client_body_temp_path {tmp}/body;\n proxy_temp_path {tmp}/proxy;\n"
        f" fastcgi_temp_path {tmp}/fastcgi;\n uwsgi_temp_path {tmp}/uwsgi;\n scgi_temp_path {tmp}/scgi;\n"
        f"{server}\n}}\n")
    return conf


def test_the_readme_block_has_what_serve_needs():
    block = readme_block()
    for needed in ("proxy_http_version 1.1", "Upgrade $http_upgrade", 'Connection "upgrade"',
                   "X-Forwarded-For $remote_addr", "proxy_pass http://127.0.0.1:8000", "client_max_body_size"):
        assert needed in block, needed


async def test_nginx_in_front_of_serve_as_the_readme_says(office_db, portal_factory, tmp_path):
    nginx = nginx_binary()
    if nginx is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed (.ci/run installs nginx-light)")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    listen = free_port()
    public = f"https://127.0.0.2:{listen}"
    portal = portal_factory(office_db, "--public-url", public, "--trusted-proxy", "127.0.0.1")
    serve_port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", await portal.wait_log("listening on")).group(1))
    conf = nginx_conf(tmp_path, readme_block(), listen, serve_port)
    check = subprocess.run([nginx, "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([nginx, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _i in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.2", listen)) == 0:
                    break
            import time
            time.sleep(0.05)
        async with TerminalClient(public, verify_tls=False, local_addr="127.0.0.2") as client:
            assert client.page_status == 200
            await client.connect()
            await client.wait_for("ksef-tui: log in")
            await client.type(CLIENT)
            await client.send(ENTER)
            import asyncio
            await asyncio.sleep(0.5)
            await client.type(CLIENT_PASSWORD)
            await client.send(ENTER)
            await client.wait_for("Profile → KSeF configuration")
            async with client.http.get(public + "/health") as r:
                assert r.status == 200 and (await r.json())["status"] == "ok"
        await portal.wait_log("start: source 127.0.0.2")  # the client's address, not nginx's
    finally:
        proc.terminate()
        proc.wait(10)
