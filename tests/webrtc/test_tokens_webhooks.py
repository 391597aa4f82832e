"""Join tokens, TURN credentials and webhook signatures (pure, no sockets)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest

from contracts.tokens import JoinClaims, TokenError, issue_join_token, verify_join_token
from contracts.webhooks import make_event, sign_webhook, verify_webhook
from webrtc.ice import turn_credentials

SECRET = "s3cret-" * 10
NOW = 1_800_000_000


def _issue(**kw: object) -> str:
    args: dict[str, object] = dict(
        room="live-42",
        user_id="u1",
        name="홍길동",
        role="teacher",
        publish=["audio", "video", "screen"],
        now=NOW,
    )
    args.update(kw)
    return issue_join_token(SECRET, **args)  # type: ignore[arg-type]


def test_roundtrip() -> None:
    claims = verify_join_token(SECRET, _issue(), room="live-42", now=NOW + 10)
    assert isinstance(claims, JoinClaims)
    assert (claims.room, claims.user_id, claims.name, claims.role) == ("live-42", "u1", "홍길동", "teacher")
    assert claims.publish == ("audio", "video", "screen") and claims.expires_at - claims.issued_at == 300
    assert claims.token_id


@pytest.mark.parametrize(
    ("token_fn", "reason"),
    [
        (lambda: _issue().rsplit(".", 1)[0] + ".AAAA", "forged"),
        (
            lambda: issue_join_token(
                "other-secret-other-secret-123456",
                room="live-42",
                user_id="u",
                name="n",
                role="student",
                publish=[],
                now=NOW,
            ),
            "forged",
        ),
        (lambda: _issue(now=NOW - 1000), "expired"),
        (
            lambda: jwt.encode(
                {
                    "iss": "ieum-app",
                    "aud": "someone-else",
                    "room": "live-42",
                    "sub": "u",
                    "iat": NOW,
                    "exp": NOW + 60,
                    "jti": "x",
                },
                SECRET,
                algorithm="HS256",
            ),
            "wrong_audience",
        ),
        (lambda: _issue(room="live-7"), "other_room"),
        (lambda: "not-a-jwt", "malformed"),
        (lambda: "", "malformed"),
        (
            lambda: jwt.encode(
                {
                    "iss": "ieum-app",
                    "aud": "ieum-sfu",
                    "room": "live-42",
                    "sub": "u",
                    "iat": NOW,
                    "exp": NOW + 3600,
                    "jti": "x",
                    "role": "teacher",
                    "name": "n",
                },
                SECRET,
                algorithm="HS256",
            ),
            "lifetime_too_long",
        ),
        (
            lambda: jwt.encode(
                {
                    "iss": "ieum-app",
                    "aud": "ieum-sfu",
                    "room": "live-42",
                    "sub": "u",
                    "iat": NOW,
                    "exp": NOW + 60,
                    "jti": "x",
                    "role": "janitor",
                    "name": "n",
                },
                SECRET,
                algorithm="HS256",
            ),
            "malformed",
        ),
        (
            lambda: jwt.encode(
                {
                    "iss": "ieum-app",
                    "aud": "ieum-sfu",
                    "room": "live-42",
                    "sub": "u",
                    "iat": NOW,
                    "exp": NOW + 60,
                    "jti": "x",
                    "role": "teacher",
                    "name": "n",
                },
                SECRET,
                algorithm="HS512",
            ),
            "malformed",
        ),
        (lambda: jwt.encode({"alg": "none"}, None, algorithm="none"), "malformed"),
    ],
)
def test_refused(token_fn: object, reason: str) -> None:
    with pytest.raises(TokenError) as info:
        verify_join_token(SECRET, token_fn(), room="live-42", now=NOW + 10)  # type: ignore[operator]
    assert info.value.reason == reason


def test_student_publish_comes_from_stage_not_token() -> None:
    token = jwt.encode(
        {
            "iss": "ieum-app",
            "aud": "ieum-sfu",
            "room": "r",
            "sub": "s",
            "name": "학생",
            "role": "student",
            "publish": ["video"],
            "iat": NOW,
            "exp": NOW + 60,
            "jti": "j",
        },
        SECRET,
        algorithm="HS256",
    )
    assert verify_join_token(SECRET, token, now=NOW).publish == ()


@pytest.mark.parametrize(
    ("role", "record", "expected"),
    [
        ("teacher", "stage", "stage"),
        ("admin", "teacher", "teacher"),
        ("teacher", "", ""),
        ("student", "stage", ""),
    ],
)
def test_record_claim_is_for_teachers_only(role: str, record: str, expected: str) -> None:
    token = issue_join_token(
        SECRET, room="r", user_id="u", name="이름", role=role, publish=[], record=record, now=NOW
    )
    assert verify_join_token(SECRET, token, now=NOW).record == expected


def test_a_bad_record_claim_is_malformed() -> None:
    claims = {
        "iss": "ieum-app",
        "aud": "ieum-sfu",
        "room": "r",
        "sub": "t",
        "name": "교사",
        "role": "teacher",
        "publish": [],
        "iat": NOW,
        "exp": NOW + 60,
        "jti": "j",
        "record": True,
    }
    with pytest.raises(TokenError) as info:
        verify_join_token(SECRET, jwt.encode(claims, SECRET, algorithm="HS256"), now=NOW)
    assert info.value.reason == "malformed"
    with pytest.raises(ValueError):
        _issue(record="everything")


def test_issue_validates_arguments() -> None:
    with pytest.raises(ValueError):
        _issue(ttl_s=301)
    with pytest.raises(ValueError):
        _issue(role="janitor")
    with pytest.raises(ValueError):
        _issue(publish=["smell"])


def test_turn_credentials_format() -> None:
    creds = turn_credentials("turn-secret", "u1", ttl_s=600, now=NOW)
    assert creds["username"] == f"{NOW + 600}:u1" and creds["ttl"] == 600
    expected = base64.b64encode(
        hmac.new(b"turn-secret", creds["username"].encode(), hashlib.sha1).digest()
    ).decode()
    assert creds["credential"] == expected


def test_webhook_sign_verify() -> None:
    body = json.dumps(
        make_event("participant.joined", "live-42", "u1", {"name": "홍길동", "role": "student"})
    ).encode()
    sig = sign_webhook(SECRET, body, NOW)
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert verify_webhook(SECRET, body, sig, NOW, now=NOW + 5)
    assert verify_webhook(SECRET, body, sig, str(NOW), now=NOW)
    assert not verify_webhook(SECRET, body.replace(b"u1", b"u2"), sig, NOW, now=NOW)  # tampered body
    assert not verify_webhook(SECRET, body, sig, NOW + 1, now=NOW)  # timestamp is signed too
    assert not verify_webhook(SECRET, body, sig, NOW, now=NOW + 301)  # stale
    assert not verify_webhook("wrong", body, sig, NOW, now=NOW)
    assert not verify_webhook(SECRET, body, sig, "garbage", now=NOW)


def test_event_shape() -> None:
    event = make_event("participant.left", "live-42", "u1", {"reason": "bye"})
    assert set(event) == {"id", "type", "room", "user", "at", "data"}
    assert event["at"].endswith("Z")
    with pytest.raises(ValueError):
        make_event("party.started", "r", "u")
