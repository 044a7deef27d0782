"""The real download path against an HTTP server on loopback (BAGEL_MIRROR), checksums and pins."""

import functools
import http.server
import json
import shutil
import threading

import pytest

from bagel.data import sources


@pytest.fixture
def mirror(tmp_path, shared_data, monkeypatch):
    """A copy of the shared data served over HTTP on 127.0.0.1; an empty cache to download into."""
    root = tmp_path / "mirror"
    shutil.copytree(shared_data / "imagenet", root / "imagenet", ignore=shutil.ignore_patterns("predictions", "is_a.txt", "words.txt"))
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("BAGEL_MIRROR", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("BAGEL_DATA_DIR", str(tmp_path / "cache"))
    yield root
    server.shutdown()


def test_fetch_verifies_checksums(mirror, tmp_path, run_cli):
    code, out, err = run_cli("data", "fetch", "class-info", "real")
    assert code == 0, err
    cached = tmp_path / "cache" / "imagenet" / "real.json"
    assert sources.sha256_of(cached) == sources.get("real").sha256
    rows = {r["name"]: r for r in sources.status()}
    assert rows["real"]["verified"] and not rows["val-labels"]["present"]


def test_checksum_mismatch_leaves_the_cache_untouched(mirror, tmp_path, run_cli):
    assert run_cli("data", "fetch", "real")[0] == 0
    cached = tmp_path / "cache" / "imagenet" / "real.json"
    before = cached.read_bytes()
    (mirror / "imagenet" / "real.json").write_text("[[1]]")
    code, out, err = run_cli("data", "fetch", "real", "--force")
    assert code == 2
    assert err.startswith("error: ") and "checksum mismatch for real" in err and err.count("\n") == 1
    assert cached.read_bytes() == before
    assert not list(cached.parent.glob(".*.part"))


def test_unpublished_checksum_is_pinned_after_a_schema_check(mirror, tmp_path, run_cli):
    ml = {"initial_annots": {"ILSVRC2012_val_00000001.JPEG": {"correct": ["n01751748"]}}, "problematic_images": {}, "imagenet_m": []}
    (mirror / "imagenet" / "human_accuracy_v3.0.0.json").write_text(json.dumps(ml))
    assert run_cli("data", "fetch", "multilabel")[0] == 0
    pins = json.loads((tmp_path / "cache" / "pins.json").read_text())
    assert pins["multilabel"] == sources.sha256_of(tmp_path / "cache" / "imagenet" / "human_accuracy_v3.0.0.json")
    ml["imagenet_m"] = ["ILSVRC2012_val_00000001.JPEG"]  # upstream changed: the pin catches it
    (mirror / "imagenet" / "human_accuracy_v3.0.0.json").write_text(json.dumps(ml))
    code, _, err = run_cli("data", "fetch", "multilabel", "--force")
    assert code == 2 and "checksum mismatch for multilabel" in err


def test_schema_violation_is_refused(mirror, tmp_path, run_cli):
    (mirror / "imagenet" / "human_accuracy_v3.0.0.json").write_text(json.dumps([1, 2, 3]))
    code, _, err = run_cli("data", "fetch", "multilabel")
    assert code == 2 and "expected the multi-label schema" in err
    assert not (tmp_path / "cache" / "imagenet" / "human_accuracy_v3.0.0.json").exists()


def test_unreachable_and_unknown(mirror, monkeypatch, run_cli):
    monkeypatch.setenv("BAGEL_MIRROR", "http://127.0.0.1:9")
    code, _, err = run_cli("data", "fetch", "class-info")
    assert code == 2 and "download of class-info failed" in err
    code, _, err = run_cli("data", "fetch", "imagenet-22k")
    assert code == 2 and "unknown data source 'imagenet-22k'" in err


def test_missing_source_names_the_fetch_command(tmp_path, monkeypatch, run_cli):
    monkeypatch.setenv("BAGEL_DATA_DIR", str(tmp_path / "empty"))
    code, _, err = run_cli("evaluate", tmp_path / "x.npy")
    assert code == 2 and "run `bagel data fetch class-info`" in err


def test_list_shows_present_and_missing(mirror, run_cli):
    assert run_cli("data", "fetch", "class-info")[0] == 0
    code, out, _ = run_cli("data", "list")
    assert code == 0
    lines = {l.split()[1]: l for l in out.splitlines() if l.startswith("│")}
    assert "verified" in lines["class-info"] and "missing" in lines["real"]
    assert "bagel data fetch" in out and "class-info" not in out.split("bagel data fetch")[-1]
