import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from review_world import ServerThread, build_workspace  # noqa: E402

BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-sync"]


@pytest.fixture
def ws(tmp_path):
    return build_workspace(tmp_path / "ws")


@pytest.fixture
def server(ws):
    from bagel.review.app import create_app

    with ServerThread(create_app(ws)) as s:
        yield s


@pytest.fixture
def client(server):
    """An httpx client logged in as alice, with her CSRF token as ``client.csrf``."""
    import httpx

    from review_world import login

    with httpx.Client(base_url=server.url) as c:
        c.csrf = login(c, "alice")
        yield c


@pytest.fixture(scope="session")
def browser():
    """Debian's headless chromium driven by Playwright (never a downloaded browser build)."""
    path = os.environ.get("BAGEL_TEST_BROWSER", "/usr/bin/chromium")
    if not Path(path).exists():
        pytest.fail(f"no browser at {path}: install Debian's chromium with `apt-get update && apt-get install -y chromium` "
                    f"(or set BAGEL_TEST_BROWSER to a chromium binary)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=BROWSER_ARGS, headless=True)
        yield b
        b.close()
