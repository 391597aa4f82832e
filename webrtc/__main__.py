"""``python -m webrtc``: run one SFU process."""

from __future__ import annotations

import argparse
import logging
import resource

from aiohttp import web

from .config import SfuConfig, check_udp_port
from .signalling import create_app

# Per participant the SFU holds a WebSocket, up to two UDP sockets and a descriptor the C fan-out dup()s: at
# 1,000 people that is past the usual soft limit of 1,024 open files.
WANTED_FILES = 65536


def raise_file_limit(wanted: int = WANTED_FILES) -> int:
    """Raise this process's open-file soft limit towards ``wanted`` (up to the hard limit); the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, read the environment and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m webrtc", description="이음 live-class SFU")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument(
        "--ice-host",
        action="append",
        default=[],
        help="offer ICE host candidates only on this address (repeatable; env LMS_SFU_ICE_HOSTS)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="SFU processes: this one and N-1 relay workers holding subscribers (one per core; env LMS_SFU_WORKERS)",
    )
    parser.add_argument(
        "--udp-port",
        type=int,
        default=None,
        help="one UDP port for all ICE traffic of this process (worker i: the port + i; env LMS_SFU_UDP_PORT)",
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = SfuConfig.from_env()
    except ValueError as exc:
        parser.error(str(exc))
    if args.ice_host:
        config.ice_hosts = args.ice_host
    if args.workers is not None:
        if not 1 <= args.workers <= 64:
            parser.error("--workers must be from 1 to 64")
        config.workers = args.workers
    if args.udp_port is not None:
        config.udp_port = args.udp_port
    problem = check_udp_port(config)
    if problem:
        parser.error(problem)
    files = raise_file_limit()
    if files < 4 * 1000:
        logging.getLogger("webrtc").warning("open-file limit is %d: fewer than 1,000 participants fit", files)
    web.run_app(create_app(config), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
