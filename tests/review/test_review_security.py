"""Everything here must be refused: path traversal, script injection, writes without a token in
token mode, cross-site request forgery. Real server on loopback, real files."""

import os

import httpx

from bagel.cli import main as bagel_main
from bagel.data.imageset import ImageSet
from bagel.review.app import create_app
from bagel.review.store import ReviewStore
from review_world import MODEL, ServerThread, free_port, login, val_key

VERDICT = {"key": val_key(0), "verdict": "wrong", "idem": "csrf-test-0001"}


def test_images_never_leave_their_roots(client, ws, tmp_path):
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"\xff\xd8TOP SECRET")
    root = tmp_path / "evil_root"
    root.mkdir()
    (root / "ok.jpg").write_bytes((ws.root / "images" / "val" / val_key(0)).read_bytes())
    os.symlink(secret, root / "link.jpg")
    os.symlink(tmp_path, root / "dirlink")
    paths = ["../secret.jpg", str(secret), "link.jpg", "dirlink/secret.jpg", "ok.jpg", "sub/../../secret.jpg", ""]
    keys = [f"k{i}" for i in range(len(paths))]
    ImageSet(keys, [0] * len(paths), paths, root, "evil").save(ws)
    for k in keys:
        for size in ("full", "thumb", "medium"):
            r = client.get("/img/evil", params={"key": k, "size": size})
            if k == "k4":
                assert r.status_code == 200
            else:
                assert r.status_code == 404, (k, size)
                assert b"SECRET" not in r.content
    for url in ["/img/val?key=../../../../etc/passwd", "/img/val?key=..%2F..%2F..%2Fetc%2Fpasswd", "/img/val?key=%2Fetc%2Fpasswd",
                "/img/..%2F..%2Fetc?key=passwd", "/img/val?key=" + val_key(0) + "%00.png", "/img/val?key=" + val_key(0) + "&size=../../x",
                "/static/..%2F..%2F..%2Fstore.py", "/static/../store.py"]:
        r = client.get(url)
        assert r.status_code in (404, 422), url
        assert b"root:" not in r.content and b"ReviewStore" not in r.content
    assert client.get("/img/val", params={"key": val_key(0)}).headers["content-type"] == "image/jpeg"


def test_script_injection_in_guides_and_notes_is_inert(client, ws):
    evil = ("<script>alert('guide')</script>\n\n[click](javascript:alert(1))\n\n<img src=x onerror=alert(2)>\n\n"
            "![x](javascript:alert(3)) **bold**")
    r = client.post("/api/classes/n07693725/guide", json={"body": evil, "base_version": 0}, headers={"X-CSRF-Token": client.csrf})
    assert r.status_code == 200
    for html in (r.json()["html"], client.get("/classes/n07693725").text, client.get("/classes/n07693725/history").text):
        assert "<script>alert" not in html and "<img src=x" not in html
        assert 'href="javascript:' not in html and 'src="javascript:' not in html  # such links stay plain text
        assert "&lt;script&gt;" in html and "<strong>bold</strong>" in html
    note = '"><script>alert("note")</script>'
    r = client.post(f"/api/review/{MODEL}/verdict", json={**VERDICT, "note": note}, headers={"X-CSRF-Token": client.csrf})
    assert r.status_code == 200
    page = client.get(f"/review/{MODEL}", params={"key": val_key(0)})
    assert '<script>alert("note")' not in page.text and "&lt;script&gt;alert(" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["x-frame-options"] == "DENY"


def test_csrf_defences(client, server):
    url = f"/api/review/{MODEL}/verdict"
    ok = {"X-CSRF-Token": client.csrf}
    assert client.post(url, json=VERDICT).status_code == 403  # no token
    assert client.post(url, json=VERDICT, headers={"X-CSRF-Token": "0" * 40}).status_code == 403
    assert client.post(url, data={"key": val_key(0), "verdict": "wrong"}, headers=ok).status_code == 415  # an HTML form's body
    assert client.post(url, content=b'{"key": "x"}', headers={**ok, "Content-Type": "text/plain"}).status_code == 415
    assert client.post(url, json=VERDICT, headers={**ok, "Origin": "http://evil.example"}).status_code == 403
    assert client.post(url, json=VERDICT, headers={**ok, "Origin": "null"}).status_code == 403
    assert client.post(url, json=VERDICT, headers={**ok, "Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert client.put(url, json=VERDICT, headers=ok).status_code == 405
    with httpx.Client(base_url=server.url) as other:  # a token from another session does not fit this one
        other_csrf = other.get("/api/session").json()["csrf"]
    assert client.post(url, json=VERDICT, headers={"X-CSRF-Token": other_csrf}).status_code == 403
    # a request from another site through DNS rebinding names another host
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
    assert ReviewStore.for_workspace(server_ws(server)).current(MODEL) == []  # nothing got through
    r = client.post(url, json=VERDICT, headers={**ok, "Origin": server.url, "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 200
    login_cookie = httpx.Client(base_url=server.url).get("/login").headers["set-cookie"]
    assert "HttpOnly" in login_cookie and "SameSite=Lax" in login_cookie


def server_ws(server):
    return server.server.config.app.state.ctx.ws


def test_token_mode_refuses_writes_without_a_valid_token(ws):
    store = ReviewStore.for_workspace(ws)
    token = store.add_reviewer("alice", with_token=True)
    bob_token = store.add_reviewer("bob", with_token=True)
    app = create_app(ws, require_tokens=True, store=store)  # what a non-loopback bind turns on
    url = f"/api/review/{MODEL}/verdict"
    with ServerThread(app) as s, httpx.Client(base_url=s.url) as c:
        csrf = c.get("/api/session").json()["csrf"]
        assert c.post(url, json=VERDICT, headers={"X-CSRF-Token": csrf}).status_code == 401
        assert c.post(url, json=VERDICT, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get(f"/api/review/{MODEL}/next").status_code == 401
        assert c.get("/img/val", params={"key": val_key(0)}).status_code == 401
        assert c.get("/").status_code == 303
        # loopback-style login by name alone, a wrong token, another reviewer's token: refused
        for body in ({"name": "alice"}, {"name": "alice", "token": "nope"}, {"name": "alice", "token": bob_token},
                     {"name": "mallory", "token": token}):
            assert c.post("/api/login", json=body, headers={"X-CSRF-Token": csrf}).status_code == 401
        assert store.current(MODEL) == []
        r = c.post(url, json=VERDICT, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        csrf = login(c, "alice", token)
        assert c.post(url, json={**VERDICT, "idem": "csrf-test-0002"}, headers={"X-CSRF-Token": csrf}).status_code == 200
        assert c.get("/", headers={"Host": "review.example.org"}).status_code == 200  # any host name in token mode
    assert [h["reviewer"] for h in store.history(MODEL)] == ["alice", "alice"]


def test_cli_refuses_a_network_address_without_tokens(ws, capsys):
    rc = bagel_main(["review", "-w", str(ws.root), "--host", "0.0.0.0", "--port", str(free_port())])
    assert rc == 2
    assert "refusing to listen on 0.0.0.0" in capsys.readouterr().err


def test_login_never_redirects_off_site(client):
    for bad in ("//evil.example/x", "/\\evil.example", "https://evil.example/", "javascript:alert(1)"):
        page = client.get("/login", params={"next": bad}).text
        assert 'data-next="/"' in page, bad
    assert 'data-next="/review/tinynet?key=a"' in client.get("/login", params={"next": "/review/tinynet?key=a"}).text
