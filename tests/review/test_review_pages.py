"""Pages and API over a real server: neighbours and duplicates from the neighbours stage, filters,
consensus with resolution, agreement."""

import json

import httpx
import numpy as np

from bagel.data.imageset import ImageSet
from bagel.mistakes.taxonomy import Judgement
from bagel.review import neighbors_view
from bagel.review.store import ReviewStore
from review_world import CLASSES, MODEL, val_key


def test_nearest_training_images_and_duplicates_are_shown(ws, client, tmp_path):
    from bagel.neighbors.embed import import_vectors
    from bagel.neighbors.lookup import compute_neighbors

    assert neighbors_view.neighbors_for(ws, val_key(0)) == []  # not computed yet: nothing, no error
    rng = np.random.default_rng(0)
    for split in ("val", "train"):
        s = ImageSet.load(ws, split)
        np.save(tmp_path / f"{split}.npy", rng.normal(size=(len(s), 8)).astype(np.float32))
        (tmp_path / f"{split}.txt").write_text("\n".join(map(str, s.keys)))
        import_vectors(ws, s, tmp_path / f"{split}.npy", tmp_path / f"{split}.txt", name="vectors")
    compute_neighbors(ws, "val", "train", "vectors", k=5, backend="numpy", progress=False)
    nn = neighbors_view.neighbors_for(ws, val_key(0))
    assert len(nn) == 5 and all(n["split"] == "train" for n in nn)
    assert [n["distance"] for n in nn] == sorted(n["distance"] for n in nn)
    train = ImageSet.load(ws, "train")
    assert all(n["label"] == train.labels[train.index[n["key"]]] for n in nn)
    dup = {"clusters": [{"cluster": 0, "kind": "exact", "size": 2, "n_val": 1, "n_train": 1, "n_labels": 2, "score": 0.0,
                         "members": [{"key": val_key(0), "split": "val", "label": 0, "path": "/somewhere/a.jpg", "kind": "exact", "score": 0.0},
                                     {"key": nn[0]["key"], "split": "train", "label": 3, "path": "/somewhere/b.png", "kind": "exact", "score": 0.0}]}]}
    (ws.root / "duplicates").mkdir()
    (ws.root / "duplicates" / "clusters.json").write_text(json.dumps(dup))
    page = client.get(f"/review/{MODEL}", params={"key": val_key(0)}).text
    assert page.count('<li><img src="/img/train?key=') == 6  # 5 neighbours + the duplicate
    assert "In a duplicate cluster (exact, 2 images)" in page and "/somewhere" not in page
    item = client.get(f"/api/review/{MODEL}/item", params={"key": val_key(0)}).json()
    assert [n["key"] for n in item["neighbors"]] == [n["key"] for n in nn]
    assert item["duplicates"]["others"][0]["label_ref"]["id"] == CLASSES[3][0]
    thumb = client.get("/img/train", params={"key": nn[0]["key"], "size": "thumb"})
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert list((ws.root / "review" / "thumbs").rglob("*.jpg"))  # cached in the workspace


def test_filters_consensus_resolution_and_agreement(ws, client):
    s = ReviewStore.for_workspace(ws)
    s.add_reviewer("bob")
    s.record("bob", MODEL, val_key(2), Judgement("wrong"))
    s.record("bob", MODEL, val_key(3), Judgement("correct"))
    post = lambda url, body: client.post(url, json=body, headers={"X-CSRF-Token": client.csrf})
    for k, v in ((2, "correct"), (3, "correct")):
        assert post(f"/api/review/{MODEL}/verdict", {"key": val_key(k), "verdict": v, "idem": f"page-test-{k}"}).status_code == 200
    # filters: by class name, by reviewer, disputed
    r = client.get(f"/api/review/{MODEL}/next", params={"cls": "pretzel", "status": "all", "item": "false"}).json()
    assert r["key"] == val_key(1) and r["queue_size"] == 5
    assert client.get(f"/api/review/{MODEL}/next", params={"cls": "nothing-like-it"}).status_code == 400
    assert client.get(f"/api/review/{MODEL}/next", params={"status": "disputed", "item": "false"}).json()["key"] == val_key(2)
    assert client.get(f"/api/review/{MODEL}/next", params={"reviewer": "bob", "item": "false"}).json()["key"] is None  # alice did both
    page = client.get(f"/review/{MODEL}", params={"status": "disputed", "key": val_key(2)})
    assert "bob: wrong" in page.text
    cons = client.get(f"/consensus/{MODEL}").text
    assert "open 1" in cons and val_key(2) in cons and "unanimous 1" in cons
    assert post(f"/api/consensus/{MODEL}/resolve", {"key": val_key(2), "verdict": "correct", "idem": "resolve-0001"}).status_code == 200
    cons = client.get(f"/consensus/{MODEL}", params={"show": "resolved"}).text
    assert "open 0" in cons and "resolved by alice" in cons
    stats = client.get(f"/api/agreement/{MODEL}").json()
    assert stats["overall"]["items"] == 2 and stats["overall"]["pairs"][0]["cohen"] == 0.0
    assert "Fleiss" in client.get(f"/agreement/{MODEL}").text
    # an undo through the API, then history
    assert post(f"/api/review/{MODEL}/undo", {"idem": "undo-000001"}).json()["key"] == val_key(3)
    hist = client.get(f"/api/review/{MODEL}/history", params={"key": val_key(3)}).json()
    assert [(h["reviewer"], h["action"], h["verdict"]) for h in hist] == [("bob", "judge", "correct"), ("alice", "judge", "correct"), ("alice", "undo", None)]
    # unknown model, unknown key: one-line errors
    assert client.get("/review/nope").status_code == 400
    assert post(f"/api/review/{MODEL}/verdict", {"key": "nope", "verdict": "wrong", "idem": "page-test-x"}).status_code == 400
    assert post(f"/api/review/{MODEL}/verdict", {"key": val_key(0), "verdict": "maybe", "idem": "page-test-y"}).status_code == 400


def test_imported_labels_show_without_a_restart(ws, client, tmp_path):
    from bagel.review.export import import_multilabel

    page = client.get(f"/api/review/{MODEL}/item", params={"key": val_key(5)}).json()
    assert [c["id"] for c in page["multilabel"]["unclear"]] == []
    data = json.loads((ws.root / "dataset" / "multilabel.json").read_text())
    data["initial_annots"][val_key(5)]["unclear"] = [CLASSES[0][0]]
    (tmp_path / "new.json").write_text(json.dumps(data))
    import_multilabel(ws, tmp_path / "new.json")
    page = client.get(f"/api/review/{MODEL}/item", params={"key": val_key(5)}).json()
    assert [c["id"] for c in page["multilabel"]["unclear"]] == [CLASSES[0][0]]
    # the imported experts' name is not for logging in
    with httpx.Client(base_url=str(client.base_url)) as other:
        csrf = other.get("/api/session").json()["csrf"]
        assert other.post("/api/login", json={"name": "imported"}, headers={"X-CSRF-Token": csrf}).status_code == 403


def test_class_browser_pages_through_every_image(client):
    """30 val images over 6 classes: 5 of bagel, shown 2 at a time over three pages."""
    import re

    seen, url = [], "/classes/n07693725?split=val&n=2"
    for _ in range(5):
        page = client.get(url)
        assert page.status_code == 200
        seen += re.findall(r'<li data-key="([^"]+)"', page.text)
        nxt = re.search(r'id="page-next" href="([^"]+)"', page.text)
        if not nxt:
            break
        url = nxt.group(1).replace("&amp;", "&")
    assert len(seen) == len(set(seen)) == 5
    assert "images 5–5 of 5" in page.text and 'id="page-prev"' in page.text
