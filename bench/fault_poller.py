"""The poller as a process of its own on an accelerated clock that another process shares.

    python -m bench.fault_poller --config FILE --speed 144 --start-ms MS --anchor-ms MS \
                                 [--instance-id NAME]

``nightstream poll`` runs on the wall clock. The fault run (``bench/fault_run.py``) needs a
poller it can SIGKILL while it polls a simulator that lives in another process, both on the
same simulated day. Both therefore derive "now" from the wall clock the same way
(:class:`WallAnchoredClock`): simulated ``start_ms`` at wall time ``anchor_ms``, ``speed``
simulated milliseconds per real one. The poller is built by ``build_poller``, told the clock's
speed, so a link polls every 5 simulated minutes, not every 5 real ones.

As ``nightstream poll`` does, it also joins the pollers' consumer group over the links topic
(``--instance-id``: static membership) and polls the links added there that the group gives it,
so several of these processes share the topic's links, each link polled by one at a time.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from nightstream.config import Settings, load_settings
from nightstream.roles import build_poller, links_role, run_roles
from nightstream.schemas.backoff import RetryPolicy
from nightstream.sources.runner import Poller, PollerOptions
from nightstream.sources.simclock import wall_clock_ms


class WallAnchoredClock:
    """``speed`` times real time, at ``start_ms`` when the wall clock read ``anchor_ms``.

    Unlike ``AcceleratedClock`` (anchored to its own process's monotonic clock), two processes
    given the same three numbers agree on "now".
    """

    def __init__(self, speed: float, start_ms: int, anchor_ms: int) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.start_ms = start_ms
        self.anchor_ms = anchor_ms

    def now_ms(self) -> int:
        return self.start_ms + int((wall_clock_ms() - self.anchor_ms) * self.speed)

    def wall_ms_at(self, simulated_ms: int) -> int:
        """The wall-clock time at which this clock reads ``simulated_ms``."""
        return self.anchor_ms + int((simulated_ms - self.start_ms) / self.speed)

    def __repr__(self) -> str:
        return f"WallAnchoredClock(speed={self.speed}, now_ms={self.now_ms()})"


def build_accelerated_poller(
    settings: Settings, clock: WallAnchoredClock, retry: RetryPolicy
) -> Poller:
    """``nightstream.roles.build_poller`` on ``clock`` (every link of ``settings``)."""
    options = PollerOptions(retry=retry, clock_speed=clock.speed)
    return build_poller(settings, options, clock=clock.now_ms)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fault_poller")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--speed", type=float, required=True)
    parser.add_argument("--start-ms", type=int, required=True, help="simulated ms at the anchor")
    parser.add_argument("--anchor-ms", type=int, required=True, help="wall-clock epoch ms")
    parser.add_argument("--instance-id", help="this instance's name in the pollers' group")
    parser.add_argument("--retry-base", type=float, default=0.2, help="real seconds")
    parser.add_argument("--retry-cap", type=float, default=2.0, help="real seconds")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = load_settings({}, args.config)
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("aiokafka", "httpx", "kafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    clock = WallAnchoredClock(args.speed, args.start_ms, args.anchor_ms)
    retry = RetryPolicy(base=args.retry_base, cap=args.retry_cap)
    poller = build_accelerated_poller(settings, clock, retry)
    links = links_role(settings, poller, args.instance_id, clock=clock.now_ms)
    run_roles({"poller": poller.run, "links": links})
    for link_id, status in poller.status.items():
        print(f"link {link_id}: {status.state}, {status.polls} poll(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
