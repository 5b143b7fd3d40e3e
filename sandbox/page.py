"""The emulator page: one jinja2 template, one script, one stylesheet; no build step, no CDN."""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
from aiohttp import web

from sandbox.org import Person
from sandbox.wire import SETTINGS, WORLD

WEB = Path(__file__).resolve().parent / "web"
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(WEB / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)


async def index(request: web.Request) -> web.Response:
    """``GET /sandbox/``: the chat client; everything after the first paint is the JSON API."""
    directory = request.app[WORLD].directory
    settings = request.app[SETTINGS]
    boot = {
        "startPerson": start_person(directory.people, settings.start_person),
        "schedule": settings.bot_view is not None,
        "quietRule": settings.bot_view.quiet_rule() if settings.bot_view is not None else "",
        "people": [p.to_dict() for p in directory.people],
        "groups": [g.to_dict() for g in directory.groups],
        "botName": request.app[SETTINGS].bot_name,
    }
    html = _env.get_template("index.html").render(
        people=directory.people, bot_name=request.app[SETTINGS].bot_name,
        # "</" cannot end the script block early once escaped like this.
        boot_json=json.dumps(boot, ensure_ascii=False).replace("</", "<\\/"),
    )
    return web.Response(text=html, content_type="text/html", charset="utf-8")


def start_person(people: list[Person], wanted: str | None) -> str:
    """Who the page opens as: the configured person, else the first referrer (the README's
    walk-through starts with a store manager referring someone), else the first person."""
    ids = [p.id for p in people]
    if wanted in ids:
        return str(wanted)
    referrer = next((p.id for p in people if "referrer" in p.roles), None)
    return referrer or (ids[0] if ids else "")


async def favicon(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(WEB / "static" / "favicon.svg",
                            headers={"Content-Type": "image/svg+xml"})


async def to_page(request: web.Request) -> web.Response:
    raise web.HTTPFound("/sandbox/")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", to_page)
    app.router.add_get("/sandbox", to_page)
    app.router.add_get("/sandbox/", index)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_static("/sandbox/static/", WEB / "static")
