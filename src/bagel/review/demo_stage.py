"""Getting the demo workspace ready to review: the store, two reviewers and a few labeling guides."""

from __future__ import annotations

from collections import Counter

from bagel.data.dataset import Dataset
from bagel.errors import BagelError
from bagel.review.queue import Tables, model_names
from bagel.review.store import ReviewStore

DEMO_REVIEWERS = ("alice", "bob")


def prepare_demo(ws, n_guides: int = 5) -> dict:
    """Create the review store of ``ws``, reviewers 'alice' and 'bob' (no tokens: the demo serves on
    loopback), and a first labeling guide, written from the class gloss, for the ``n_guides``
    classes most involved in the mistakes (originals and predictions). Safe to call again:
    existing reviewers and guides are kept.

    Returns {'command': how to open the app, 'reviewers', 'guides': classes given a guide, 'models'}.
    """
    store = ReviewStore.for_workspace(ws)
    for name in DEMO_REVIEWERS:
        store.add_reviewer(name)
    models = model_names(ws)
    counts: Counter = Counter()
    tables = Tables(ws)
    for m in models:
        try:
            t = tables.get(m)
        except BagelError:
            continue
        counts.update(int(c) for c in t.labels)
        counts.update(int(c) for c in t.predictions)
    written = []
    try:
        vocab = Dataset.for_workspace(ws).vocabulary
    except BagelError:
        vocab = None
    if vocab is not None:
        chosen = [c for c, _ in counts.most_common(n_guides)] or list(range(min(n_guides, len(vocab))))
        for c in chosen:
            cid = vocab.ids[c]
            if store.guide(cid) is None:
                names = ", ".join(vocab.names[c])
                body = (f"## {names}\n\n- {vocab.glosses[c] or 'No definition recorded.'}\n"
                        f"- Count the image as **{vocab.name(c)}** when the object is clearly visible, even if it is not centred.\n"
                        f"- Write here what reviewers agree on when it is not obvious.\n")
                store.save_guide(cid, body, DEMO_REVIEWERS[0], 0)
                written.append(cid)
    store.close()
    return {"command": f"bagel review -w {ws.root}", "reviewers": list(DEMO_REVIEWERS), "guides": written, "models": models}
