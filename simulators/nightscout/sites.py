"""Many Nightscout sites in one process, on one port: for tests and benchmarks with thousands of
targets, where a server per site would cost a process or a port each.

A request reaches site ``<name>`` by path prefix, ``http://host:port/site/<name>/api/v3/...``
(the site sees ``/api/v3/...``), or, without the prefix, by a Host header whose first label is
the name (``<name>.sites.test:port``). Each site is its own application (the one
``NightscoutTestServer`` runs): its own API secret, subjects and tokens, documents, request
counters, faults and ``/__testserver/`` admin routes (behind its own API secret). Sites can be
added and removed while the server runs. A request for no known site gets a 404.

Paths the server writes back (``Location`` of a created document) are the site's own, without
the prefix, as a Nightscout behind a path-stripping proxy writes them.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from yarl import URL

from nightstream.schemas.lifecycle import StartStop
from nightstream.simulators.nightscout.app import build_application
from nightstream.simulators.nightscout.server import bound_port, http_url
from nightstream.simulators.nightscout.site_control import SiteControl, site_settings

SITE_PREFIX = "/site/"
_SITE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
_SHUTDOWN_TIMEOUT_SECONDS = 1.0


class HostedSite(SiteControl):
    """One site of a ``MultiSiteTestServer``; ``url`` is its base URL (path prefix)."""

    def __init__(self, name: str, api_secret: str, server_url: str, **settings: Any) -> None:
        super().__init__(site_settings(api_secret, **settings))
        self.name = name
        self.url = f"{server_url}{SITE_PREFIX}{name}"
        self.application = build_application(self._state)
        self.application.freeze()

    async def handle(self, request: web.Request, path: str) -> web.StreamResponse:
        query = request.rel_url.raw_query_string
        relative = URL.build(path=path, query_string=query, encoded=True)
        # The site's own application routes and answers, with its own middlewares and state.
        return await self.application._handle(request.clone(rel_url=relative))


class MultiSiteTestServer(StartStop):
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._requested_port = port
        self._sites: dict[str, HostedSite] = {}
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("the server is not running; await start() first")
        return http_url(self._host, self._port)

    def add_site(self, name: str, api_secret: str, **settings: Any) -> HostedSite:
        """Host a new, empty site on the running server (``settings``: as
        ``NightscoutTestServer`` takes them)."""
        if not _SITE_NAME.match(name):
            raise ValueError(f"site name {name!r}: 1-63 letters, digits, '-' or '_'")
        if name in self._sites:
            raise ValueError(f"site {name!r} already exists")
        site = HostedSite(name, api_secret, self.url, **settings)
        self._sites[name] = site
        return site

    def remove_site(self, name: str) -> None:
        site = self._sites.pop(name)
        site.let_go()

    def site(self, name: str) -> HostedSite:
        return self._sites[name]

    @property
    def sites(self) -> dict[str, HostedSite]:
        return dict(self._sites)

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("the server is already running")
        root = web.Application()
        root.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(root, shutdown_timeout=_SHUTDOWN_TIMEOUT_SECONDS, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, self._host, self._requested_port).start()
        self._runner = runner
        self._port = bound_port(runner)

    async def stop(self) -> None:
        if self._runner is None:
            return
        for site in self._sites.values():
            site.let_go()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.rel_url.raw_path
        if path.startswith(SITE_PREFIX):
            name, _, rest = path[len(SITE_PREFIX) :].partition("/")
            path = "/" + rest
        else:
            name = request.host.split(":", 1)[0].split(".", 1)[0]
        site = self._sites.get(name)
        if site is None:
            message = f"no site named {name!r} on this server"
            return web.json_response({"status": 404, "message": message}, status=404)
        return await site.handle(request, path)
