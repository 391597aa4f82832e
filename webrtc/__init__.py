"""이음 live-class SFU: signalling, class rules, webhooks and the RTP forwarding path.

What the SFU agrees on with the app (join tokens, roles, webhooks) is in ``contracts``; the app never
imports this package, and this package never imports the app (``app``, ``courses``, Flask, SQLAlchemy).

Split by responsibility, as mediasoup (router, transports, producers/consumers) and LiveKit (receiver,
downtrack, forwarder, buffer) are:

``signalling``  the WebSocket protocol (its docstring is the reference), join handshake, message
                validation and dispatch, ``/healthz``, ``/metrics``, ``create_app``
``sfu``         one process: rooms, the parts below, start/shutdown, a participant leaving
``config``      ``SfuConfig`` from the environment; ICE servers
``workers`` / ``worker`` / ``relay``  one SFU over several processes (``--workers K``): the coordinator's
                side, the relay worker process, and the control and media wire between them
``router``      who receives which track (the one fan-out decision)
``peers``       publisher and subscriber peer connections: transports, demux, tracks, slots, bindings
``forward``     the RTP/RTCP path after the handshake: per-track fan-out loop, NACK/PLI/SR/RR
``rtp``         the one RTP/RTCP/VP8/H.264 parser and the packet buffer and statistics
``classroom``   the class rules (lobby, stage, hands, mute, remove, chat, start/end, recording) and
                their webhooks
``room``        room and participant state; ``guards`` single-use tokens and rate limits
``roster``      who is told of whom, linear in the room: teachers batched deltas, students the teachers,
                the stage and a coalesced count
``recording`` / ``recorder``  what a recording takes in / writing it without decoding
``webhooks``    the signed, ordered, retried webhook sender
``metrics``     process measurements and the ``/metrics`` document
``internals``   every use of aiortc's, aioice's and pylibsrtp's private internals
``ice``         host-candidate restriction, NAT announcement, TURN credentials
``server``      the former all-in-one module, re-exporting the entry points
``client`` / ``loadtest``  a Python client for the tests and the load test
"""
