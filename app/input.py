"""Request input hygiene, in one place: what no endpoint should ever see reaches none of them.

JSON bodies: no NaN/Infinity, integers within 64 bits, finite floats, nesting at most MAX_DEPTH, strings
without NUL or lone surrogates. Query strings and forms: no NUL. Ids in URL paths: within 32 bits, as the
id columns are (a larger one matches no route, so it is a 404 like any other id that does not exist;
PostgreSQL would refuse to compare it with an INTEGER column). Redirect targets:
local paths only. Each refusal is a 400 with a message saying what was wrong, and nothing is written.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, Request, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from courses.errors import N_

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
ID_MAX = 2**31 - 1  # row ids are 32-bit integers: a bigger one in a query string finds nothing, not an error
MAX_DEPTH = 32
_BAD_TEXT = re.compile(r"[\x00\ud800-\udfff]")
_UNSAFE_REDIRECT = re.compile(r"[\x00-\x20\x7f\\]")


NOT_A_NUMBER = N_("JSON에는 NaN·Infinity를 쓸 수 없습니다.")
INT_RANGE = N_("숫자가 너무 큽니다 (64비트 정수 범위를 벗어남).")
FLOAT_RANGE = N_("숫자가 너무 큽니다.")
TOO_DEEP = N_("JSON이 너무 깊이 중첩되어 있습니다 (최대 %(n)d단계).")
BAD_TEXT = N_("입력에 쓸 수 없는 문자(NUL 또는 짝 없는 서로게이트)가 있습니다.")
BAD_JSON = N_("JSON 형식이 올바르지 않습니다.")


class BadInput(BadRequest):
    """A 400 whose message (a msgid with params) is shown to the person, translated (see app.errors)."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.message, self.params = message, params


class _Refused(ValueError):
    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.message, self.params = message, params


def _constant(name: str) -> Any:
    raise _Refused(NOT_A_NUMBER)


def _bounded_int(text: str) -> int:
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise _Refused(INT_RANGE)
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Refused(FLOAT_RANGE)
    return value


def check_value(value: Any, depth: int = 0) -> None:
    """A ValueError when a decoded value nests too deep or holds text no column can take."""
    if depth > MAX_DEPTH:
        raise _Refused(TOO_DEEP, n=MAX_DEPTH)
    if isinstance(value, str):
        if _BAD_TEXT.search(value):
            raise _Refused(BAD_TEXT)
    elif isinstance(value, dict):
        for k, v in value.items():
            check_value(k, depth + 1)
            check_value(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            check_value(v, depth + 1)


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing what JavaScript could not have sent or a database could not store."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = json.loads(
                s, parse_constant=_constant, parse_int=_bounded_int, parse_float=_finite_float, **kwargs
            )
        except RecursionError:
            raise _Refused(TOO_DEEP, n=MAX_DEPTH) from None
        check_value(value)
        return value


class StrictRequest(Request):
    """A request whose JSON errors say what was wrong."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if isinstance(e, _Refused):
            raise BadInput(e.message, **e.params)
        raise BadInput(BAD_JSON)


class IdConverter(IntegerConverter):
    """`<int:…>` in routes: only ids an INTEGER id column can hold match (2**31 - 1 at most)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 (werkzeug's name)
        kwargs.setdefault("max", ID_MAX)
        super().__init__(map, *args, **kwargs)


def bounded_int(text: str | None, default: int, lo: int, hi: int) -> int:
    """A query-string integer clamped into [lo, hi]; the default when absent or not a number."""
    try:
        value = int(text) if text not in (None, "") else default
    except ValueError:
        return default
    return max(lo, min(hi, value))


def safe_redirect_target(target: str | None, fallback: str) -> str:
    """A local path to redirect to, or the fallback: no scheme, host, '//', backslash, space or control."""
    if not target or not target.startswith("/") or target.startswith("//") or _UNSAFE_REDIRECT.search(target):
        return fallback
    return target


def init_app(app: Flask) -> None:
    """Install the strict JSON provider, the request class, the path converter and the text check."""
    app.json_provider_class = StrictJSONProvider
    app.json = StrictJSONProvider(app)
    app.request_class = StrictRequest
    app.url_map.converters["int"] = IdConverter

    @app.before_request
    def refuse_bad_text() -> None:
        for source in (request.args, request.form):
            for key, value in source.items(multi=True):
                if _BAD_TEXT.search(key) or _BAD_TEXT.search(value):
                    raise BadInput(BAD_TEXT)
