"""The SFU's peer connections: one publisher peer (browser → SFU) and one subscriber peer (SFU → browser) per
participant, so offers never collide.

aiortc does SDP, ICE and DTLS. This module creates the connections (:func:`new_peer_connection`: the SFU's
ICE servers, BUNDLE; a subscribe connection that fails or loses ICE consent is the client vanishing, a
publish one only its media: the client is told ``publish_lost`` and publishes again), wraps each
bundled DTLS transport in a ``forward.Transport`` (from there on the RTP path is the SFU's own) with its
demultiplexer, and:

* :class:`Publisher` checks a publish offer against what the participant may publish, answers it, turns each
  negotiated receiver into a ``forward.SourceTrack`` instead of aiortc's decoder (``PublisherDemux`` routes
  the publisher's packets to them), drops tracks the browser stopped sending, and sends the receiver
  reports that keep the publisher's congestion control alive.
* :class:`Subscriber` carries out what the router decided: binds each wanted track to a sendonly m-line
  (``forward.OutSlot``, reused for another source of the same kind and codec), offers, applies the
  browser's answer and starts forwarding (``SubscriberDemux`` routes the browser's NACK/PLI/RR back).
* codec helpers: the m-lines an offer sends, the negotiated payload type, matching the publisher's codec
  so that no subscriber needs a transcode.

The per-participant media state (connections, transports, demuxes, tracks, slots, bindings) lives on
``room.Participant`` and is changed only here. Who receives which track is ``router.py``'s decision; what
a new or dropped track means for the class (webhooks, roster, recording, mute, speaking) is the
classroom's (``classroom.py``); aiortc internals are reached through ``internals.py``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from typing import TYPE_CHECKING, Any

from aiortc import (
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpReceiver,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpReceiveParameters
from aiortc.sdp import candidate_from_sdp

from . import ice, internals, router
from .forward import Binding, Codec, OutSlot, PublisherDemux, SourceTrack, SubscriberDemux, Transport
from .room import Participant, Room, error
from .rtp import AUDIO_LEVEL_URI

if TYPE_CHECKING:
    from .sfu import Sfu

log = logging.getLogger(__name__)

MID_EXT_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
PUBLISHER_RCVBUF = 4 * 1024 * 1024  # bytes; the kernel caps it at net.core.rmem_max


def _consent_expired(pc: RTCPeerConnection) -> bool:
    from .consent import expired

    for transceiver in pc.getTransceivers():
        try:
            if expired(internals.ice_connection(transceiver.receiver.transport)):
                return True
        except AttributeError:
            continue
    return False


def new_peer_connection(sfu: Sfu, p: Participant, label: str) -> RTCPeerConnection:
    """A connection for one participant; when it fails or closes on its own, the participant has timed out."""
    pc = RTCPeerConnection(sfu.config.server_rtc_configuration())
    sfu.peer_connections.add(pc)

    @pc.on("connectionstatechange")
    async def on_state() -> None:
        # ICE consent expiry (aioice closes the connection) or DTLS failure: the client vanished — or, while
        # its WebSocket stays up, only its media path did.
        if pc.connectionState in ("failed", "closed") and not p.left and pc in (p.publish_pc, p.subscribe_pc):
            why = "no answer to ICE consent checks for 30 s" if _consent_expired(pc) else "ICE or DTLS failed"
            log.warning("%s pc of %s is %s: %s", label, p.user, pc.connectionState, why)
            sfu.process_metrics.timeouts += 1
            if pc is p.publish_pc:
                # The class would silently lose this speaker's media: tell the client to publish again. A
                # client that is really gone is dropped by the WebSocket heartbeat.
                await sfu.publisher.lost(p)
                return
            await sfu.leave(p, "timeout")

    return pc


async def close_peer_connections(sfu: Sfu, p: Participant) -> None:
    """Close both of a participant's connections (after it is marked as left, so this is no timeout)."""
    for pc in (p.publish_pc, p.subscribe_pc):
        if pc is not None:
            sfu.peer_connections.discard(pc)
            await pc.close()
    p.publish_pc = p.subscribe_pc = None


def peer_connection(p: Participant, which: str) -> RTCPeerConnection | None:
    """The participant's ``subscribe`` connection, or for anything else its ``publish`` one."""
    return p.subscribe_pc if which == "subscribe" else p.publish_pc


async def add_candidate(
    p: Participant, pc: RTCPeerConnection, text: object, sdp_mid: Any, sdp_mline_index: Any
) -> None:
    """Add a trickled remote ICE candidate (``candidate:...`` text); tell the client when it does not parse."""
    try:
        candidate = candidate_from_sdp(str(text).removeprefix("candidate:"))
        candidate.sdpMid = sdp_mid
        candidate.sdpMLineIndex = sdp_mline_index
        await pc.addIceCandidate(candidate)
    except Exception:
        log.info("ICE candidate from %s could not be added", p.user, exc_info=True)
        p.send(error("bad_candidate", "cannot add the ICE candidate"))


class Publisher:
    """The publish side of every participant of one SFU process: browser offers, SFU answers."""

    def __init__(self, sfu: Sfu) -> None:
        self.sfu = sfu

    async def apply_offer(self, room: Room, p: Participant, sdp: str, screen: list[str]) -> None:
        """Answer a publish offer if everything it sends is allowed; ``screen`` lists the screen-share mids."""
        sfu = self.sfu
        try:
            sending = sending_media(sdp)
        except ValueError as exc:
            log.info("unparsable publish offer from %s: %s", p.user, exc)
            p.send(error("bad_sdp", "the offer is not an SDP document with media"))
            return
        for mid, kind in sending:
            source = "screen" if kind == "video" and mid in screen else kind
            if not p.may_publish(source):
                sfu.counters.dropped_not_allowed += 1
                p.send(error("publish_denied", f"you may not publish {source} now"))
                return
        if p.in_lobby:
            p.send(error("publish_denied", "the class has not started"))
            return

        p.screen_mids = set(screen)
        if p.publish_pc is None:
            p.publish_pc = new_peer_connection(sfu, p, "publish")
            p.publish_demux = PublisherDemux(sfu.counters)
        pc = p.publish_pc
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception:  # aiortc raises ValueError, KeyError, AssertionError... on bad SDP
            log.info("publish offer from %s could not be applied", p.user, exc_info=True)
            p.send(error("bad_sdp", "cannot apply the offer"))
            if pc.signalingState != "stable":
                await self.reset(p)
            return
        self._wrap_transports(p, pc)
        for transceiver in pc.getTransceivers():
            self._hook_receiver(room, p, transceiver)
        answer = await pc.createAnswer()
        assert answer is not None
        await pc.setLocalDescription(answer)
        local = pc.localDescription
        p.send({"type": "answer", "pc": "publish", "sdp": ice.announce(local.sdp, sfu.config.public_ip)})
        # Tracks the new offer no longer sends are unpublished now; new ones register on receive().
        active = {t.mid for t in pc.getTransceivers() if t.currentDirection in ("recvonly", "sendrecv")}
        gone = [t for mid, t in p.tracks.items() if mid not in active]
        for track in gone:
            self.drop_track(p, track)
        if gone:
            sfu.classroom.announce(room, p, "updated")
            sfu.router.resync_room(room)

    async def unpublish(self, room: Room, p: Participant) -> None:
        """Stop everything the participant publishes (the ``unpublish`` message)."""
        await self.reset(p)
        self.sfu.classroom.announce(room, p, "updated")
        self.sfu.router.resync_room(room)

    async def lost(self, p: Participant) -> None:
        """The publish connection failed (ICE consent or DTLS): drop it and ask the client to publish again."""
        await self.reset(p)
        p.send(error("publish_lost", "the SFU lost your media connection; publish again"))
        room = self.sfu.rooms.get(p.claims.room)
        if room is not None:
            self.sfu.classroom.announce(room, p, "updated")
            self.sfu.router.resync_room(room)

    async def reset(self, p: Participant) -> None:
        """Drop the participant's tracks and close its publish connection; a later offer starts afresh."""
        pc, p.publish_pc = p.publish_pc, None
        for track in list(p.tracks.values()):
            self.drop_track(p, track)
        p.publish_transport = None
        p.publish_demux = None
        if pc is not None:
            self.sfu.peer_connections.discard(pc)
            await pc.close()

    def drop_track(self, p: Participant, track: SourceTrack) -> None:
        """Unpublish one track: detach its subscribers and forget it."""
        track.close()
        p.tracks.pop(track.mid or "", None)
        if p.publish_demux is not None:
            p.publish_demux.by_mid.pop(track.mid or "", None)
            if track.ssrc is not None:
                p.publish_demux.by_ssrc.pop(track.ssrc, None)
            if track.rtx_ssrc is not None:
                p.publish_demux.by_rtx_ssrc.pop(track.rtx_ssrc, None)
        self.sfu.workers.track_dropped(track)
        self.sfu.classroom.track_unpublished(p, track)

    def _wrap_transports(self, p: Participant, pc: RTCPeerConnection) -> None:
        assert p.publish_demux is not None
        for transceiver in pc.getTransceivers():
            dtls = transceiver.receiver.transport
            if p.publish_transport is None or p.publish_transport.dtls is not dtls:
                p.publish_transport = Transport(
                    dtls,
                    p.publish_demux.on_rtp,
                    p.publish_demux.on_rtcp,
                    self.sfu.counters,
                    receive_buffer=PUBLISHER_RCVBUF,
                )

    def _hook_receiver(self, room: Room, p: Participant, transceiver: RTCRtpTransceiver) -> None:
        async def receive(parameters: RTCRtpReceiveParameters) -> None:
            # aiortc calls this once DTLS is up; instead of starting its decoder we register the track.
            self._add_track(room, p, transceiver, parameters)

        if internals.replace_receive(transceiver.receiver, receive):
            internals.silence_sender(transceiver)

    def _add_track(
        self, room: Room, p: Participant, transceiver: RTCRtpTransceiver, params: RTCRtpReceiveParameters
    ) -> None:
        if p.left or p.publish_transport is None or p.publish_demux is None:
            return
        mid = params.muxId or transceiver.mid or ""
        if mid in p.tracks:
            return
        codecs = [c for c in params.codecs if c.name.lower() not in ("rtx", "red", "ulpfec")]
        if not codecs:
            return
        kind = transceiver.kind
        source = "screen" if kind == "video" and mid in p.screen_mids else kind
        if not p.may_publish(source):
            return
        ext = {e.uri: e.id for e in params.headerExtensions}
        demux = p.publish_demux
        demux.mid_ext_id = ext.get(MID_EXT_URI, 0)
        ssrc = params.encodings[0].ssrc if params.encodings else None
        rtx = params.encodings[0].rtx if params.encodings else None
        main_pt = codecs[0].payloadType
        rtx_pt = next(
            (
                c.payloadType
                for c in params.codecs
                if c.name.lower() == "rtx" and c.parameters.get("apt") == main_pt
            ),
            None,
        )
        track = SourceTrack(
            track_id=f"{p.user}:{mid}",
            owner=p.user,
            owner_name=p.claims.name,
            kind=kind,
            source=source,
            codec=codec_of(codecs[0]),
            ssrc=ssrc,
            mid=mid,
            publisher=p.publish_transport,
            counters=self.sfu.counters,
            audio_level_id=ext.get(AUDIO_LEVEL_URI, 0) if kind == "audio" else 0,
            rtx_ssrc=rtx.ssrc if rtx is not None else None,
            rtx_payload_type=rtx_pt,
            gallery=p.in_gallery(source),
        )
        # Before the track is reachable: the classroom sets it up (mute, speaking, recording).
        self.sfu.classroom.track_added(room, p, track)
        p.tracks[mid] = track
        demux.by_mid[mid] = track
        if ssrc is not None:
            demux.by_ssrc[ssrc] = track
        if track.rtx_ssrc is not None:
            demux.by_rtx_ssrc[track.rtx_ssrc] = track
        self.sfu.classroom.track_published(room, p, track)

    async def rtcp_loop(self) -> None:
        """Run forever, sending each publisher receiver reports (and a REMB cap) for its tracks."""
        # They keep publishers' congestion control and stats alive, since aiortc's own receivers never see
        # the packets.
        config = self.sfu.config
        while True:
            await asyncio.sleep(config.rtcp_interval_s * (0.75 + 0.5 * random.random()))
            for room in list(self.sfu.rooms.values()):
                for p in list(room.participants.values()):
                    if p.publish_transport is None:
                        continue
                    reports = [
                        t.receiver_report(router.GALLERY_BPS if t.gallery else config.remb_bps)
                        for t in p.tracks.values()
                    ]
                    packet = b"".join(r for r in reports if r)
                    if packet:
                        p.publish_transport.send_rtcp(packet)


class Subscriber:
    """The subscribe side of every participant of one SFU process: the SFU offers, the browser answers."""

    def __init__(self, sfu: Sfu) -> None:
        self.sfu = sfu

    async def apply(self, room: Room, p: Participant, wanted: dict[str, SourceTrack]) -> None:
        """Bind/unbind forwarded tracks so the subscriber gets ``wanted``; send a new offer if anything changed
        (or if the last offer could not be made: ``Participant.offer_stale``).

        Called by the router only, with no offer pending. A participant whose subscribe side lives in another
        worker (``Participant.worker``) is handed there: that worker negotiates it the same way.
        """
        if p.worker is not None:
            p.worker.want(room, p, wanted)
            return
        changed = False
        for track_id, binding in list(p.bindings.items()):
            if wanted.get(track_id) is not binding.track:
                self._unbind(p, binding)
                binding.slot.transceiver.direction = "inactive"
                changed = True
        new = [t for tid, t in wanted.items() if tid not in p.bindings]
        if not new and not changed and not p.offer_stale:
            return
        # Set until the offer is sent: if anything below fails, the bindings made (or undone) here are not
        # what the browser was offered, and the next sync must offer them even though nothing changes then.
        p.offer_stale = True
        p.negotiating = True
        try:
            if p.subscribe_pc is None and new:
                p.subscribe_pc = new_peer_connection(self.sfu, p, "subscribe")
                p.subscribe_demux = SubscriberDemux(self.sfu.counters)
            pc = p.subscribe_pc
            if pc is None:  # nothing was ever offered, so there is nothing to take back
                p.negotiating = p.offer_stale = False
                return
            for track in new:
                slot = next(
                    (
                        s
                        for s in p.slots
                        if s.binding is None and s.kind == track.kind and s.codec == track.codec
                    ),
                    None,
                )
                if slot is None:
                    slot = self._new_slot(pc, p, track)
                    self._wrap_transports(p, pc)
                slot.transceiver.direction = "sendonly"
                assert p.subscribe_transport is not None
                binding = Binding(track, p.subscribe_transport, slot)
                slot.binding = binding
                p.bindings[track.id] = binding
            offer = await pc.createOffer()
            await pc.setLocalDescription(offer)
            self._wrap_transports(p, pc)
            for slot in p.slots:
                slot.payload_type = negotiated_pt(slot.transceiver, slot.payload_type)
            if p.left:
                return
            p.send({"type": "tracks", "tracks": self._track_map(room, p)})
            p.send(
                {
                    "type": "offer",
                    "pc": "subscribe",
                    "sdp": ice.announce(pc.localDescription.sdp, self.sfu.config.public_ip),
                }
            )
            p.offer_stale = False
        except Exception:
            p.negotiating = False
            raise

    def awaiting_answer(self, p: Participant) -> bool:
        """Whether a subscribe offer was sent and not yet answered (another worker's participant: it decides)."""
        if p.worker is not None:
            return True
        pc = p.subscribe_pc
        return pc is not None and pc.signalingState == "have-local-offer"

    async def apply_answer(self, room: Room, p: Participant, sdp: str) -> None:
        """Apply the browser's answer to the pending offer and start forwarding what it accepted."""
        if p.worker is not None:
            p.worker.answer(p, sdp)
            return
        pc = p.subscribe_pc
        assert pc is not None
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        except Exception:
            log.info("subscribe answer from %s could not be applied", p.user, exc_info=True)
            p.send(error("bad_sdp", "cannot apply the answer"))
            return  # still have-local-offer: the client may send a corrected answer
        self._wrap_transports(p, pc)
        assert p.subscribe_demux is not None and p.subscribe_transport is not None
        for slot in p.slots:
            b = slot.binding
            if b is None or b.active:
                continue
            slot.payload_type = negotiated_pt(slot.transceiver, slot.payload_type)
            b.pt = slot.payload_type
            b.transport = p.subscribe_transport
            b.active = True
            p.subscribe_demux.by_ssrc[b.ssrc] = b
            b.track.add_binding(b)
            b.track.request_keyframe()
        p.negotiating = False
        if p.resync:
            p.resync = False
            self.sfu.spawn(self.sfu.router.sync(room, p))

    def release(self, p: Participant) -> None:
        """Stop forwarding anything to the participant (it is leaving)."""
        if p.worker is not None:
            p.worker.leave(p)
        for binding in list(p.bindings.values()):
            binding.track.remove_binding(binding)
        p.bindings.clear()

    def _wrap_transports(self, p: Participant, pc: RTCPeerConnection) -> None:
        assert p.subscribe_demux is not None
        for transceiver in pc.getTransceivers():
            dtls = transceiver.receiver.transport
            if p.subscribe_transport is None or p.subscribe_transport.dtls is not dtls:
                p.subscribe_transport = Transport(
                    dtls, p.subscribe_demux.on_rtp, p.subscribe_demux.on_rtcp, self.sfu.counters
                )
                p.subscribe_transport.on_ready.append(lambda: self._on_ready(p))

    def _on_ready(self, p: Participant) -> None:
        # DTLS just came up: whatever video is bound needs a key frame to start decoding.
        for b in p.bindings.values():
            b.track.request_keyframe()

    def _new_slot(self, pc: RTCPeerConnection, p: Participant, track: SourceTrack) -> OutSlot:
        transceiver = pc.addTransceiver(track.kind, direction="sendonly")
        internals.silence_sender(transceiver)
        codec = track.codec
        capabilities = RTCRtpReceiver.getCapabilities(track.kind)
        chosen = match_capability(capabilities.codecs if capabilities else [], codec)
        if chosen is not None:
            # Offer exactly the publisher's codec so no subscriber needs a transcode; no RTX (we resend
            # NACKed packets on the primary SSRC, RFC 4585 style).
            transceiver.setCodecPreferences([chosen])
        # The page can also find the owner from the msid (stream id = user id).
        internals.set_sender_stream_id(transceiver.sender, track.owner)
        slot = OutSlot(transceiver, track.kind, codec, cname=f"ieum-{p.user}")
        p.slots.append(slot)
        return slot

    def _unbind(self, p: Participant, binding: Binding) -> None:
        binding.track.remove_binding(binding)
        binding.slot.binding = None
        p.bindings.pop(binding.track.id, None)
        if p.subscribe_demux is not None:
            p.subscribe_demux.by_ssrc.pop(binding.ssrc, None)

    def _track_map(self, room: Room, p: Participant) -> list[dict[str, Any]]:
        out = []
        for slot in p.slots:
            b = slot.binding
            if b is None or slot.mid is None:
                continue
            out.append(
                {
                    "mid": slot.mid,
                    "user": b.track.owner,
                    "name": b.track.owner_name,
                    "kind": "gallery" if b.track.gallery else b.track.source,
                }
            )
        return out


# --- codec and SDP helpers -------------------------------------------------------------------------


def negotiated_pt(transceiver: RTCRtpTransceiver, default: int) -> int:
    """The payload type negotiated for a transceiver's (first) codec, or ``default`` before negotiation."""
    codecs = internals.negotiated_codecs(transceiver)
    pt = codecs[0].payloadType if codecs else None
    return default if pt is None else pt


def codec_of(params: RTCRtpCodecParameters) -> Codec:
    """The forwarding path's view of a negotiated codec."""
    if params.payloadType is None:
        raise ValueError("codec without a payload type")
    return Codec(
        mime_type=params.mimeType,
        clock_rate=params.clockRate,
        channels=params.channels,
        parameters=tuple(sorted((str(k), str(v)) for k, v in params.parameters.items())),
        payload_type=params.payloadType,
    )


def match_capability(caps: list[RTCRtpCodecCapability], codec: Codec) -> RTCRtpCodecCapability | None:
    """The SFU's codec capability that is the publisher's codec (for H.264: same mode and profile)."""
    same = [c for c in caps if c.mimeType.lower() == codec.mime_type.lower()]
    if codec.name.lower() == "h264":
        want = dict(codec.parameters)
        mode = want.get("packetization-mode", "0")
        profile = want.get("profile-level-id", "42e01f").lower()[:4]
        for c in same:
            if (
                str(c.parameters.get("packetization-mode")) == mode
                and str(c.parameters.get("profile-level-id", "")).lower()[:4] == profile
            ):
                return c
    return same[0] if same else None


_MLINE = re.compile(r"^m=(\w+) (\d+) ")


def sending_media(sdp: str) -> list[tuple[str, str]]:
    """(mid, kind) of every audio/video m-line the offerer sends on; ValueError if the SDP is not SDP."""
    lines = sdp.replace("\r\n", "\n").split("\n")
    if not lines or not lines[0].startswith("v=0"):
        raise ValueError("not an SDP document")
    if not any(_MLINE.match(line) for line in lines):
        raise ValueError("SDP has no media sections")
    out: list[tuple[str, str]] = []
    kind: str | None = None
    mid = ""
    direction = "sendrecv"
    rejected = False

    def flush() -> None:
        if kind in ("audio", "video") and not rejected and direction in ("sendrecv", "sendonly"):
            out.append((mid, kind))

    for line in lines:
        m = _MLINE.match(line)
        if m:
            flush()
            kind, rejected, mid, direction = m.group(1), m.group(2) == "0", "", "sendrecv"
        elif line.startswith("a=mid:"):
            mid = line[6:].strip()
        elif line.strip() in ("a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive"):
            direction = line.strip()[2:]
    flush()
    return out
