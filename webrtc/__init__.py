"""이음 live-class SFU: signalling, join tokens, webhooks and the RTP forwarding path.

``webrtc.tokens`` and ``webrtc.webhooks`` are imported by the app and stay free of aiortc; import
``webrtc.server`` only in the SFU process.
"""
