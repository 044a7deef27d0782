"""The review web app: thin routes over `ReviewContext` / `ReviewStore` / export, server-rendered
pages (Jinja2, autoescaped) and a small JSON API the page scripts call.

`create_app(ws)` builds it; `bagel review` serves it with uvicorn. Security lives in
`bagel.review.security` and is applied by one middleware to every request, so no route can forget
it; the middleware also adds the response headers (CSP and friends) and a ``Server-Timing`` header
with the server's own time for the request.
"""

from __future__ import annotations

import time
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Optional
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup
from pydantic import BaseModel, Field
from starlette.datastructures import MutableHeaders

from bagel.errors import BagelError
from bagel.mistakes.taxonomy import CATEGORIES, CATEGORY_TITLES, SEVERITIES, VERDICTS, Judgement
from bagel.review import agreement as agreement_mod
from bagel.review import export as export_mod
from bagel.review.images import NotServed
from bagel.review.items import ReviewContext
from bagel.review.queue import STATUSES, check_model, model_names, step
from bagel.review.security import COOKIE, Caller, Guard, Refused, is_loopback
from bagel.review.store import Conflict, ReviewStore

HERE = Path(__file__).resolve().parent
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"), (b"x-frame-options", b"DENY"),
                    (b"cross-origin-opener-policy", b"same-origin"), (b"cross-origin-resource-policy", b"same-origin")]
SHORTCUTS = [("c", "verdict: correct (saves, next)"), ("w", "verdict: wrong (saves, next)"), ("u", "verdict: unclear (saves, next)"),
             ("p", "toggle problematic"), ("1 / 2 / 3", "severity major / minor / borderline"),
             ("f / o / s / n", "category fine-grained / fine-grained OOV / spurious / non-prototypical"),
             ("m", "write a note (Esc leaves it)"), ("j or →", "next item"), ("k or ←", "previous item"), ("z", "undo my last save"),
             ("+ / - / 0", "zoom in / out / reset"), ("g / h", "guide of the original / predicted class"), ("?", "show or hide these keys")]

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(["table", "strikethrough"])


def render_markdown(text: str) -> Markup:
    """Markdown to HTML with raw HTML disabled (escaped) and markdown-it's link validation (no
    javascript:/vbscript:/data: URLs), so a guide cannot inject script."""
    return Markup(_md.render(text or ""))


# ---- request bodies ---------------------------------------------------------------------------------
class VerdictIn(BaseModel):
    key: str = Field(max_length=500)
    verdict: str
    problematic: bool = False
    severity: Optional[str] = None
    category: Optional[str] = None
    note: str = Field("", max_length=10_000)
    idem: str = Field(min_length=8, max_length=100)


class UndoIn(BaseModel):
    idem: str = Field(min_length=8, max_length=100)


class ResolveIn(VerdictIn):
    pass


class GuideIn(BaseModel):
    body: str = Field(max_length=100_000)
    base_version: int = 0


class LoginIn(BaseModel):
    name: str = Field(max_length=40)
    token: Optional[str] = Field(None, max_length=200)


# ---- middleware -------------------------------------------------------------------------------------
class GuardMiddleware:
    """Host check, caller resolution, CSRF checks of every write, security headers, session
    cookie and Server-Timing, as one plain ASGI middleware (cheaper than BaseHTTPMiddleware)."""

    def __init__(self, app, guard: Guard):
        self.app = app
        self.guard = guard

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        state = scope.setdefault("state", {})
        try:
            self.guard.check_host(headers)
            cookie = SimpleCookie()
            try:
                cookie.load(headers.get("cookie", ""))
            except Exception:  # a malformed Cookie header is treated as none
                cookie = SimpleCookie()
            caller = self.guard.caller(headers, cookie[COOKIE].value if COOKIE in cookie else None)
            state["caller"] = caller
            if scope["method"] not in ("GET", "HEAD"):
                self.guard.check_write(scope["method"], headers, scope.get("scheme", "http"), caller)
        except Refused as e:
            resp = JSONResponse({"error": e.reason}, status_code=e.status)
            return await resp(scope, receive, self._wrap(send, t0, state))
        await self.app(scope, receive, self._wrap(send, t0, state))

    def _wrap(self, send, t0: float, state: dict):
        async def wrapped(message):
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS:
                    if k.decode() not in h:
                        h.append(k.decode(), v.decode())
                session = state.get("set_session")
                caller = state.get("caller")
                if session is None and caller is not None and caller.session.fresh and not caller.bearer:
                    session = caller.session
                if session is not None:
                    h.append("set-cookie", f"{COOKIE}={self.guard.encode(session)}; Path=/; HttpOnly; SameSite=Lax")
                h.append("server-timing", f"app;dur={(time.perf_counter() - t0) * 1000:.3f}")
            await send(message)
        return wrapped


# ---- the app ----------------------------------------------------------------------------------------
def create_app(ws, *, require_tokens: bool | None = None, host: str = "127.0.0.1", store: ReviewStore | None = None) -> FastAPI:
    """The review app for workspace ``ws``. ``require_tokens`` defaults to whether ``host`` is a
    non-loopback address; it can be forced on to test token mode on loopback."""
    require_tokens = (not is_loopback(host)) if require_tokens is None else require_tokens
    ctx = ReviewContext(ws, store)
    guard = Guard(ctx.store, require_tokens)
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"], default=True))
    env.filters["markdown"] = render_markdown
    env.filters["q"] = lambda s: quote(str(s), safe="")
    env.filters["when"] = lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else ""
    env.globals.update(VERDICTS=VERDICTS, SEVERITIES=SEVERITIES, CATEGORIES=CATEGORIES, CATEGORY_TITLES=CATEGORY_TITLES,
                       STATUSES=STATUSES, SHORTCUTS=SHORTCUTS, urlencode=urlencode, require_tokens=require_tokens)

    app = FastAPI(title="bagel review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ctx = ctx
    app.state.guard = guard
    app.add_middleware(GuardMiddleware, guard=guard)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def page(request: Request, name: str, status: int = 200, **kw) -> HTMLResponse:
        caller: Caller = request.state.caller
        html = env.get_template(name).render(request=request, me=caller.reviewer, csrf=guard.csrf_token(caller.session),
                                             models=model_names(ws), **kw)
        return HTMLResponse(html, status_code=status)

    async def me(request: Request) -> str:  # async: a sync dependency would cost a thread hop per request
        return guard.require_reviewer(request.state.caller)

    def is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/") or request.url.path.startswith("/img/")

    @app.exception_handler(Refused)
    def _refused(request: Request, e: Refused):
        if e.status == 401 and not is_api(request) and request.method == "GET":
            return RedirectResponse("/login?" + urlencode({"next": str(request.url.path) + ("?" + request.url.query if request.url.query else "")}), 303)
        return JSONResponse({"error": e.reason}, status_code=e.status)

    @app.exception_handler(BagelError)
    def _bagel_error(request: Request, e: BagelError):
        status = 404 if isinstance(e, NotServed) else 409 if isinstance(e, Conflict) else 400
        if is_api(request):
            return JSONResponse({"error": str(e)}, status_code=status) if not isinstance(e, NotServed) else Response(status_code=404)
        return page(request, "error.html", status=status, message=str(e))

    @app.get("/favicon.ico")
    def favicon():
        return Response(status_code=204)  # none, and no 404 noise in the browser console

    # ---- login ----------------------------------------------------------------------------------
    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/"):
        local = next.startswith("/") and not next.startswith("//") and "\\" not in next  # no open redirect
        return page(request, "login.html", next=next if local else "/",
                    reviewers=[r["name"] for r in ctx.store.reviewers()] if not require_tokens else [])

    @app.get("/api/session")
    def session(request: Request):
        c: Caller = request.state.caller
        return {"reviewer": c.reviewer, "csrf": guard.csrf_token(c.session), "tokens": require_tokens}

    @app.post("/api/login")
    def login(body: LoginIn, request: Request):
        s = guard.login(body.name, body.token)
        request.state.set_session = s
        return {"reviewer": s.reviewer, "csrf": guard.csrf_token(s)}

    @app.post("/api/logout")
    def logout(request: Request):
        request.state.set_session = guard.new_session()
        return {"reviewer": None}

    # ---- pages ----------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, who: str = Depends(me)):
        rows = []
        for m in model_names(ws):
            try:
                total = len(ctx.tables.get(m))
            except BagelError as e:
                rows.append({"model": m, "error": str(e)})
                continue
            rows.append({"model": m, "total": total, "reviewed": ctx.store.progress(who, m)})
        return page(request, "index.html", rows=rows)

    @app.get("/review/{model}", response_class=HTMLResponse)
    def review_page(request: Request, model: str, key: Optional[str] = None, cls: Optional[str] = None,
                    category: Optional[str] = None, severity: Optional[str] = None, status: Optional[str] = None,
                    reviewer: Optional[str] = None, who: str = Depends(me)):
        check_model(model)
        f = ctx.filters(cls, category, severity, status, reviewer)
        fq = f.query(ctx.vocabulary)
        if key is None:
            t = ctx.tables.get(model)
            first, _, n = step(ctx.store, t, f, who, None, 1)
            if first is not None:
                return RedirectResponse(f"/review/{quote(model)}?" + urlencode({**fq, "key": first}), 303)
            return page(request, "review_empty.html", model=model, filters=f, fq=fq, queue_size=n,
                        progress={"reviewed": ctx.store.progress(who, model), "total": len(t)},
                        reviewers=[r["name"] for r in ctx.store.reviewers()])
        item = ctx.item(model, key, who, f)
        return page(request, "review.html", item=item, model=model, filters=f, fq=fq, eval_split=ctx.dataset.imageset.split,
                    reviewers=[r["name"] for r in ctx.store.reviewers()])

    # The two hot endpoints are `async` on purpose: their work is ~1 ms of SQLite and dict
    # building, cheaper to run on the event loop than to hand to a worker thread, and with many
    # reviewers at once a pool of threads fighting over the GIL doubled their latency. Slow
    # requests (pages, exports, consensus) stay on the thread pool.
    @app.get("/api/review/{model}/next")
    async def next_item(model: str, after: Optional[str] = None, dir: int = Query(1, ge=-1, le=1), cls: Optional[str] = None,
                        category: Optional[str] = None, severity: Optional[str] = None, status: Optional[str] = None,
                        reviewer: Optional[str] = None, item: bool = True, who: str = Depends(me)):
        f = ctx.filters(cls, category, severity, status, reviewer)
        t = ctx.tables.get(check_model(model))
        key, pos, n = step(ctx.store, t, f, who, after, -1 if dir < 0 else 1)
        out = {"key": key, "position": pos, "queue_size": n}
        if key is not None and item:
            out["item"] = ctx.item(model, key, who, f)
        return JSONResponse(out)

    @app.get("/api/review/{model}/item")
    async def get_item(model: str, key: str, who: str = Depends(me)):
        return JSONResponse(ctx.item(check_model(model), key, who, ctx.filters()))

    @app.post("/api/review/{model}/verdict")
    async def save_verdict(model: str, body: VerdictIn, who: str = Depends(me)):
        t = ctx.tables.get(check_model(model))
        i = t.index.get(body.key)
        if i is None:
            raise BagelError(f"image {body.key!r} is not among the mistakes of {model}")
        j = Judgement(body.verdict, body.problematic, body.severity or None, body.category or None, body.note)
        rec = ctx.store.record(who, model, body.key, j, prediction=int(t.predictions[i]), idem=body.idem)
        return JSONResponse({"id": rec.id, "seq": rec.seq, "key": rec.key, "duplicate": rec.duplicate,
                             "progress": {"reviewed": ctx.store.progress(who, model), "total": len(t)}})

    @app.post("/api/review/{model}/undo")
    def undo(model: str, body: UndoIn, who: str = Depends(me)):
        rec = ctx.store.undo(who, check_model(model), idem=body.idem)
        return {"key": rec.key if rec else None, "seq": rec.seq if rec else None, "duplicate": bool(rec and rec.duplicate)}

    @app.get("/api/review/{model}/history")
    def history(model: str, key: str, who: str = Depends(me)):
        return [{k: v for k, v in r.items() if k != "idem"} for r in ctx.store.history(check_model(model), key)]

    # ---- class browser --------------------------------------------------------------------------
    @app.get("/classes", response_class=HTMLResponse)
    def classes(request: Request, q: str = "", who: str = Depends(me)):
        v = ctx.vocabulary
        hits = v.find(q)[:200] if q.strip() else []
        guided = set(ctx.store.guided_classes())
        return page(request, "classes.html", q=q, hits=[ctx.class_ref(c) for c in hits],
                    guided=[ctx.class_ref(c) for c in v.indices([g for g in sorted(guided) if g in set(v.ids)][:200])])

    @app.get("/classes/{class_id}", response_class=HTMLResponse)
    def class_page(request: Request, class_id: str, split: Optional[str] = None, n: int = Query(50, ge=1, le=1000),
                   offset: int = Query(0, ge=0), who: str = Depends(me)):
        c = ctx.class_index(class_id)
        split = split or ctx.dataset.imageset.split
        data = ctx.class_images(class_id, split, n, offset)
        return page(request, "class.html", cref=ctx.class_ref(c), guide=ctx.store.guide(class_id), data=data,
                    splits=ctx.splits(), split=split, n=n, offset=offset)

    @app.get("/api/classes/{class_id}/images")
    def class_images(class_id: str, split: str, n: int = Query(50, ge=1, le=1000), offset: int = Query(0, ge=0),
                     who: str = Depends(me)):
        return ctx.class_images(class_id, split, n, offset)

    @app.post("/api/classes/{class_id}/guide")
    def save_guide(class_id: str, body: GuideIn, who: str = Depends(me)):
        ctx.class_index(class_id)
        version = ctx.store.save_guide(class_id, body.body, who, body.base_version)
        return {"version": version, "html": str(render_markdown(body.body))}

    @app.get("/classes/{class_id}/history", response_class=HTMLResponse)
    def guide_history(request: Request, class_id: str, who: str = Depends(me)):
        c = ctx.class_index(class_id)
        return page(request, "guide_history.html", cref=ctx.class_ref(c), versions=ctx.store.guide_history(class_id))

    # ---- several reviewers ----------------------------------------------------------------------
    @app.get("/consensus/{model}", response_class=HTMLResponse)
    def consensus_page(request: Request, model: str, show: str = "open", who: str = Depends(me)):
        t = ctx.tables.get(check_model(model))
        cons = agreement_mod.consensus(ctx.store.current(model), ctx.store.resolutions(model))
        counts = {s: sum(1 for v in cons.values() if v["status"] == s) for s in ("unanimous", "majority", "open", "resolved")}
        items = [v for v in cons.values() if show == "all" or v["status"] == show or (show == "open" and v["status"] == "open")]
        items.sort(key=lambda v: v["key"])
        for v in items:
            i = t.index.get(v["key"])
            v["label"] = ctx.class_ref(int(t.labels[i])) if i is not None else None
            v["pred"] = ctx.class_ref(int(t.predictions[i])) if i is not None else None
        return page(request, "consensus.html", model=model, items=items[:500], n_items=len(items), counts=counts, show=show)

    @app.post("/api/consensus/{model}/resolve")
    def resolve(model: str, body: ResolveIn, who: str = Depends(me)):
        t = ctx.tables.get(check_model(model))
        i = t.index.get(body.key)
        j = Judgement(body.verdict, body.problematic, body.severity or None, body.category or None, body.note)
        rid = ctx.store.resolve(model, body.key, who, j, prediction=int(t.predictions[i]) if i is not None else None, idem=body.idem)
        return {"id": rid}

    @app.get("/agreement/{model}", response_class=HTMLResponse)
    def agreement_page(request: Request, model: str, people_only: bool = False, who: str = Depends(me)):
        t = ctx.tables.get(check_model(model))
        groups = {k: t.category[i] for k, i in t.index.items()}
        stats = agreement_mod.agreement(ctx.store.current(model), groups, exclude=("imported",) if people_only else ())
        return page(request, "agreement.html", model=model, stats=stats, people_only=people_only)

    @app.get("/api/agreement/{model}")
    def agreement_api(model: str, people_only: bool = False, who: str = Depends(me)):
        t = ctx.tables.get(check_model(model))
        groups = {k: t.category[i] for k, i in t.index.items()}
        return agreement_mod.agreement(ctx.store.current(model), groups, exclude=("imported",) if people_only else ())

    # ---- export -----------------------------------------------------------------------------------
    @app.get("/export/{model}", response_class=HTMLResponse)
    def export_page(request: Request, model: str, who: str = Depends(me)):
        check_model(model)
        return page(request, "export.html", model=model, reviewers=[r["name"] for r in ctx.store.reviewers()], ws_root=str(ws.root))

    def _download(data, filename: str) -> Response:
        import json
        return Response(json.dumps(data, indent=1, sort_keys=True), media_type="application/json",
                        headers={"content-disposition": f'attachment; filename="{filename}"'})

    @app.get("/api/export/{model}/mistakes.json")
    def export_mistakes(model: str, reviewer: Optional[str] = None, who: str = Depends(me)):
        data = export_mod.published_mistakes(ws, ctx.store, check_model(model), reviewer or None)
        return _download(data, f"{model}-{reviewer or 'consensus'}-mistakes.json")

    @app.get("/api/export/{model}/multilabel.json")
    def export_multilabel(model: str, reviewer: Optional[str] = None, who: str = Depends(me)):
        data, _ = export_mod.updated_multilabel(ws, ctx.store, check_model(model), reviewer or None)
        return _download(data, f"{model}-{reviewer or 'consensus'}-multilabel.json")

    # ---- images -----------------------------------------------------------------------------------
    @app.get("/img/{split}")
    def image(split: str, key: str, size: str = "full", who: str = Depends(me)):
        if size == "full":
            path, data, media = ctx.images.original(split, key)
            if path is not None:
                return FileResponse(path, media_type=media, headers={"cache-control": "private, max-age=3600"})
            return Response(data, media_type=media)
        return FileResponse(ctx.images.thumbnail(split, key, size), media_type="image/jpeg",
                            headers={"cache-control": "private, max-age=3600"})

    return app
