"""Registries on loopback: `docker-registry serve` with its own storage, one per role.

Nothing here reaches the network: a second registry stands in for Docker Hub.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


def terminate(proc: subprocess.Popen | None, grace: float) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def temp_root(prefix: str = "onedock-lab-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


@dataclass
class RegistryProcess:
    """`docker-registry serve` on a loopback port with its own storage and deletes enabled."""

    root: Path
    port: int = 0
    proc: subprocess.Popen | None = None
    log: Path = field(init=False)
    auth: str = ""  # the config's `auth:` section (Htpasswd.section, TokenService.section)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def storage(self) -> Path:
        return self.root / "storage"

    def start(self, timeout: float = 20.0) -> RegistryProcess:
        binary = shutil.which("docker-registry")
        if binary is None:
            raise RuntimeError("docker-registry is not installed (apt-get install docker-registry)")
        self.port = self.port or free_port()
        self.storage.mkdir(parents=True, exist_ok=True)
        conf = self.root / "config.yml"
        conf.write_text(
            "version: 0.1\n"
            "log: {level: warn}\n"
            f"storage:\n  filesystem: {{rootdirectory: {self.storage}}}\n"
            "  delete: {enabled: true}\n"
            f"http: {{addr: '127.0.0.1:{self.port}'}}\n"
            + (f"auth:\n{self.auth}" if self.auth else "")
        )
        self.log = self.root / "registry.log"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([binary, "serve", str(conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"registry exited: {self.log.read_text()[-500:]}")
            try:
                with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1):
                    return self
            except urllib.error.HTTPError as exc:
                if exc.code == 401:  # up, and asking for a login
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"registry on {self.host} did not answer within {timeout}s")

    def stop(self) -> None:
        terminate(self.proc, 10)
        self.proc = None




class Htpasswd:
    """A registry's basic-auth users: a bcrypt htpasswd file (apache2-utils' htpasswd)."""

    def __init__(self, root: Path, users: dict[str, str]):
        self.path = root / "htpasswd"
        root.mkdir(parents=True, exist_ok=True)
        for n, (user, password) in enumerate(users.items()):
            subprocess.run(["htpasswd", "-B", "-i", *([] if n else ["-c"]), str(self.path),
                            user], input=password, text=True, check=True,
                           capture_output=True)

    @property
    def section(self) -> str:
        return f"  htpasswd: {{realm: onedock-lab, path: {self.path}}}\n"


class TokenService:
    """Distribution's token flow as Docker Hub runs it, on loopback: a realm that hands out
    RS256 JWTs (signed with openssl, the certificate in the registry's rootcertbundle) to the
    users it knows, and refuses anonymous requests."""

    SERVICE, ISSUER = "onedock-lab", "onedock-lab-tokens"

    def __init__(self, root: Path, users: dict[str, str]):
        import base64
        import http.server
        import json
        import threading

        root.mkdir(parents=True, exist_ok=True)
        self.key, self.cert = root / "token.key", root / "token.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                        "2", "-subj", "/CN=onedock-lab-tokens", "-keyout", str(self.key),
                        "-out", str(self.cert)], check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", str(self.cert), "-outform", "DER"],
                             check=True, capture_output=True).stdout
        self.requests: list[dict] = []  # what the realm was asked, for the tests
        service = self

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        def sign(claims: dict) -> str:
            header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
            body = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
            signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                                       input=body.encode(), check=True,
                                       capture_output=True).stdout
            return f"{body}.{b64(signature)}"

        class Realm(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                from urllib.parse import parse_qs, urlsplit

                query = parse_qs(urlsplit(self.path).query)
                given = self.headers.get("Authorization", "")
                user = ""
                if given.startswith("Basic "):
                    name, _, password = base64.b64decode(given[6:]).decode().partition(":")
                    user = name if users.get(name) == password else ""
                service.requests.append({"user": user, "authorization": bool(given),
                                         "scope": query.get("scope", [""])[0]})
                if not user:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                access = []
                for scope in query.get("scope", []):
                    kind, name, actions = scope.split(":")
                    access.append({"type": kind, "name": name, "actions": actions.split(",")})
                now = int(time.time())
                token = sign({"iss": service.ISSUER, "sub": user, "aud": service.SERVICE,
                              "exp": now + 300, "nbf": now - 10, "iat": now,
                              "jti": os.urandom(8).hex(), "access": access})
                body = json.dumps({"token": token, "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Realm)
        self.realm = f"http://127.0.0.1:{self.server.server_port}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def section(self) -> str:
        return (f"  token: {{realm: '{self.realm}', service: {self.SERVICE}, "
                f"issuer: {self.ISSUER}, rootcertbundle: {self.cert}}}\n")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
