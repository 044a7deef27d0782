"""The review app in a real headless chromium against a real server: keyboard-only review,
guide editing, the class slider, export; results checked in the database and the exported files."""

import json
import re

import pytest

from bagel.review.store import ReviewStore
from review_world import CLASSES, MODEL, val_key

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(base_url=server.url, accept_downloads=True)
    p = ctx.new_page()
    errors = []
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.errors = errors
    yield p
    ctx.close()


def login_by_keyboard(page, name):
    page.goto("/")
    page.wait_for_url(re.compile(r"/login"))
    page.keyboard.type(name)  # the name field has focus
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/$"))


def current_key(page):
    return page.locator("#review").get_attribute("data-key")


def press_and_wait_for_new_item(page, key):
    old = current_key(page)
    page.keyboard.press(key)
    page.wait_for_function("old => document.getElementById('review') && document.getElementById('review').dataset.key !== old", arg=old)


def test_keyboard_review_guides_slider_export(page, server, ws, tmp_path):
    login_by_keyboard(page, "alice")
    page.goto(f"/review/{MODEL}")
    assert current_key(page) == val_key(0)
    assert page.locator("#progress").inner_text().replace("\n", " ") == "reviewed 0 / 14"
    assert "spurious" in page.locator("#shortcuts").inner_text()  # every action's key is listed
    assert page.locator("#main-image").evaluate("img => img.complete && img.naturalWidth > 0")

    # 1: wrong, minor, spurious, problematic, with a note typed after `m`
    page.keyboard.press("2")
    page.keyboard.press("s")
    page.keyboard.press("p")
    page.keyboard.press("m")
    page.keyboard.type("dog <script>alert(1)</script> in a bakery")
    page.keyboard.press("Escape")
    press_and_wait_for_new_item(page, "w")
    assert current_key(page) == val_key(1)
    assert "reviewed 1 / 14" in page.locator("#progress").inner_text().replace("\n", " ")
    # 2: correct
    press_and_wait_for_new_item(page, "c")
    # 3: unclear, borderline, fine-grained OOV
    page.keyboard.press("3")
    page.keyboard.press("o")
    press_and_wait_for_new_item(page, "u")
    # 4: skip with j, then wrong on item 5 with major / fine-grained
    press_and_wait_for_new_item(page, "j")
    assert current_key(page) == val_key(4)
    page.keyboard.press("1")
    page.keyboard.press("f")
    press_and_wait_for_new_item(page, "w")
    assert current_key(page) == val_key(5)
    # undo the last save: back on item 5, which is unreviewed again
    press_and_wait_for_new_item(page, "z")
    assert current_key(page) == val_key(4)
    # previous goes back in the queue even through judged items
    press_and_wait_for_new_item(page, "k")
    assert current_key(page) == val_key(3)
    press_and_wait_for_new_item(page, "ArrowLeft")
    assert current_key(page) == val_key(2)
    assert "(saved: unclear)" in page.locator("#mine").inner_text()
    # zoom by keyboard
    page.keyboard.press("+")
    assert page.locator("#zoom-level").inner_text() == "150%"
    page.keyboard.press("0")

    store = ReviewStore.for_workspace(ws)
    mine = {r["key"]: r for r in store.current(MODEL, reviewer="alice")}
    assert set(mine) == {val_key(0), val_key(1), val_key(2)}
    assert (mine[val_key(0)]["verdict"], mine[val_key(0)]["severity"], mine[val_key(0)]["category"], mine[val_key(0)]["problematic"]) == ("wrong", "minor", "spurious", True)
    assert mine[val_key(0)]["note"] == "dog <script>alert(1)</script> in a bakery"
    assert (mine[val_key(1)]["verdict"], mine[val_key(1)]["severity"], mine[val_key(1)]["category"]) == ("correct", None, None)
    assert (mine[val_key(2)]["verdict"], mine[val_key(2)]["severity"], mine[val_key(2)]["category"]) == ("unclear", "borderline", "fine-grained-oov")
    hist4 = store.history(MODEL, val_key(4), reviewer="alice")
    assert [(h["action"], h["verdict"]) for h in hist4] == [("judge", "wrong"), ("undo", None)]

    # the note is shown as text, never run
    page.goto(f"/review/{MODEL}?key={val_key(0)}&status=all")
    assert page.locator("#note").input_value() == "dog <script>alert(1)</script> in a bakery"

    # the original class's guide, opened with `g`, edited in the page
    page.keyboard.press("g")
    page.wait_for_url(re.compile(r"/classes/" + CLASSES[0][0]))
    page.click("#guide-edit")
    page.fill("#guide-text", "## bagel\n\n- Ring shaped, **boiled** then baked.\n- <img src=x onerror=alert(1)> is text\n")
    page.click("#guide-save")
    page.wait_for_function("() => document.getElementById('guide-editor').hidden")
    assert page.locator("#guide-view strong").inner_text() == "boiled"
    assert page.locator("#guide-view img").count() == 0
    page.click("#guide-edit")
    page.fill("#guide-text", "## bagel\n\n- Ring shaped, boiled then baked; a bialy is not a bagel.\n")
    page.click("#guide-save")
    page.wait_for_function("() => document.getElementById('guide-editor').hidden")
    page.reload()
    assert "bialy" in page.locator("#guide-view").inner_text()
    assert "version 2 by alice" in page.locator("#guide-meta").inner_text()
    versions = store.guide_history(CLASSES[0][0])
    assert [(v["version"], v["author"]) for v in versions] == [(2, "alice"), (1, "alice")]
    page.click("text=history")
    assert page.locator("article.version").count() == 2

    # the class's training images with the slider (keyboard on the range input)
    page.goto(f"/classes/{CLASSES[1][0]}?split=train&n=3")
    assert page.locator("#slide-pos").inner_text() == "1 / 3"
    first = page.locator("#slide-key").inner_text()
    page.focus("#slider")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.locator("#slide-pos").inner_text() == "3 / 3"
    assert page.locator("#slide-key").inner_text() == f"{CLASSES[1][0]}/{CLASSES[1][0]}_2.png" != first
    page.wait_for_function("() => document.getElementById('slide-image').complete && document.getElementById('slide-image').naturalWidth > 0")
    # the evaluation split shows problematic status from the multi-label file
    page.goto(f"/classes/{CLASSES[3][0]}?split=val")
    assert page.locator("#slide-key").inner_text() == val_key(3)
    assert page.locator("#slide-problematic").inner_text() == "YES"

    # export alice's reviews from the page
    page.goto(f"/export/{MODEL}")
    page.select_option("#export-source", "alice")
    with page.expect_download() as d:
        page.click("#export-mistakes")
    mistakes = json.loads(open(d.value.path()).read())
    assert mistakes == {val_key(0): {"top_prediction": 1, "failure category": "Spurious Correlation", "failure severity": "Minor"}}
    with page.expect_download() as d:
        page.click("#export-multilabel")
    ml = json.loads(open(d.value.path()).read())
    assert sorted(ml["initial_annots"][val_key(1)]["correct"]) == sorted([CLASSES[1][0], CLASSES[2][0]])
    assert val_key(0) in ml["problematic_images"] and val_key(3) in ml["problematic_images"]
    assert page.errors == []  # no script error, no CSP violation of our own code


def test_a_page_on_another_site_cannot_post_verdicts(page, server, ws, tmp_path):
    """A logged-in reviewer visits an attacker's page (another origin) that tries a form POST and
    fetch() POSTs at the review server: nothing is stored."""
    import http.server
    import threading

    from review_world import free_port

    login_by_keyboard(page, "alice")
    target = f"{server.url}/api/review/{MODEL}/verdict"
    body = json.dumps({"key": val_key(0), "verdict": "wrong", "idem": "attack-000001"})
    (tmp_path / "evil.html").write_text(f"""<!doctype html><html><body>
<form id="f" method="post" action="{target}" enctype="text/plain" target="sink">
<input name='{body[:-1]}, "x": "' value='"}}'></form><iframe name="sink"></iframe>
<script>
window.results = [];
fetch("{target}", {{method: "POST", mode: "no-cors", credentials: "include", headers: {{"Content-Type": "text/plain"}}, body: '{body}'}})
  .then(() => results.push("no-cors sent"), e => results.push("no-cors " + e));
fetch("{target}", {{method: "POST", credentials: "include", headers: {{"Content-Type": "application/json"}}, body: '{body}'}})
  .then(r => results.push("cors " + r.status), e => results.push("cors blocked"));
document.getElementById("f").submit();
</script></body></html>""")
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **kw)
    port = free_port()
    evil = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://localhost:{port}/evil.html")  # localhost vs 127.0.0.1: another site
        page.wait_for_function("() => window.results && window.results.length == 2")
        assert "cors blocked" in page.evaluate("window.results")  # no CORS grant: the browser refuses
        page.wait_for_timeout(300)  # let the form post land (its outcome is checked in the database)
    finally:
        evil.shutdown()
    assert ReviewStore.for_workspace(ws).current(MODEL) == []
