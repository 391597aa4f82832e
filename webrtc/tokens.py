"""Join tokens (app → browser → SFU) and TURN REST credentials.

The app imports this module to issue tokens, so it depends on PyJWT and the standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

ISSUER = "ieum-app"
AUDIENCE = "ieum-sfu"
MAX_TTL_S = 300
ROLES = ("teacher", "student", "admin")
PUBLISH_KINDS = ("audio", "video", "screen")
RECORD_MODES = ("", "teacher", "stage")
# Clocks of the app and the SFU hosts drift a little; a few seconds of slack avoids flaky refusals.
LEEWAY_S = 10


class TokenError(Exception):
    """A join token was refused; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class JoinClaims:
    """The verified content of a join token."""

    room: str
    user_id: str
    name: str
    role: str
    publish: tuple[str, ...]
    issued_at: int
    expires_at: int
    token_id: str
    # The course's recording policy, on teachers' tokens: "" (none), "teacher" (the teacher's media only) or
    # "stage" (the teacher and every student brought on stage). A teacher starting the class starts it.
    record: str = ""

    @property
    def is_teacher(self) -> bool:
        """Teachers and admins run the class."""
        return self.role in ("teacher", "admin")


def issue_join_token(
    secret: str,
    *,
    room: str,
    user_id: str,
    name: str,
    role: str,
    publish: list[str] | tuple[str, ...],
    ttl_s: int = MAX_TTL_S,
    now: float | None = None,
    record: str = "",
) -> str:
    """Sign a join token for one user and one room."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if not 0 < ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl_s must be in (0, {MAX_TTL_S}]")
    bad = [k for k in publish if k not in PUBLISH_KINDS]
    if bad:
        raise ValueError(f"unknown publish kinds {bad!r}")
    iat = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "room": room,
        "sub": user_id,
        "name": name,
        "role": role,
        "publish": list(publish),
        "iat": iat,
        "exp": iat + ttl_s,
        "jti": uuid.uuid4().hex,
    }
    if record not in RECORD_MODES:
        raise ValueError(f"record must be one of {RECORD_MODES!r}")
    if record:
        claims["record"] = record
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_join_token(
    secret: str, token: str, *, room: str | None = None, now: float | None = None
) -> JoinClaims:
    """Verify signature, audience, issuer, lifetime and (optionally) room; raise TokenError if refused."""
    if not isinstance(token, str) or not token:
        raise TokenError("malformed")
    try:
        # Times are checked below against ``now`` so that tests (and callers) can pin the clock.
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={
                "require": ["iss", "aud", "exp", "iat", "sub", "jti"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidSignatureError as exc:
        raise TokenError("forged") from exc
    except jwt.InvalidAudienceError as exc:
        raise TokenError("wrong_audience") from exc
    except jwt.InvalidIssuerError as exc:
        raise TokenError("wrong_issuer") from exc
    except jwt.PyJWTError as exc:
        raise TokenError("malformed") from exc

    t = time.time() if now is None else now
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int):
        raise TokenError("malformed")
    if exp - iat > MAX_TTL_S:
        raise TokenError("lifetime_too_long")
    if t > exp + LEEWAY_S:
        raise TokenError("expired")
    if t < iat - LEEWAY_S:
        raise TokenError("not_yet_valid")

    claim_room, sub, name, role = (
        claims.get("room"),
        claims.get("sub"),
        claims.get("name"),
        claims.get("role"),
    )
    publish = claims.get("publish", [])
    if not isinstance(claim_room, str) or not claim_room or not isinstance(sub, str) or not sub:
        raise TokenError("malformed")
    if room is not None and claim_room != room:
        raise TokenError("other_room")
    if role not in ROLES or not isinstance(name, str):
        raise TokenError("malformed")
    if not isinstance(publish, list) or any(k not in PUBLISH_KINDS for k in publish):
        raise TokenError("malformed")
    record = claims.get("record", "")
    if record not in RECORD_MODES:
        raise TokenError("malformed")
    if role == "student":
        # A student's right to publish comes from being put on stage, never from the token.
        publish = []
        record = ""
    return JoinClaims(
        room=claim_room,
        user_id=sub,
        name=name,
        role=role,
        publish=tuple(dict.fromkeys(publish)),
        issued_at=iat,
        expires_at=exp,
        token_id=str(claims["jti"]),
        record=record,
    )


def turn_credentials(
    secret: str, user_id: str, ttl_s: int = 3600, now: float | None = None
) -> dict[str, Any]:
    """Time-limited TURN credentials for coturn's ``use-auth-secret`` (TURN REST API draft)."""
    expiry = int(time.time() if now is None else now) + ttl_s
    username = f"{expiry}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return {"username": username, "credential": base64.b64encode(digest).decode(), "ttl": ttl_s}
