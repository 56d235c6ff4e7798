"""Pseudonyms and transport tokens: how a BSN reaches the localization index without being seen there.

- The pseudonymiser holds one *master secret*. For recipient organisation R (its URA) and scope S the
  recipient pseudonym of a BSN is ``HMAC-SHA256(HKDF-SHA256(secret, info="ura:{R}|{S}|v1"), BSN)``:
  deterministic per recipient (the index can look a person up), different between recipients (two
  recipients cannot link their pseudonyms), and impossible to compute without the secret (a
  pseudonym cannot be reversed by hashing every one of the ~10^9 BSNs).
- A *transport token* carries a recipient pseudonym to that recipient: a JWE (ECDH-ES+A256KW, A256GCM)
  to the recipient's public encryption key. Every token is encrypted with a fresh ephemeral key and
  IV, so two tokens for the same BSN are unlinkable for anyone but the recipient, and only the
  recipient learns the pseudonym. A tampered token fails the GCM tag and is refused.

The IG's pseudonymisation (input/pagecontent/pseudonymisation.md) adds an OPRF so that the service
never sees the BSN either; docs/localization.md says why samen leaves that step out.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap
from joserfc import jwe
from joserfc.jwk import ECKey

DEFAULT_SCOPE = "nationale-verwijsindex"
TOKEN_SYSTEM = "http://generiekefuncties.nl/nvi/identifier"  # the IG's NviIdentifier system
KEY_ALGORITHM = "ECDH-ES+A256KW"
CONTENT_ENCRYPTION = "A256GCM"
SECRET_FILE = "pseudonymiser.secret"  # in the node's keys directory (not *.json: those are signing keys)
ENCRYPTION_KEY_FILE = "encryption-key.jwk"
PSEUDONYM_BYTES = 32
_URLSAFE = bytes.maketrans(b"-_", b"+/")


class InvalidToken(ValueError):
    """A transport token that is not one of ours: malformed, for another key, or tampered with."""


def is_ura(value: str) -> bool:
    """Whether ``value`` has the form of a URA: 8 ASCII digits (``isdigit`` alone accepts other scripts' digits)."""
    return len(value) == 8 and value.isascii() and value.isdigit()


def recipient_pseudonym(secret: bytes, bsn: str, recipient_ura: str, scope: str = DEFAULT_SCOPE) -> bytes:
    """The 32-byte pseudonym of ``bsn`` for recipient ``recipient_ura`` in ``scope``."""
    info = f"ura:{recipient_ura}|{scope}|v1".encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)
    return hmac.new(key, bsn.encode(), hashlib.sha256).digest()


def seal(pseudonym: bytes, recipient_key: ECKey) -> str:
    """A fresh transport token carrying ``pseudonym`` to the holder of ``recipient_key``'s private half."""
    header = {"alg": KEY_ALGORITHM, "enc": CONTENT_ENCRYPTION, "kid": recipient_key.kid or ""}
    return jwe.encrypt_compact(header, pseudonym, recipient_key, algorithms=[KEY_ALGORITHM, CONTENT_ENCRYPTION])


def unseal(token: str, private_key: ECKey) -> bytes:
    """The pseudonym inside ``token``; raises :class:`InvalidToken`.

    RFC 7518 section 4.6 written out with ``cryptography`` (ECDH, Concat KDF, AES key unwrap, AES-GCM): the
    index opens a token per registration, and this costs a fifth of a general JWE library's decrypt.
    """
    try:
        protected, wrapped, iv, ciphertext, tag = (_b64(part) if n else part.encode()
                                                   for n, part in enumerate(token.split(".")))
        header = orjson.loads(_b64(protected.decode()))
        if header.get("alg") != KEY_ALGORITHM or header.get("enc") != CONTENT_ENCRYPTION or "zip" in header:
            raise InvalidToken("the transport token does not use ECDH-ES+A256KW with A256GCM")
        if "crit" in header:  # RFC 7516 4.1.13: extensions we do not understand must not be ignored
            raise InvalidToken("the transport token names critical header extensions, which are not supported")
        epk = header["epk"]
        x, y = _b64(epk["x"]), _b64(epk["y"])
        if epk.get("kty") != "EC" or epk.get("crv") != "P-256" or len(x) != 32 or len(y) != 32:
            raise InvalidToken("the transport token's ephemeral key is not P-256")
        ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + x + y)  # checks the curve
        shared = private_key.private_key.exchange(ec.ECDH(), ephemeral)  # type: ignore[union-attr]
        kek = _concat_kdf(shared, KEY_ALGORITHM, _b64(header.get("apu", "")), _b64(header.get("apv", "")))
        content_key = aes_key_unwrap(kek, wrapped)
        plaintext = AESGCM(content_key).decrypt(iv, ciphertext + tag, protected)
    except InvalidToken:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, InvalidTag, InvalidUnwrap) as error:
        raise InvalidToken("the transport token cannot be opened with this recipient's key") from error
    if len(plaintext) != PSEUDONYM_BYTES:
        raise InvalidToken("the transport token does not carry a pseudonym")
    return plaintext


def _concat_kdf(shared: bytes, algorithm: str, apu: bytes, apv: bytes) -> bytes:
    """The 256-bit key-encryption key of RFC 7518 4.6.2 (one SHA-256 round)."""
    def field(value: bytes) -> bytes:
        return len(value).to_bytes(4, "big") + value

    info = field(algorithm.encode()) + field(apu) + field(apv) + (256).to_bytes(4, "big")
    return hashlib.sha256(b"\x00\x00\x00\x01" + shared + info).digest()


def _b64(text: str) -> bytes:
    """base64url without padding (binascii directly: nine of these per token add up at the index)."""
    if not text.isascii():
        raise ValueError("not base64url")
    return binascii.a2b_base64(text.encode().translate(_URLSAFE) + b"=" * (-len(text) % 4))


def load_or_create_secret(keys_dir: Path) -> bytes:
    """The pseudonymiser's master secret in ``keys_dir`` (created, mode 0600, on first use)."""
    path = keys_dir / SECRET_FILE
    if not path.exists():
        _write_private(path, secrets.token_bytes(32).hex().encode())
    secret = bytes.fromhex(_read_private(path).decode().strip())
    if len(secret) < 32:
        raise ValueError(f"{path} holds no 32-byte secret")
    return secret


def load_or_create_encryption_key(keys_dir: Path) -> ECKey:
    """This recipient's private P-256 encryption key in ``keys_dir`` (created, mode 0600, on first use)."""
    path = keys_dir / ENCRYPTION_KEY_FILE
    if not path.exists():
        key = ECKey.generate_key("P-256", {"use": "enc", "alg": KEY_ALGORITHM}, private=True, auto_kid=True)
        _write_private(path, orjson.dumps(key.as_dict(private=True)))
    key = ECKey.import_key(orjson.loads(_read_private(path)))
    if not key.is_private or key.curve_name != "P-256":
        raise ValueError(f"{path} holds no private P-256 key")
    return key


def public_encryption_jwks(key: ECKey) -> dict[str, list[dict[str, object]]]:
    """The JWKS a recipient publishes so that the pseudonymiser can encrypt to it."""
    public = key.as_dict(private=False)
    return {"keys": [{**public, "use": "enc", "alg": KEY_ALGORITHM}]}


class LooseKeyFile(ValueError):
    """A secret or private key file that others than its owner may read or write."""


def _read_private(path: Path) -> bytes:
    """The content of a secret file; refused when its mode lets anyone but the owner in (as ssh does): the
    secret may have been copied, and the operator must decide, not the node by tightening it silently."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise LooseKeyFile(f"{path} is readable or writable by others (mode {mode:04o}); "
                           f"make it private with 'chmod 600 {path}' (and replace it if it may have been copied)")
    return path.read_bytes()


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 atomically; an existing file (another worker won the race) is kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")  # unique per thread too
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    try:
        os.link(temporary, path)  # fails if another process created it first: theirs is kept
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
