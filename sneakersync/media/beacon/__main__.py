"""Try the beacon without a sneakersync home: ``python -m sneakersync.media.beacon``.

Uses DEMO identities derived from a name (anyone can derive them: for trying the
radio only, never for real devices).  The real commands are
``sneakersync beacon advertise|scan``.

    python -m sneakersync.media.beacon advertise --transport tcp-client:127.0.0.1:9001 \\
        --as alice --data-for bob --server-data
    python -m sneakersync.media.beacon scan --transport tcp-client:127.0.0.1:9002 \\
        --as bob --peer alice --timeout 3 --json
"""

from __future__ import annotations

import argparse
import json
import sys

from sneakersync.errors import SneakersyncError
from sneakersync.media.beacon.virtual import demo_identity, demo_peer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sneakersync.media.beacon", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for cmd in ("advertise", "scan"):
        p = sub.add_parser(cmd)
        p.add_argument("--transport", default="usb:0", help="bumble transport spec (default usb:0)")
        p.add_argument("--as", dest="me", default="alice", help="demo identity name")
    adv = sub.choices["advertise"]
    adv.add_argument("--data-for", action="append", default=[], help="demo peer we hold data for")
    adv.add_argument("--server-data", action="store_true", help="set 'has data for the server'")
    adv.add_argument("--interval-ms", type=float, default=100)
    adv.add_argument("--duration", type=float, default=None, help="seconds (default: until Ctrl-C)")
    scan = sub.choices["scan"]
    scan.add_argument("--peer", action="append", default=[], help="demo peer we know")
    scan.add_argument("--timeout", type=float, default=3.0)
    scan.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from sneakersync.media.beacon.discovery import advertise_forever, scan_nearby
    me = demo_identity(args.me)
    try:
        if args.command == "advertise":
            print(f"advertising as demo device {args.me!r} on {args.transport} (Ctrl-C to stop)",
                  file=sys.stderr, flush=True)
            advertise_forever(args.transport, me, data_for=[demo_peer(n) for n in args.data_for],
                              has_data_for_server=args.server_data,
                              interval_ms=args.interval_ms, duration=args.duration)
            return 0
        found = scan_nearby(args.transport, me, [demo_peer(n) for n in args.peer], args.timeout)
    except SneakersyncError as exc:
        print(f"sneakersync: error: {exc}", file=sys.stderr)
        for hint in exc.hints:
            print(f"hint: {hint}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print(json.dumps([n.to_json() for n in found], indent=2))
    else:
        for n in found:
            tick = " (verified)" if n.verified else ""
            hints = f"  [{', '.join(n.hints)}]" if n.hints else ""
            print(f"{n.name}{tick}  {n.rssi} dBm  x{n.sightings}{hints}")
        if not found:
            print("no sneakersync devices nearby")
    return 0


if __name__ == "__main__":
    sys.exit(main())
