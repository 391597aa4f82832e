"""``python -m webrtc``: run one SFU process."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from .config import SfuConfig
from .signalling import create_app


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
    web.run_app(create_app(config), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
