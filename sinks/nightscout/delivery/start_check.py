"""The sink's start: every site's token checked for the permissions its writes need.

A token that may not write (a read-only one, say) would otherwise be found out only at the
site's first write, which on a new install comes minutes later. So as the sink starts, each
site gets one JWT exchange (``NightscoutClient.check_at_start``), a bounded number at a time:
thousands of sites must neither open thousands of connections at once nor wait for each other
one by one. Each lane holds its writes until its own verdict:

- the token is refused or lacks a permission: the site stops alone, with one line naming
  what it lacks and what to do (and the sink exits 2 once no site is left);
- granted, or the site did not answer: it writes as usual (a site that is down is retried and
  parked by its lane, and its first write finds out about its token).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping

from nightstream.schemas.errors import TargetFatalError
from nightstream.sinks.nightscout.delivery.lane import SiteLane
from nightstream.sinks.nightscout.stopping import WriteStopped

logger = logging.getLogger(__name__)

CHECKS_AT_ONCE = 32
"""Sites checked at the same time. Half the process-wide request limit: the sites already
checked go on writing meanwhile."""

CHECK_SECONDS = 10.0
"""The longest one site's check may take: a site slow to answer (it is given the whole request
timeout, 30 s by default, for each write) would otherwise hold back the sites queued behind it.
It then writes as usual, and its first write finds out about its token."""

SiteCheck = Callable[[], Awaitable[bool]]
"""Raises ``TargetFatalError`` when the site refuses what the sink must do."""
Verdict = Callable[[str, str | None], Awaitable[None]]
"""``verdict(site, refusal)``: what the check found; ``refusal`` is None when it may write."""


def hold_lanes(lanes: Mapping[str, SiteLane]) -> Verdict:
    """Before any delivery: each lane waits for its verdict before its first write. Returns
    what gives a lane its verdict."""
    for lane in lanes.values():
        lane.hold_until_checked()

    async def verdict(site: str, refusal: str | None) -> None:
        await lanes[site].checked(refusal)

    return verdict


async def check_sites(
    checks: Mapping[str, SiteCheck],
    verdict: Verdict,
    *,
    at_once: int = CHECKS_AT_ONCE,
    check_seconds: float = CHECK_SECONDS,
) -> None:
    """Check every site of ``checks``, at most ``at_once`` at a time and each for at most
    ``check_seconds``, and give each site its ``verdict`` as soon as it has one."""
    names = iter(checks)
    refused: list[str] = []
    workers = [
        _checker(names, checks, verdict, refused, check_seconds)
        for _ in range(min(at_once, len(checks)))
    ]
    await asyncio.gather(*workers)
    logger.info("sink: %d site(s) checked at start, %d refused", len(checks), len(refused))


async def _checker(
    names: Iterator[str],
    checks: Mapping[str, SiteCheck],
    verdict: Verdict,
    refused: list[str],
    check_seconds: float,
) -> None:
    # One iterator for every worker: each site is taken by exactly one of them.
    for name in names:
        refusal: str | None = None
        try:
            async with asyncio.timeout(check_seconds):
                await checks[name]()
        except TimeoutError:
            pass  # slow to answer: it writes as usual
        except TargetFatalError as exc:
            refusal = exc.user_message
            refused.append(name)
        except WriteStopped:
            pass  # the sink is stopping; the lane ends without writing
        except Exception:  # a defect in one site's check must not hold the others back
            logger.exception("target %s: the permission check failed; writing anyway", name)
        await verdict(name, refusal)
