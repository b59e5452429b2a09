"""Signed versions: who can write to storage alone cannot make a version.

sha256 proves the bytes are the ones a version recorded (integrity); a signature proves that a
holder of the key recorded that version (authenticity). With a signing key configured, every new
version's identity — uid, project, key, number, kind, format, materializer, the sha256 and size
of its bytes and of its extra data — is signed when it commits; the signature travels in the
catalog row and the manifest. ``reindex`` then restores only manifests whose signature verifies,
and loading a version that would run stored code (a pickle) requires a valid signature.
Every manifest and journal entry is also sealed: a signature of all its fields (metrics, tags,
deletions…), so ``reindex`` with the key skips records a storage-only writer made or changed.

Keys (``PREFECT_ARTIFACTS_SIGNING_KEY``, or the ``signing_key`` secret of an ArtifactRepository
block):

- ``hmac:<secret>`` — one shared secret signs and verifies (HMAC-SHA256);
- ``ed25519:<base64 private key>`` — signs and verifies;
- ``ed25519-public:<base64 public key>`` — verifies only (machines that read, never write).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from .errors import InvalidArgumentError

SEAL = "signature"  # the field of a manifest or journal entry that holds its seal
SIGNED_FIELDS = ("uid", "project", "key", "version", "kind", "format", "materializer", "hash")


def payload(record: dict[str, Any]) -> bytes:
    """The canonical bytes a version's signature covers."""
    extras = sorted((e["name"], e["hash"], int(e["size"])) for e in record.get("extras") or [])
    identity = {name: record.get(name) for name in SIGNED_FIELDS}
    identity.update(size=int(record.get("size") or 0), extras=extras)
    return json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()


def canonical(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` as storage holds it (JSON, values through ``str`` where JSON has none)."""
    stored: dict[str, Any] = json.loads(json.dumps(document, default=str))
    return stored


def document_payload(document: dict[str, Any]) -> bytes:
    """The canonical bytes a seal covers: every field of the document but the seal itself."""
    body = {k: v for k, v in document.items() if k != SEAL}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


class Signer:
    """Signs and verifies version identities with one configured key."""

    def __init__(self, spec: str) -> None:
        scheme, sep, material = spec.partition(":")
        if not sep or not material:
            raise InvalidArgumentError(_usage(f"a signing key is SCHEME:MATERIAL, got {scheme!r}…"))
        self.scheme = scheme
        self._private: Any = None
        self._public: Any = None
        if scheme == "hmac":
            self._secret = material.encode()
            self.key_id = hashlib.sha256(b"hmac:" + self._secret).hexdigest()[:16]
            self.algorithm = "hmac-sha256"
            return
        from cryptography.hazmat.primitives.asymmetric import ed25519

        try:
            raw = base64.b64decode(material, validate=True)
            if scheme == "ed25519":
                self._private = ed25519.Ed25519PrivateKey.from_private_bytes(raw)
                self._public = self._private.public_key()
            elif scheme == "ed25519-public":
                self._public = ed25519.Ed25519PublicKey.from_public_bytes(raw)
            else:
                raise InvalidArgumentError(_usage(f"unknown signing scheme {scheme!r}"))
        except (ValueError, TypeError) as exc:
            if isinstance(exc, InvalidArgumentError):
                raise
            raise InvalidArgumentError(
                _usage(f"the {scheme} key is not 32 bytes of base64")
            ) from None
        from cryptography.hazmat.primitives import serialization

        public = self._public.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = hashlib.sha256(b"ed25519:" + public).hexdigest()[:16]
        self.algorithm = "ed25519"

    @property
    def can_sign(self) -> bool:
        return self.scheme == "hmac" or self._private is not None

    def sign(self, record: dict[str, Any]) -> dict[str, str]:
        """The signature of a version record (its fields as the catalog stores them)."""
        if not self.can_sign:
            raise InvalidArgumentError(
                "this repository's signing key verifies only (ed25519-public): configure the "
                "private key (ed25519:…) on machines that log versions"
            )
        return self._sign(payload(record))

    def _sign(self, data: bytes) -> dict[str, str]:
        if self.scheme == "hmac":
            value = hmac.new(self._secret, data, hashlib.sha256).digest()
        else:
            value = self._private.sign(data)
        return {
            "alg": self.algorithm,
            "key": self.key_id,
            "value": base64.b64encode(value).decode(),
        }

    def seal(self, document: dict[str, Any]) -> dict[str, Any]:
        """A manifest or journal entry with its seal: a signature of every other field."""
        body = canonical({k: v for k, v in document.items() if k != SEAL})
        return {**body, SEAL: self._sign(document_payload(body))}

    def check_seal(self, document: dict[str, Any]) -> str | None:
        """None when a manifest or journal entry carries this key's valid seal; else why not."""
        return self._verify(document_payload(document), document.get(SEAL))

    def verify(self, record: dict[str, Any], signature: Any) -> str | None:
        """None when ``signature`` is this key's valid signature of ``record``; else why not."""
        return self._verify(payload(record), signature)

    def _verify(self, data: bytes, signature: Any) -> str | None:
        if not isinstance(signature, dict) or "value" not in signature:
            return "it is not signed"
        if signature.get("key") != self.key_id or signature.get("alg") != self.algorithm:
            return f"it is signed with another key ({str(signature.get('key'))[:16]})"
        try:
            value = base64.b64decode(signature["value"], validate=True)
        except (ValueError, TypeError):
            return "its signature is malformed"
        if self.scheme == "hmac":
            expected = hmac.new(self._secret, data, hashlib.sha256).digest()
            return None if hmac.compare_digest(value, expected) else "its signature does not match"
        from cryptography.exceptions import InvalidSignature

        try:
            self._public.verify(value, data)
        except InvalidSignature:
            return "its signature does not match"
        return None


def new_ed25519_key() -> tuple[str, str]:
    """A fresh Ed25519 key pair as (``ed25519:…`` private spec, ``ed25519-public:…`` spec)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    private = ed25519.Ed25519PrivateKey.generate()
    raw_private = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    raw_public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return (
        "ed25519:" + base64.b64encode(raw_private).decode(),
        "ed25519-public:" + base64.b64encode(raw_public).decode(),
    )


def _usage(problem: str) -> str:
    return (
        f"{problem}. Set PREFECT_ARTIFACTS_SIGNING_KEY to hmac:<secret>, ed25519:<base64 private "
        "key> or ed25519-public:<base64 public key> (`prefect-artifacts keygen` makes a pair)"
    )
