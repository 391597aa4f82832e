"""Signalling: the WebSocket endpoint ``/ws`` (join handshake, message validation, the dispatch table), the
HTTP endpoints ``/healthz`` and ``/metrics``, and :func:`create_app`. Media goes through ``peers.py`` and
``forward.py``; what the messages do is ``classroom.py``'s and the peers'; the handlers here check each
message's fields (and teacher-only messages) and hand typed values over.

Signalling protocol (JSON text frames) for the browser page
=========================================================

Every participant has up to two peer connections, so offers never collide ("glare"):

* **publish** — browser → SFU. The *browser* offers (sendonly tracks), the SFU answers.
* **subscribe** — SFU → browser. The *SFU* offers (sendonly tracks, one m-line per remote track), the
  browser answers. The SFU re-offers whenever the set of forwarded tracks changes; it never sends a new
  offer before the previous one was answered. Both use BUNDLE and non-trickle ICE (SFU candidates are in
  its SDP; the browser may either wait for gathering to complete or send ``candidate`` messages).

Client → server
  ``{"type":"join","token":JWT}`` first, within 10 s. Refused: ``{"type":"error","code":"token_invalid",
  "message":reason}`` and the socket closes (code 4001) before any media. Tokens are single use: a second
  join with the same token (its ``jti``) is refused with reason ``already_used``; the page fetches a fresh
  token for every (re)join. A valid token is still refused with ``class_ended`` (close code 4004) after the
  class ended, and ``removed`` (4003) for someone a teacher removed. Joining again as the same user replaces
  the older session (which gets ``{"type":"error","code":"replaced",...}`` and is closed); the room stays as
  it was. A room whose last participant left (a teacher alone whose connection dropped) is kept
  ``LMS_SFU_EMPTY_ROOM_GRACE_S`` (120 s): rejoining within it finds the class started, its removals and its
  recording going on; after it, the room is gone (its recording handed over) and the next join starts anew.
  ``{"type":"offer","pc":"publish","sdp":..., "screen":[mid,...]}`` — publish; ``screen`` lists the mids
  (``transceiver.mid`` after setLocalDescription) that carry a screen share instead of the camera.
  Answered by ``{"type":"answer","pc":"publish","sdp":...}``, or refused by
  ``{"type":"error","code":"publish_denied",...}`` (a student off stage offering a microphone or a screen,
  or a kind not in the token). A student off stage may publish their camera alone: a *gallery camera*,
  forwarded only to the teachers whose gallery page shows them (and capped by REMB to 150 kbps: send a small
  picture). Going on or off stage closes a student's publish connection, so the page publishes again for its
  new place (microphone and camera to everyone on stage; the camera alone, if at all, off it).
  To stop publishing, renegotiate with the track removed/inactive or send ``{"type":"unpublish"}``.
  ``{"type":"answer","pc":"subscribe","sdp":...}`` — answer to the SFU's subscribe offer.
  ``{"type":"candidate","pc":"publish"|"subscribe","candidate":{"candidate":...,"sdpMid":...,
  "sdpMLineIndex":...}}`` — optional trickle.
  ``{"type":"raise_hand"}`` / ``{"type":"lower_hand"}`` / ``{"type":"chat","text":...}`` /
  ``{"type":"unmute"}`` (after a teacher's mute) / ``{"type":"leave"}``.
  Teacher/admin only: ``{"type":"start_class"}``, ``{"type":"end_class"}``,
  ``{"type":"stage","user":sub,"on":bool}``, ``{"type":"mute","user":sub}``, ``{"type":"remove","user":sub}``,
  ``{"type":"gallery","users":[sub,...]}`` — the students on the teacher's gallery page now (at most 25,
  ``router.GALLERY_PAGE``; an empty list closes the gallery): their gallery cameras are offered to this
  teacher, the previous page's are taken off.
  (``pc`` may be omitted: a client ``offer`` is always publish, a client ``answer`` always subscribe.)

Server → client
  ``{"type":"joined","user":...,"room":...,"role":...,"name":...,"publish":[kind,...],"class_started":bool,
  "in_lobby":bool,"ice_servers":[...]}`` — then ``{"type":"participants","participants":[...],"full":bool,
  "count":N,"hands":H}`` (each entry user, name, role, on_stage, hand_raised, in_lobby, muted, publishing;
  ``count`` is everyone in the room, ``hands`` the raised hands). What follows grows linearly with the room
  (``roster.py`` decides it):

  * teachers/admins get the full roster (``"full":true``), then every ~0.3 s at most one batch
    ``{"type":"participants_delta","joined":[entry,...],"left":[user,...],"updated":[entry,...]}`` — one
    entry per user, as they are when the batch goes out (a join then a leave in one batch is not sent; a
    leave then a join, a reconnect, is an update; the teacher's own join is in it too). Apply ``left``, then
    upsert ``joined`` and ``updated``.
  * students get (``"full":false``) the teachers/admins, whoever is on stage, and themselves; then
    ``{"type":"participant","event":"joined"|"left"|"updated","participant":{...}}`` about those people only
    (a teacher coming or going or changing, a student going on stage — ``updated`` with ``on_stage`` true — or
    coming off it — ``updated`` with ``on_stage`` false: drop them from the list), and the room's size as
    ``{"type":"count","participants":N,"hands":H}``, at most once every 2 s and only when it changed. They
    are never told about other students' joins, leaves or hands.
  ``{"type":"class_started"}`` — students leave the lobby; subscribe offers follow.
  ``{"type":"class_ended"}`` — the teacher ended the class; whoever is still connected is disconnected
  after a short grace, and joins with a fresh token are refused (``class_ended``, close code 4004).
  ``{"type":"recording","on":bool,"mode":...}`` — the class is being recorded (``mode`` when it starts), or
  no longer; ``recording_unavailable`` (an error to the teacher) when the SFU has no storage.
  ``{"type":"tracks","tracks":[{"mid":...,"user":...,"name":...,"kind":"audio"|"video"|"screen"|"gallery"}]}`` —
  sent right before each subscribe offer; maps each active subscribe m-line (``event.transceiver.mid`` in
  ``ontrack``) to its participant so tiles can be labelled. m-lines absent from the list are inactive.
  ``{"type":"offer","pc":"subscribe","sdp":...}`` / ``{"type":"answer","pc":"publish","sdp":...}``.
  ``{"type":"stage","user":sub,"on":bool}`` — broadcast to everyone (besides the roster delta above); the
  student concerned may now publish audio and video (or must stop: the SFU closes its publish connection when
  taken off stage). At most four students (``classroom.MAX_STAGE``) are on stage at once: a fifth is refused with ``stage_full`` to the teacher.
  ``{"type":"error","code":"publish_lost",...}`` — the SFU closed your publish connection (ICE consent
  expired, or ICE/DTLS failed) while the socket stayed up: what you published is gone; publish again with a
  new publish connection and a fresh offer.
  ``{"type":"muted","by":sub}`` — a teacher muted you (your audio is no longer forwarded until ``unmute``).
  Of the students' microphones only the three loudest unmuted ones are forwarded at a time (RFC 6464 levels,
  ``router.audible``); the teachers' always are. A held-back m-line stays negotiated and just goes quiet.
  ``{"type":"removed"}`` — you were removed; the socket closes.
  ``{"type":"chat","from":sub,"name":...,"text":...,"at":ISO-8601}``.
  ``{"type":"speaking","user":sub,"speaking":bool}`` — from the RFC 6464 audio level, best effort.
  ``{"type":"error","code":...,"message":...}`` — only to the client that caused it; the room carries on.
  Messages are fixed texts (never exception text; the details go to the SFU's log). ``rate_limited``: a chat
  message beyond 5 in a burst (then 5 per 10 s), or a hand raise/lower beyond 10 a minute, was dropped.

HTTP: ``/healthz`` answers anyone; ``/metrics`` (JSON, or the Prometheus text format for ``Accept: text/plain``
or ``?format=prometheus``: ``metrics.py`` lists the names) wants ``Authorization: Bearer <LMS_SFU_METRICS_TOKEN>``,
or, when no metrics token is configured, answers loopback clients only (403 otherwise).
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import prometheus_client
from aiohttp import WSMsgType, web
from prometheus_client.registry import CollectorRegistry

from contracts.tokens import TokenError, verify_join_token

from . import consent, ice, router
from . import metrics as sfu_metrics
from .config import SfuConfig
from .peers import add_candidate, peer_connection
from .room import Participant, Room, error
from .sfu import Sfu

log = logging.getLogger(__name__)


SFU_KEY: web.AppKey[Sfu] = web.AppKey("sfu", Sfu)
PROMETHEUS_KEY: web.AppKey[CollectorRegistry] = web.AppKey("prometheus", CollectorRegistry)

Handler = Callable[[Sfu, Room, Participant, dict[str, Any]], Awaitable[None]]
MAX_USER_CHARS = 64  # a participant id in a message (token ``sub``s are the app's user ids)


# --- HTTP endpoints --------------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    """Liveness probe."""
    return web.json_response({"ok": True})


async def metrics(request: web.Request) -> web.Response:
    """Counters, CPU and memory as JSON, for the metrics token's bearer (or, without one, loopback only)."""
    sfu = request.app[SFU_KEY]
    token = sfu.config.metrics_token
    if token is not None:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return web.json_response(
                {"error": "unauthorized"}, status=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'}
            )
    elif not _is_loopback(request.remote):
        return web.json_response({"error": "forbidden"}, status=403)
    if _wants_prometheus(request):
        return web.Response(
            body=prometheus_client.generate_latest(request.app[PROMETHEUS_KEY]),
            headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST},
        )
    return web.json_response(sfu.metrics())


def _wants_prometheus(request: web.Request) -> bool:
    """Prometheus asks for text (``text/plain`` or OpenMetrics); JSON stays the default for everyone else."""
    if request.query.get("format") == "prometheus":
        return True
    accept = request.headers.get("Accept", "")
    return "text/plain" in accept or "application/openmetrics-text" in accept


def _is_loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


# --- the WebSocket session: join handshake, then one message at a time --------------------------------


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """One participant's signalling session."""
    sfu = request.app[SFU_KEY]
    ws = web.WebSocketResponse(heartbeat=sfu.config.heartbeat_s, max_msg_size=256 * 1024)
    await ws.prepare(request)

    claims = None
    try:
        first = await ws.receive(timeout=sfu.config.join_timeout_s)
        if first.type != WSMsgType.TEXT:
            raise TokenError("no_join")
        try:
            msg = json.loads(first.data)
        except ValueError as exc:
            raise TokenError("malformed") from exc
        if not isinstance(msg, dict) or msg.get("type") != "join":
            raise TokenError("no_join")
        # ``/ws?room=live-42`` pins the room the page expects; a token for another room is refused.
        claims = verify_join_token(
            sfu.config.secret, msg.get("token", ""), room=request.query.get("room") or None
        )
        # Single use: a token copied out of a page (or a log) cannot join a second time.
        if sfu.shared_tokens is not None:  # every process and node of the deployment
            admitted = await sfu.shared_tokens.admit(claims.token_id, claims.usable_until)
        else:
            admitted = sfu.used_tokens.admit(claims.token_id, claims.usable_until)
        if not admitted:
            raise TokenError("already_used")
    except (TokenError, TimeoutError) as exc:
        reason = exc.reason if isinstance(exc, TokenError) else "timeout"
        await ws.send_json(error("token_invalid", reason))
        await ws.close(code=4001, message=b"token_invalid")
        return ws

    refusal = sfu.classroom.refusal(claims)
    if refusal is not None:
        code, text, close_code = refusal
        await ws.send_json(error(code, text))
        await ws.close(code=close_code, message=code.encode())
        return ws
    room = sfu.room(claims.room)
    previous = room.participants.get(claims.user_id)
    if previous is not None:
        # Same user from a second tab or after a reconnect: the new session wins.
        # The room is kept as it is (started, removals, recording) even when that session was alone in it.
        previous.send(error("replaced", "you joined from somewhere else"))
        await sfu.leave(previous, "bye", replaced=True)
        room = sfu.room(claims.room)

    p = Participant(claims=claims, ws=ws)
    room.add(p)
    sfu.workers.attach(room, p)
    p.start_writer()
    ice_servers = sfu.config.client_ice_servers(claims.user_id)
    p.send(
        {
            "type": "joined",
            "user": claims.user_id,
            "room": claims.room,
            "role": claims.role,
            "name": claims.name,
            "publish": list(claims.publish),
            "class_started": room.started,
            "in_lobby": p.in_lobby,
            "ice_servers": ice_servers,
        }
    )
    p.send(room.feed.welcome(p))
    sfu.classroom.joined(room, p)
    sfu.spawn(sfu.router.sync(room, p))

    reason = "timeout"
    try:
        async for raw in ws:
            if raw.type != WSMsgType.TEXT:
                if raw.type == WSMsgType.BINARY:
                    p.send(error("bad_message", "text frames only"))
                    continue
                break
            try:
                msg = json.loads(raw.data)
            except ValueError:
                p.send(error("bad_json", "message is not JSON"))
                continue
            if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
                p.send(error("bad_message", "message must be an object with a type"))
                continue
            if msg["type"] == "leave":
                reason = "bye"
                break
            handler = HANDLERS.get(msg["type"])
            if handler is None:
                p.send(error("unknown_type", f"unknown message type {msg['type']!r}"))
                continue
            try:
                await handler(sfu, room, p, msg)
            except Exception:  # one bad message must never take the room down
                # The details go to the log only: exception text can carry paths, SDP and internals.
                log.exception("handling %s from %s failed", msg["type"], p.user)
                p.send(error("internal", "the server could not handle this message"))
            if p.left:
                return ws
        else:
            # A close frame from the browser (tab closed, page left) is a goodbye; a dropped connection or
            # missed heartbeats (1006) is a timeout.
            if ws.close_code in (1000, 1001):
                reason = "bye"
    finally:
        if not p.left:
            log.info("%s left %s (%s, ws close code %s)", p.user, room.name, reason, ws.close_code)
        await sfu.leave(p, reason)
    return ws


# --- message handlers: check the fields, then hand typed values to the peers and the classroom ------------


async def _offer(sfu: Sfu, room: Room, p: Participant, msg: dict[str, Any]) -> None:
    if msg.get("pc", "publish") != "publish":
        p.send(error("bad_message", "clients only offer on the publish connection"))
        return
    sdp = msg.get("sdp")
    if not isinstance(sdp, str) or not sdp.strip():
        p.send(error("bad_sdp", "offer needs an sdp string"))
        return
    screen = msg.get("screen") or []
    if not isinstance(screen, list) or not all(isinstance(m, str) for m in screen):
        p.send(error("bad_message", "screen must be a list of mids"))
        return
    await sfu.publisher.apply_offer(room, p, sdp, screen)


async def _answer(sfu: Sfu, room: Room, p: Participant, msg: dict[str, Any]) -> None:
    if msg.get("pc", "subscribe") != "subscribe":
        p.send(error("bad_message", "clients only answer on the subscribe connection"))
        return
    if not sfu.subscriber.awaiting_answer(p):
        p.send(error("unexpected_answer", "no subscribe offer is pending"))
        return
    sdp = msg.get("sdp")
    if not isinstance(sdp, str) or not sdp.strip():
        p.send(error("bad_sdp", "answer needs an sdp string"))
        return
    await sfu.subscriber.apply_answer(room, p, sdp)


async def _candidate(sfu: Sfu, room: Room, p: Participant, msg: dict[str, Any]) -> None:
    if msg.get("pc") == "subscribe" and p.worker is not None:
        cand = msg.get("candidate")
        if not isinstance(cand, dict):
            p.send(error("bad_message", "candidate needs a pc and a candidate object"))
        elif cand.get("candidate"):
            p.worker.candidate(p, cand)
        return
    pc = peer_connection(p, "subscribe" if msg.get("pc") == "subscribe" else "publish")
    cand = msg.get("candidate")
    if pc is None or not isinstance(cand, dict):
        p.send(error("bad_message", "candidate needs a pc and a candidate object"))
        return
    text = cand.get("candidate")
    if not text:
        return  # end-of-candidates
    await add_candidate(p, pc, text, cand.get("sdpMid"), cand.get("sdpMLineIndex"))


async def _unpublish(sfu: Sfu, room: Room, p: Participant, msg: dict[str, Any]) -> None:
    await sfu.publisher.unpublish(room, p)


async def _hand(sfu: Sfu, room: Room, p: Participant, msg: dict[str, Any]) -> None:
    sfu.classroom.hand(room, p, raised=msg["type"] == "raise_hand")


async def _chat(sfu: Sfu, room: Room, p: Participant, msg: dict[str, Any]) -> None:
    text = msg.get("text")
    if not isinstance(text, str) or not text.strip():
        p.send(error("bad_message", "chat needs text"))
        return
    sfu.classroom.chat(room, p, text)


async def _unmute(sfu: Sfu, room: Room, p: Participant, msg: dict[str, Any]) -> None:
    sfu.classroom.unmute(room, p)


def _teacher_only(fn: Handler) -> Handler:
    async def wrapper(sfu: Sfu, room: Room, p: Participant, msg: dict[str, Any]) -> None:
        if not p.is_teacher:
            p.send(error("forbidden", f"only a teacher may {msg['type']}"))
            return
        await fn(sfu, room, p, msg)

    return wrapper


def _target(room: Room, p: Participant, msg: dict[str, Any]) -> Participant | None:
    user = msg.get("user")
    target = room.participants.get(user) if isinstance(user, str) else None
    if target is None:
        p.send(error("unknown_user", f"no participant {user!r} in this room"))
    return target


@_teacher_only
async def _start_class(sfu: Sfu, room: Room, p: Participant, msg: dict[str, Any]) -> None:
    sfu.classroom.start_class(room, p)


@_teacher_only
async def _end_class(sfu: Sfu, room: Room, p: Participant, msg: dict[str, Any]) -> None:
    sfu.classroom.end_class(room)


@_teacher_only
async def _stage(sfu: Sfu, room: Room, p: Participant, msg: dict[str, Any]) -> None:
    target = _target(room, p, msg)
    if target is not None:
        await sfu.classroom.set_stage(room, p, target, bool(msg.get("on")))


@_teacher_only
async def _mute(sfu: Sfu, room: Room, p: Participant, msg: dict[str, Any]) -> None:
    target = _target(room, p, msg)
    if target is not None:
        sfu.classroom.mute(room, p, target)


@_teacher_only
async def _remove(sfu: Sfu, room: Room, p: Participant, msg: dict[str, Any]) -> None:
    target = _target(room, p, msg)
    if target is not None:
        await sfu.classroom.remove(room, p, target)


@_teacher_only
async def _gallery(sfu: Sfu, room: Room, p: Participant, msg: dict[str, Any]) -> None:
    users = msg.get("users")
    if not isinstance(users, list) or not all(isinstance(u, str) and len(u) <= MAX_USER_CHARS for u in users):
        p.send(error("bad_message", "gallery needs users: a list of participant ids"))
        return
    if len(users) > router.GALLERY_PAGE:
        p.send(error("bad_message", f"a gallery page shows at most {router.GALLERY_PAGE} students"))
        return
    sfu.router.look(room, p, users)


HANDLERS: dict[str, Handler] = {
    "offer": _offer,
    "answer": _answer,
    "candidate": _candidate,
    "unpublish": _unpublish,
    "raise_hand": _hand,
    "lower_hand": _hand,
    "chat": _chat,
    "unmute": _unmute,
    "start_class": _start_class,
    "end_class": _end_class,
    "stage": _stage,
    "mute": _mute,
    "remove": _remove,
    "gallery": _gallery,
}


# --- the app ---------------------------------------------------------------------------------------


def create_app(config: SfuConfig) -> web.Application:
    """The aiohttp application; all state lives on it and is torn down on shutdown."""
    if config.ice_hosts:
        ice.restrict_host_addresses(config.ice_hosts)
    consent.install()  # RFC 7675 consent (30 s without an answer), not aioice's six 0.5 s misses
    app = web.Application()
    app[SFU_KEY] = Sfu(config)
    app[PROMETHEUS_KEY] = sfu_metrics.registry(app[SFU_KEY])
    app.router.add_get("/ws", websocket)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)

    async def on_startup(app: web.Application) -> None:
        await app[SFU_KEY].start()

    async def on_shutdown(app: web.Application) -> None:
        with contextlib.suppress(Exception):
            await app[SFU_KEY].shutdown()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    return app
