"""Join tokens (app → browser → SFU): the claims, issuing them and verifying them.

An HS256 JWT signed with the secret the app and the SFU share. The wire format: ``iss`` ieum-app, ``aud``
ieum-sfu, ``room``, ``sub`` (user id), ``name``, ``role``, ``publish`` (list of kinds), ``iat``, ``exp``
(at most 5 minutes later), ``jti`` (random, single use: the SFU refuses a second join with it) and, on
teachers' tokens, ``record`` (left out when the class is not recorded).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jwt

from .roles import RUNS_CLASS, PublishKind, RecordMode, Role

ISSUER = "ieum-app"
AUDIENCE = "ieum-sfu"
MAX_TTL_S = 300
# Clocks of the app and the SFU hosts drift a little; a few seconds of slack avoids flaky refusals.
LEEWAY_S = 10
MAX_TOKEN_ID_CHARS = 128


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
    role: Role
    publish: tuple[PublishKind, ...]
    issued_at: int
    expires_at: int
    token_id: str
    # The course's recording policy, on teachers' tokens; a teacher starting the class starts the recording.
    record: RecordMode = RecordMode.none

    @property
    def is_teacher(self) -> bool:
        """Teachers and admins run the class."""
        return self.role in RUNS_CLASS

    @property
    def usable_until(self) -> float:
        """The last moment (epoch seconds) a verifier accepts this token, clock-skew leeway included."""
        return float(self.expires_at + LEEWAY_S)


_ROLE_VALUES = frozenset(r.value for r in Role)
_PUBLISH_VALUES = frozenset(k.value for k in PublishKind)
_RECORD_VALUES = frozenset(m.value for m in RecordMode)


def _one_of(value: object, values: frozenset[str]) -> bool:
    # Claims are untrusted JSON: a list or an object must be refused, not raise TypeError when hashed.
    return isinstance(value, str) and value in values


def issue_join_token(
    secret: str,
    *,
    room: str,
    user_id: str,
    name: str,
    role: Role | str,
    publish: Iterable[PublishKind | str],
    ttl_s: int = MAX_TTL_S,
    now: float | None = None,
    record: RecordMode | str = RecordMode.none,
) -> str:
    """Sign a join token for one user and one room, with a fresh random ``jti``."""
    try:
        role = Role(role)
    except ValueError:
        raise ValueError(f"unknown role {role!r}") from None
    if not 0 < ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl_s must be in (0, {MAX_TTL_S}]")
    publish = list(publish)
    bad = [k for k in publish if not _one_of(k, _PUBLISH_VALUES)]
    if bad:
        raise ValueError(f"unknown publish kinds {bad!r}")
    if not _one_of(record, _RECORD_VALUES):
        raise ValueError(f"record must be one of {sorted(_RECORD_VALUES)!r}")
    iat = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "room": room,
        "sub": user_id,
        "name": name,
        "role": str(role),
        "publish": [str(k) for k in publish],
        "iat": iat,
        "exp": iat + ttl_s,
        "jti": uuid.uuid4().hex,
    }
    if record:
        claims["record"] = str(record)
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_join_token(
    secret: str, token: object, *, room: str | None = None, now: float | None = None
) -> JoinClaims:
    """Verify signature, audience, issuer, lifetime and (optionally) room; raise TokenError if refused.

    Single use is the verifier's to enforce (it alone knows which ``token_id`` values it has seen).
    """
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

    claim_room, sub, name, role, jti = (claims.get(k) for k in ("room", "sub", "name", "role", "jti"))
    publish = claims.get("publish", [])
    if not isinstance(claim_room, str) or not claim_room or not isinstance(sub, str) or not sub:
        raise TokenError("malformed")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_TOKEN_ID_CHARS:
        raise TokenError("malformed")
    if room is not None and claim_room != room:
        raise TokenError("other_room")
    if not _one_of(role, _ROLE_VALUES) or not isinstance(name, str):
        raise TokenError("malformed")
    if not isinstance(publish, list) or not all(_one_of(k, _PUBLISH_VALUES) for k in publish):
        raise TokenError("malformed")
    record = claims.get("record", "")
    if not _one_of(record, _RECORD_VALUES):
        raise TokenError("malformed")
    the_role = Role(str(role))
    kinds = tuple(PublishKind(k) for k in dict.fromkeys(publish))
    mode = RecordMode(record)
    if the_role is Role.student:
        # A student's right to publish comes from being put on stage, never from the token.
        kinds, mode = (), RecordMode.none
    return JoinClaims(
        room=claim_room,
        user_id=sub,
        name=name,
        role=the_role,
        publish=kinds,
        issued_at=iat,
        expires_at=exp,
        token_id=jti,
        record=mode,
    )
