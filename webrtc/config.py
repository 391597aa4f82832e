"""The SFU's settings: :class:`SfuConfig`, read from ``LMS_SFU_*`` / ``LMS_TURN_*`` / ``LMS_STUN_URLS`` and the
storage variables, and the ICE servers derived from them (the SFU's own, and what a joining browser is told).
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcconfiguration import RTCBundlePolicy

from . import ice

if TYPE_CHECKING:
    from media.storage import Storage

log = logging.getLogger(__name__)


@dataclass
class SfuConfig:
    """Settings of one SFU process, from the environment and the command line."""

    secret: str
    webhook_url: str | None = None
    public_ip: str | None = None
    ice_hosts: list[str] = field(default_factory=list)  # restrict ICE host candidates (e.g. 127.0.0.1)
    # ICE servers are configuration: with none set, none is used (no public STUN server is ever contacted).
    stun_urls: list[str] = field(default_factory=list)
    turn_urls: list[str] = field(default_factory=list)
    turn_secret: str | None = None
    heartbeat_s: float = 10.0
    join_timeout_s: float = 10.0
    remb_bps: int = 2_500_000
    rtcp_interval_s: float = 1.0
    # An empty room (its last participant left without the class ending) is kept this long, so a teacher alone
    # in it who reconnects finds it started, with its removals and recording (LMS_SFU_EMPTY_ROOM_GRACE_S).
    empty_room_grace_s: float = 120.0
    # Bearer token for /metrics (LMS_SFU_METRICS_TOKEN); without one, /metrics answers loopback clients only.
    metrics_token: str | None = None
    # Which SFU worker of this host this process is (LMS_SFU_WORKER_INDEX): the ``worker`` label of its metrics.
    worker_index: int = 0
    # SFU processes on this host (LMS_SFU_WORKERS / --workers): this one and K-1 relay workers (``workers.py``).
    workers: int = 1
    # One UDP port for every ICE connection of a process (LMS_SFU_UDP_PORT / --udp-port; worker i: the port + i);
    # 0: aioice's socket per connection on a random port. Needs the ICE host addresses (``udpmux.py``).
    udp_port: int = 0
    # Redis shared by every SFU process and node (LMS_REDIS_URL, as the app's): single-use tokens everywhere.
    redis_url: str | None = None
    # Where recordings go (media.storage: LMS_STORAGE=local|s3 and its settings); None: classes are not recorded.
    storage: Storage | None = None
    recording_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "ieum-sfu-recordings")

    def server_rtc_configuration(self) -> RTCConfiguration:
        """The SFU's own peer connections: the configured STUN servers only (a server needs no TURN)."""
        servers = [RTCIceServer(urls=url) for url in self.stun_urls]
        return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)

    def client_ice_servers(self, user_id: str) -> list[dict[str, Any]]:
        """What a joining browser is told to use: the STUN servers, and TURN with short-lived credentials."""
        servers: list[dict[str, Any]] = [{"urls": url} for url in self.stun_urls]
        if self.turn_urls:
            creds = ice.turn_credentials(self.turn_secret or self.secret, user_id)
            servers.append(
                {"urls": self.turn_urls, "username": creds["username"], "credential": creds["credential"]}
            )
        return servers

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> SfuConfig:
        """Read ``LMS_SFU_*`` / ``LMS_TURN_*`` variables; the secret is required."""
        env = dict(os.environ if environ is None else environ)
        secret = env.get("LMS_SFU_SECRET", "")
        if not secret:
            raise ValueError("LMS_SFU_SECRET is required")

        def split(name: str) -> list[str]:
            return [x.strip() for x in env.get(name, "").split(",") if x.strip()]

        return cls(
            secret=secret,
            webhook_url=env.get("LMS_SFU_WEBHOOK_URL") or None,
            public_ip=env.get("LMS_SFU_PUBLIC_IP") or None,
            ice_hosts=split("LMS_SFU_ICE_HOSTS"),
            stun_urls=split("LMS_STUN_URLS"),
            turn_urls=split("LMS_TURN_URLS"),
            turn_secret=env.get("LMS_TURN_SECRET") or None,
            metrics_token=env.get("LMS_SFU_METRICS_TOKEN") or None,
            worker_index=_index(env, "LMS_SFU_WORKER_INDEX"),
            workers=max(1, _index(env, "LMS_SFU_WORKERS")),
            udp_port=_index(env, "LMS_SFU_UDP_PORT", 65535),
            redis_url=env.get("LMS_REDIS_URL") or None,
            empty_room_grace_s=_seconds(env, "LMS_SFU_EMPTY_ROOM_GRACE_S", 120.0),
            storage=_storage_from_env(env),
            recording_dir=Path(
                env.get("LMS_SFU_RECORDING_DIR") or Path(tempfile.gettempdir()) / "ieum-sfu-recordings"
            ),
        )


def _index(env: dict[str, str], name: str, top: int = 1024) -> int:
    """A non-negative integer up to ``top`` from the environment (unset: 0); ValueError names the variable."""
    text = env.get(name, "").strip() or "0"
    if not text.isdigit() or int(text) > top:
        raise ValueError(f"{name} must be a whole number from 0 to {top}, not {text!r}")
    return int(text)


def check_udp_port(config: SfuConfig) -> str | None:
    """Why this configuration cannot use one UDP port per process, or None when it can (or does not ask)."""
    if not config.udp_port:
        return None
    if not 0 < config.udp_port <= 65535:
        return f"the UDP port must be from 1 to 65535 (0: a port per connection), not {config.udp_port}"
    if not config.ice_hosts:
        return "one UDP port (LMS_SFU_UDP_PORT) needs the ICE host addresses (LMS_SFU_ICE_HOSTS / --ice-host)"
    if config.udp_port + config.workers - 1 > 65535:
        return f"LMS_SFU_UDP_PORT {config.udp_port} + {config.workers - 1} workers is past port 65535"
    return None


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    """A duration in seconds from the environment (unset or empty: the default); ValueError names the variable."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {text!r}") from None
    if not 0 <= value < float("inf"):
        raise ValueError(f"{name} must be zero or more seconds, not {text!r}")
    return value


def _storage_from_env(env: dict[str, str]) -> Storage | None:
    """The recordings' storage, configured like the app's (LMS_STORAGE, LMS_STORAGE_DIR, LMS_S3_*)."""
    from media.storage import storage_from_config

    if not (env.get("LMS_STORAGE") or env.get("LMS_STORAGE_DIR")):
        log.warning("no LMS_STORAGE / LMS_STORAGE_DIR: live classes will not be recorded")
        return None
    return storage_from_config(env)
