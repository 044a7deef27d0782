"""The store, the queue and agreement as plain library code on real SQLite files."""

import sqlite3

import pytest

from bagel.errors import BagelError
from bagel.mistakes.taxonomy import Judgement
from bagel.review.agreement import agreement, cohen_kappa, consensus, fleiss_kappa
from bagel.review.queue import Filters, Tables, step
from bagel.review.store import Conflict, ReviewStore
from review_world import MODEL, val_key


@pytest.fixture
def store(ws):
    s = ReviewStore.for_workspace(ws)
    for name in ("alice", "bob", "carol"):
        s.add_reviewer(name)
    yield s
    s.close()


def test_history_kept_latest_wins_and_idempotent(store, ws):
    a = store.record("alice", MODEL, "k1", Judgement("wrong", severity="major", category="spurious"), prediction=3, idem="i-1")
    again = store.record("alice", MODEL, "k1", Judgement("wrong", severity="major", category="spurious"), prediction=3, idem="i-1")
    assert (again.id, again.seq, again.duplicate) == (a.id, 1, True)
    b = store.record("alice", MODEL, "k1", Judgement("correct", note="on second look"), idem="i-2")
    assert b.seq == 2 and not b.duplicate
    cur = store.current(MODEL, reviewer="alice")
    assert [(r["key"], r["verdict"], r["note"], r["prediction"]) for r in cur] == [("k1", "correct", "on second look", 3)]
    assert [h["verdict"] for h in store.history(MODEL, "k1")] == ["wrong", "correct"]
    assert store.progress("alice", MODEL) == 1 and store.progress("bob", MODEL) == 0
    with pytest.raises(Conflict):
        store.record("bob", MODEL, "k1", Judgement("wrong"), idem="i-1")  # a reused key for another verdict
    # the database holds the constraints itself, whatever client writes to it
    with sqlite3.connect(ws.db_path) as con:
        with pytest.raises(sqlite3.IntegrityError):
            con.execute("INSERT INTO review_verdicts (reviewer_id, model, key, seq, idem, action, problematic, note, created)"
                        " VALUES (1, ?, 'k1', 2, 'other', 'judge', 0, '', 0)", (MODEL,))
    assert sqlite3.connect(ws.db_path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_undo_walks_back_one_save_at_a_time(store):
    store.record("alice", MODEL, "k1", Judgement("wrong", severity="minor"))
    store.record("alice", MODEL, "k2", Judgement("unclear"))
    store.record("alice", MODEL, "k1", Judgement("correct"))
    store.record("bob", MODEL, "k1", Judgement("wrong"))  # someone else's save is not alice's to undo
    state = lambda: {r["key"]: r["verdict"] for r in store.current(MODEL, reviewer="alice")}
    assert store.undo("alice", MODEL, idem="u-1").key == "k1"
    assert store.undo("alice", MODEL, idem="u-1").duplicate  # a retried undo does not undo twice
    assert state() == {"k1": "wrong", "k2": "unclear"}
    assert store.undo("alice", MODEL).key == "k2"
    assert state() == {"k1": "wrong"}
    assert store.undo("alice", MODEL).key == "k1"
    assert state() == {} and store.progress("alice", MODEL) == 0
    assert store.undo("alice", MODEL) is None
    assert {r["reviewer"]: r["verdict"] for r in store.current(MODEL)} == {"bob": "wrong"}
    assert [h["action"] for h in store.history(MODEL, "k1", reviewer="alice")] == ["judge", "judge", "undo", "undo"]


def test_guides_keep_every_version_and_refuse_stale_edits(store):
    assert store.save_guide("n1", "first", "alice", 0) == 1
    assert store.save_guide("n1", "second", "bob", 1) == 2
    with pytest.raises(Conflict):
        store.save_guide("n1", "carol's edit from version 1", "carol", 1)
    assert store.save_guide("n1", "second", "carol", 1) == 2  # the same text again: nothing new
    assert [(g["version"], g["author"], g["body"]) for g in store.guide_history("n1")] == [(2, "bob", "second"), (1, "alice", "first")]
    assert store.guide("n1")["body"] == "second" and store.guide("n2") is None


def test_tokens_are_stored_hashed(store, ws):
    token = store.add_reviewer("dave", with_token=True)
    assert store.reviewer_for_token(token) == "dave" and store.reviewer_for_token(token + "x") is None
    assert store.has_tokens()
    raw = sqlite3.connect(ws.db_path).execute("SELECT token_hash FROM review_reviewers WHERE name='dave'").fetchone()[0]
    assert token not in raw and len(raw) == 64
    with pytest.raises(BagelError):
        store.add_reviewer("no spaces please")


def test_queue_filters_and_steps(store, ws):
    t = Tables(ws).get(MODEL)
    f = Filters()
    assert step(store, t, f, "alice", None) == (val_key(0), 0, 14)
    store.record("alice", MODEL, val_key(0), Judgement("wrong"))
    store.record("alice", MODEL, val_key(1), Judgement("wrong"))
    store.record("bob", MODEL, val_key(1), Judgement("correct"))
    store.record("bob", MODEL, val_key(5), Judgement("correct"))
    assert step(store, t, f, "alice", None)[0] == val_key(2)  # unreviewed by me
    assert step(store, t, f, "alice", val_key(1), -1)[0] == val_key(0)  # back ignores status
    assert step(store, t, Filters(status="reviewed"), "alice", val_key(0))[0] == val_key(1)
    assert step(store, t, Filters(status="disputed"), "alice", None)[0] == val_key(1)
    assert step(store, t, Filters(reviewer="bob"), "alice", None)[0] == val_key(5)  # bob judged it, alice did not
    # class 2: as original label (rows 2, 8) or as prediction (labels 1: rows 1, 7, 13)
    f2 = Filters(cls=2, status="all")
    keys, k = [], None
    while True:
        k, _, n = step(store, t, f2, "alice", k)
        if k is None:
            break
        keys.append(k)
    assert keys == [val_key(i) for i in (1, 2, 7, 8, 13)] and n == 5
    assert step(store, t, Filters(category="spurious", severity="major", status="all"), "alice", None)[0] == val_key(6)
    with pytest.raises(BagelError):
        Filters(status="bogus")


def test_kappas_on_exact_examples():
    W, C = "wrong", "correct"
    assert cohen_kappa([W, W, C, C], [W, W, C, C]) == 1.0
    assert cohen_kappa([W, C, W, C], [W, W, C, C]) == 0.0
    # po = 0.7, pe = 0.5 -> 0.4
    a = [W] * 25 + [C] * 25
    b = [W] * 20 + [C] * 5 + [W] * 10 + [C] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa([], []) is None
    # Fleiss with 3 raters: all agree on 2 items of different labels -> 1
    assert fleiss_kappa([["a", "a", "a"], ["b", "b", "b"]]) == pytest.approx(1.0)
    # by hand: P_i = [1, 1/3, 1] so P = 7/9; pooled p = [4/9, 5/9] so Pe = 41/81; kappa = 22/40
    assert fleiss_kappa([["a", "a", "a"], ["a", "b", "b"], ["b", "b", "b"]]) == pytest.approx(0.55)
    assert fleiss_kappa([["a"], ["b"]]) is None  # no item with two ratings


def test_consensus_and_agreement_per_group():
    rows = []
    def add(key, reviewer, verdict, **kw):
        rows.append({"key": key, "reviewer": reviewer, "verdict": verdict, "problematic": kw.get("problematic", False),
                     "severity": kw.get("severity"), "category": kw.get("category"), "prediction": 1})
    add("k1", "alice", "wrong", severity="major", category="spurious")
    add("k1", "bob", "wrong", severity="minor", category="spurious")
    add("k1", "carol", "correct", problematic=True)
    add("k2", "alice", "wrong")
    add("k2", "bob", "correct")
    add("k3", "alice", "unclear")
    add("k3", "bob", "unclear")
    c = consensus(rows)
    assert (c["k1"]["status"], c["k1"]["verdict"], c["k1"]["category"], c["k1"]["problematic"]) == ("majority", "wrong", "spurious", False)
    assert c["k1"]["severity"] == "major"  # tie between major and minor goes to the taxonomy's order
    assert (c["k2"]["status"], c["k2"]["verdict"]) == ("open", None)
    assert (c["k3"]["status"], c["k3"]["verdict"]) == ("unanimous", "unclear")
    resolved = consensus(rows, {"k2": {"verdict": "correct", "severity": None, "category": None, "problematic": False, "resolver": "carol"}})
    assert (resolved["k2"]["status"], resolved["k2"]["verdict"]) == ("resolved", "correct")
    stats = agreement(rows, {"k1": "spurious", "k2": "spurious", "k3": "fine-grained"})
    assert stats["overall"]["items"] == 3
    ab = next(p for p in stats["overall"]["pairs"] if (p["a"], p["b"]) == ("alice", "bob"))
    assert ab["items"] == 3 and ab["cohen"] == pytest.approx(cohen_kappa(["wrong", "wrong", "unclear"], ["wrong", "correct", "unclear"]))
    assert stats["by_group"]["fine-grained"]["items"] == 1 and stats["by_group"]["spurious"]["items"] == 2
    assert agreement(rows, exclude=("bob", "carol"))["overall"]["items"] == 0
