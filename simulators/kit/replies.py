"""What a simulated vendor answers, before aiohttp sends it: status, body, type, headers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from aiohttp import web

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"

_REASONS = {
    200: "OK",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    content_type: str = JSON_CONTENT_TYPE
    headers: dict[str, str] = field(default_factory=dict)


def compact_json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def json_reply(value: object, status: int = 200) -> Reply:
    return Reply(status, compact_json(value))


def html_page(status: int) -> bytes:
    """The kind of page a load balancer or Cloudflare answers with: not the vendor's JSON."""
    title = f"{status} {_REASONS.get(status, 'Error')}"
    return (
        f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center>"
        "<hr><center>cloudflare</center></body></html>"
    ).encode()


def html_reply(status: int) -> Reply:
    return Reply(status, html_page(status), HTML_CONTENT_TYPE)


def to_response(reply: Reply) -> web.Response:
    response = web.Response(status=reply.status, body=reply.body, headers=reply.headers)
    response.headers["Content-Type"] = reply.content_type
    return response
