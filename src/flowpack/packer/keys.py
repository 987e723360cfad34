"""Signing keys: ed25519 key pairs kept in the user's configuration directory.

Keys live in ``$XDG_CONFIG_HOME/flowpack/keys/`` (else ``~/.config/flowpack/keys/``) as
``NAME.key`` (the private key, PKCS#8 PEM, created with mode 0600 inside a 0700 directory)
and ``NAME.pub`` (the public key as one line, ``ed25519:<base64 of the 32 raw bytes>``).
The key that signs is ``$FLOWPACK_KEY`` (a key name) or ``default``.

A private key is read here and used here only: it never enters a store, a record, a log or an
error message (errors name the key's *file* and, at most, its public key).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from flowpack.cas.errors import AlreadyExists, MalformedData, NotFound, UsageError

ENV_KEY = "FLOWPACK_KEY"
DEFAULT_NAME = "default"
ALGORITHM = "ed25519"
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/flowpack``, else ``~/.config/flowpack`` (read at each call)."""
    base = os.environ.get("XDG_CONFIG_HOME")
    return (Path(base) if base else Path.home() / ".config") / "flowpack"


def keys_dir() -> Path:
    return config_dir() / "keys"


@dataclass(frozen=True)
class PublicKey:
    """An ed25519 public key: 32 raw bytes, spelled ``ed25519:<base64>``."""

    raw: bytes

    def __str__(self) -> str:
        return f"{ALGORITHM}:{base64.b64encode(self.raw).decode('ascii')}"

    @property
    def key_id(self) -> str:
        """A short, stable name for the key: the first 16 hex digits of its SHA-256."""
        return hashlib.sha256(self.raw).hexdigest()[:16]

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True when ``signature`` is this key's ed25519 signature of ``message``."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except InvalidSignature:
            return False
        return True

    @classmethod
    def parse(cls, text: str) -> PublicKey:
        """Read ``ed25519:<base64>``; :class:`MalformedData` (showing no more than the
        prefix) for anything else."""
        algo, sep, body = text.strip().partition(":")
        try:
            raw = base64.b64decode(body, validate=True) if sep else b""
        except ValueError:
            raw = b""
        if algo != ALGORITHM or len(raw) != 32:
            raise MalformedData(
                f"not an ed25519 public key (expected 'ed25519:<base64 of 32 bytes>'):"
                f" {text.strip()[:12]!r}..."
            )
        return cls(raw)


class SigningKey:
    """A private key loaded for signing.  Its ``repr`` shows the public key only."""

    def __init__(self, name: str, private: object, public: PublicKey) -> None:
        self.name = name
        self._private = private
        self.public = public

    def sign(self, message: bytes) -> bytes:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        assert isinstance(self._private, Ed25519PrivateKey)
        return self._private.sign(message)

    def __repr__(self) -> str:
        return f"SigningKey({self.name!r}, {self.public})"


def check_name(name: str) -> str:
    if not _NAME.match(name) or name.startswith("."):
        raise UsageError(f"bad key name {name!r}: use letters, digits, '.', '_' or '-'")
    return name


def generate(name: str = DEFAULT_NAME, *, force: bool = False) -> PublicKey:
    """Create key pair ``name``; :class:`AlreadyExists` if it exists (unless ``force``).

    The private key file is created with mode 0600 (``O_EXCL`` unless ``force``); the
    directory with mode 0700.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    check_name(name)
    folder = keys_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    path = folder / f"{name}.key"
    if path.exists() and not force:
        raise AlreadyExists(f"key {name!r} exists ({path}); use --force to replace it")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    tmp = folder / f".{name}.key.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    public = PublicKey(raw)
    (folder / f"{name}.pub").write_text(f"{public}\n", encoding="ascii")
    return public


def current_name() -> str:
    return check_name(os.environ.get(ENV_KEY) or DEFAULT_NAME)


def load(name: str | None = None) -> SigningKey:
    """The signing key ``name`` (default :func:`current_name`); :class:`NotFound` if absent,
    :class:`MalformedData` (naming the file, never its content) if unreadable or too open."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    name = check_name(name or current_name())
    path = keys_dir() / f"{name}.key"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"no signing key {name!r} (run 'flowpack key generate')") from None
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise MalformedData(f"private key file {path} is readable by others: chmod 600 it")
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise MalformedData(f"private key file {path} is not an ed25519 key") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise MalformedData(f"private key file {path} is not an ed25519 key")
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return SigningKey(name, private, PublicKey(raw))


def load_optional() -> SigningKey | None:
    """The current signing key, or None when none was generated (then records go unsigned)."""
    if not (keys_dir() / f"{current_name()}.key").exists():
        return None
    return load()


def public(name: str | None = None) -> PublicKey:
    """The public half of key ``name``."""
    return load(name).public


def read_public_file(path: Path) -> list[PublicKey]:
    """Public keys from a file, one ``ed25519:<base64>`` per line (``#`` comments allowed)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise NotFound(f"cannot read public key file {path}: {exc.strerror}") from None
    keys = [PublicKey.parse(line) for line in lines if line.strip() and not line.startswith("#")]
    if not keys:
        raise MalformedData(f"public key file {path} holds no key")
    return keys
