"""What a remote cache holds and when a reader believes it: the settings of the remote (from the
configuration and the environment), the JSON entries on the server, and their checks.

`/cas/<sha256>` holds content: JSON `{"doit_scout": 1, "kind", "key", "value"}`, checked on every read
against its name (sha256 of the bytes) and against the kind and key that were asked for.
`/ac/<sha256 of kind and key>` is the action entry: JSON `{"doit_scout": 1, "kind", "key", "cas",
"size"}` mapping our key (a content fingerprint) to the content's digest, with an HMAC (`"mac"`) with
the team secret (DOIT_SCOUT_REMOTE_CACHE_SECRET).

The content checks catch damage, never a forgery: anyone who can write to the server can store a
green record under its correct name and point an action entry at it. So a reader believes only
entries signed with the team secret, unless the configuration says that the server alone is trusted
(`remote_cache_trust = "server"`); with neither, the remote is not used (refusal()).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from typing import Any, Mapping

from doit_scout.config import REMOTE_TRUST_ENV, ScoutConfig

TOKEN_ENV = "DOIT_SCOUT_REMOTE_CACHE_TOKEN"  # sent as `Authorization: Bearer <token>`
USER_ENV = "DOIT_SCOUT_REMOTE_CACHE_USER"  # with _PASSWORD: HTTP basic authentication
PASSWORD_ENV = "DOIT_SCOUT_REMOTE_CACHE_PASSWORD"
SECRET_ENV = "DOIT_SCOUT_REMOTE_CACHE_SECRET"  # action entries carry an HMAC with it
SERVER_TRUSTED = "server"

FORMAT = 1
MAX_BODY = 64 * 1024**2


class Rejected(Exception):
    """One entry failed a check: it is not used, and the run goes on with the others."""


@dataclass(frozen=True)
class RemoteSettings:
    url: str
    write: bool
    timeout: float
    authorization: str | None = None
    secret: bytes | None = None
    trust: str = "signed"

    @classmethod
    def of(cls, config: ScoutConfig, environ: Mapping[str, str] = os.environ) -> RemoteSettings | None:
        if not config.remote_cache:
            return None
        authorization = None
        if environ.get(TOKEN_ENV):
            authorization = f"Bearer {environ[TOKEN_ENV]}"
        elif environ.get(USER_ENV):
            pair = f"{environ[USER_ENV]}:{environ.get(PASSWORD_ENV, '')}".encode("utf-8", "surrogateescape")
            authorization = "Basic " + base64.b64encode(pair).decode("ascii")
        secret = environ.get(SECRET_ENV, "").encode("utf-8", "surrogateescape") or None
        return cls(config.remote_cache, config.remote_cache_write, config.remote_cache_timeout, authorization,
                   secret, config.remote_cache_trust)

    @property
    def unsigned_ok(self) -> bool:
        """Whether an action entry without a signature may be believed: only when no secret is set
        and the configuration trusts the server. A secret set is always checked."""
        return self.secret is None and self.trust == SERVER_TRUSTED

    def refusal(self) -> str | None:
        """Why this remote is not used at all (neither read nor written), or None. Writes are refused
        too: unsigned entries would serve only readers who trust the server, and a team that has not
        chosen between a secret and trusting its server has chosen neither for its readers."""
        if self.secret is not None or self.trust == SERVER_TRUSTED:
            return None
        return (f"the remote cache {self.url} is not used: without a team secret, anyone who can write to the "
                f"server could make your tests green. Fix: set {SECRET_ENV} to the team's secret (the same for "
                f"its writers and readers), or, if only trusted writers can write to the server, say so with "
                f'[tool.scout] remote_cache_trust = "server" ({REMOTE_TRUST_ENV}=server)')


def action_digest(kind: str, key: str) -> str:
    """The /ac/ name of (kind, key): a sha256, as Bazel's action keys are."""
    return hashlib.sha256(f"doit-scout\0{FORMAT}\0{kind}\0{key}".encode("utf-8", "surrogateescape")).hexdigest()


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def content_blob(kind: str, key: str, value: Any) -> bytes:
    return dumps({"doit_scout": FORMAT, "kind": kind, "key": key, "value": value})


def action_entry(kind: str, key: str, blob: bytes, secret: bytes | None) -> bytes:
    entry: dict[str, Any] = {"doit_scout": FORMAT, "kind": kind, "key": key,
                             "cas": hashlib.sha256(blob).hexdigest(), "size": len(blob)}
    if secret is not None:
        entry["mac"] = hmac.new(secret, dumps(entry), hashlib.sha256).hexdigest()
    return dumps(entry)


def parse_action(kind: str, key: str, body: bytes, settings: RemoteSettings) -> tuple[str, int]:
    """The content digest and size an action entry names; Rejected unless it is ours, for this very
    kind and key, and signed with the team secret (unless `settings` trust the server)."""
    try:
        entry = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Rejected("an action entry that is not JSON") from None
    if not isinstance(entry, dict) or entry.get("doit_scout") != FORMAT:
        raise Rejected("an action entry of another format")
    if entry.get("kind") != kind or entry.get("key") != key:
        raise Rejected("an action entry for another key")
    digest, size = entry.get("cas"), entry.get("size")
    if not isinstance(digest, str) or len(digest) != 64 or not isinstance(size, int) or not 0 <= size <= MAX_BODY:
        raise Rejected("an action entry without a valid content digest")
    if not settings.unsigned_ok:
        mac = entry.pop("mac", None)
        if settings.secret is None or not isinstance(mac, str) or not hmac.compare_digest(
                mac, hmac.new(settings.secret, dumps(entry), hashlib.sha256).hexdigest()):
            raise Rejected(f"an action entry not signed with {SECRET_ENV}")
    return digest, size


def parse_content(kind: str, key: str, digest: str, body: bytes) -> Any:
    """The value in a /cas/ blob; Rejected unless its sha256 is its name and it is for (kind, key)."""
    if hashlib.sha256(body).hexdigest() != digest:
        raise Rejected("content whose sha256 is not its name")
    try:
        blob = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Rejected("content that is not JSON") from None
    if not isinstance(blob, dict) or blob.get("doit_scout") != FORMAT or blob.get("kind") != kind \
            or blob.get("key") != key or "value" not in blob:
        raise Rejected("content for another key")
    return blob["value"]
