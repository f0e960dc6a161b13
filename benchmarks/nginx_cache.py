"""A real Bazel-style HTTP cache for the tests and benchmarks: nginx from the operating system's packages, serving
GET and HEAD statically and PUT through its WebDAV module, on a free localhost port with a temporary
root. Writes need HTTP basic credentials (WRITER), reads do not: the setup the README recommends."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

WRITER = ("ci", "main-branch-secret")

CONFIG = """
worker_processes 1;
daemon on;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
{user}
events {{ worker_connections 256; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root}/data;
        client_max_body_size 64m;
        location / {{
            dav_methods PUT;
            create_full_put_path on;
            dav_access user:rw;
            limit_except GET HEAD {{
                auth_basic "doit-scout writers";
                auth_basic_user_file {root}/htpasswd;
            }}
        }}
    }}
}}
"""


def nginx_path() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NginxCache:
    def __init__(self, root: Path, executable: str) -> None:
        self.root, self.executable = root, executable
        self.port = _free_port()
        self.pid: int | None = None
        (root / "data").mkdir(parents=True)
        (root / "tmp").mkdir()
        # nginx reads plain passwords marked {PLAIN}: no htpasswd tool (nor crypt) needed.
        (root / "htpasswd").write_text(f"{WRITER[0]}:{{PLAIN}}{WRITER[1]}\n")
        user = "user root;" if os.geteuid() == 0 else ""  # its workers must write the test's folders
        (root / "nginx.conf").write_text(CONFIG.format(root=root, port=self.port, user=user))

    def start(self) -> None:
        # With `daemon on`, nginx returns once its socket listens: no waiting for readiness.
        subprocess.run([self.executable, "-p", str(self.root), "-c", str(self.root / "nginx.conf")], check=True,
                       capture_output=True, timeout=30)
        self.pid = int((self.root / "nginx.pid").read_text())

    def stop(self) -> None:
        """Stop it and wait until it is gone (its port refuses connections)."""
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 30
        while _alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.02)  # waiting for a process to exit, not timing anything
        self.pid = None

    def url(self, prefix: str | None = None) -> str:
        """A base URL of its own for each caller, so that tests sharing the server do not share entries."""
        return f"http://127.0.0.1:{self.port}/{prefix or uuid.uuid4().hex}"

    def files(self, url: str) -> dict[str, bytes]:
        """What the server holds under `url`'s prefix: relative path -> bytes."""
        base = self.root / "data" / url.rsplit("/", 1)[1]
        return {p.relative_to(base).as_posix(): p.read_bytes() for p in base.rglob("*") if p.is_file()} \
            if base.exists() else {}

    def requests(self, url: str) -> list[str]:
        """The request lines of the access log under `url`'s prefix ("PUT /prefix/ac/...")."""
        prefix = "/" + url.rsplit("/", 1)[1] + "/"
        log = self.root / "access.log"
        lines = log.read_text().splitlines() if log.exists() else []
        return [line.split('"')[1] for line in lines if prefix in line]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone: reap it if it is one.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True
