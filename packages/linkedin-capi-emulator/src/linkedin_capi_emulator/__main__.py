"""CLI: ``python -m linkedin_capi_emulator`` / ``linkedin-capi-emulator``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from .app import DEFAULT_TOKEN, Emulator


def _pair(value: str) -> tuple[int, int]:
    account, sep, campaign = value.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected ACCOUNT:CAMPAIGN, got {value!r}")
    return int(account), int(campaign)


def _rule(value: str) -> tuple[int, str, str]:
    account, _, rest = value.partition(":")
    name, sep, rule_type = rest.rpartition(":")
    if not sep or not name or not account.isdigit():
        raise argparse.ArgumentTypeError(f"expected ACCOUNT:NAME:TYPE, got {value!r}")
    return int(account), name, rule_type


def _client(value: str) -> tuple[str, str]:
    client_id, sep, secret = value.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected ID:SECRET, got {value!r}")
    return client_id, secret


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser."""
    p = argparse.ArgumentParser(
        prog="linkedin-capi-emulator", description="Local LinkedIn Conversions API emulator."
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8787, help="0 = any free port")
    p.add_argument("--token", action="append", help=f"valid access token (default {DEFAULT_TOKEN})")
    p.add_argument(
        "--account", action="append", type=int, help="ad account id (default 5010001 and 5010002)"
    )
    p.add_argument("--campaign", action="append", type=_pair, metavar="ACCOUNT:CAMPAIGN")
    p.add_argument(
        "--rule", action="append", type=_rule, metavar="ACCOUNT:NAME:TYPE",
        help="pre-existing enabled CONVERSIONS_API rule",
    )  # fmt: skip
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--active-version", action="append", metavar="YYYYMM")
    p.add_argument("--oauth-client", action="append", type=_client, metavar="ID:SECRET")
    p.add_argument("--refresh-token", action="append")
    p.add_argument("--rotate-refresh-tokens", action="store_true")
    p.add_argument("--rate-limit-per-minute", type=int)
    p.add_argument("--finder-page-size", type=int)
    p.add_argument("--ready-file", help="write the base URL here once listening")
    return p


def _emulator_from_args(args: argparse.Namespace) -> Emulator:
    campaigns: dict[int, list[int]] | None = None
    if args.campaign:
        campaigns = {}
        for account, campaign in args.campaign:
            campaigns.setdefault(account, []).append(campaign)
    return Emulator(
        host=args.host,
        port=args.port,
        tokens=args.token,
        accounts=args.account,
        campaigns=campaigns,
        latency_seconds=args.latency_ms / 1000.0,
        active_versions=args.active_version,
        oauth_clients=dict(args.oauth_client) if args.oauth_client else None,
        refresh_tokens=args.refresh_token,
        rotate_refresh_tokens=args.rotate_refresh_tokens,
        rate_limit_per_minute=args.rate_limit_per_minute,
        finder_page_size=args.finder_page_size,
        rules=[{"account": a, "name": n, "type": t} for a, n, t in args.rule or []],
    )


def _write_ready_file(path: str, url: str) -> None:
    # Write then rename so a polling reader never sees a half-written file.
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(url)
    os.replace(tmp, path)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until SIGINT/SIGTERM."""
    args = build_parser().parse_args(argv)
    emulator = _emulator_from_args(args).bind()
    url = emulator.url
    # The socket is already listening (connections queue in the backlog), so both signals are
    # truthful before the serve loop starts. The file first: whoever reads the line can use it.
    if args.ready_file:
        _write_ready_file(args.ready_file, url)
    print(
        f"LinkedIn emulator listening on {url}/rest "
        f"(OAuth: {url}/oauth/v2/accessToken; control: {url}/_emulator)",
        flush=True,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
