import numpy as np
import pandas as pd

from bagel.cli import main


def run(capsys, *args):
    rc = main(list(map(str, args)))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_embed_neighbors_duplicates_commands(world, capsys, tmp_path):
    ws, truth = world
    w = ["-w", ws.root]
    assert run(capsys, "embed", "val", "--workers", "1", *w)[0] == 0
    assert run(capsys, "embed", "train", "--workers", "1", *w)[0] == 0
    keys = tmp_path / "mistakes.txt"
    keys.write_text("\n".join(truth.val_key[:5]) + "\n")
    rc, _, err = run(capsys, "neighbors", "--keys", keys, "-k", "3", *w)
    assert rc == 0 and "5 queries" in err
    assert np.load(ws.root / "neighbors" / "val-train-dct" / "indices.npy").shape == (5, 3)
    assert run(capsys, "neighbors", "-k", "10", *w)[0] == 0
    rc, _, err = run(capsys, "duplicates", "--drop", "near", *w)
    assert rc == 0 and "clusters" in err
    drop = (ws.root / "duplicates" / "train_drop.txt").read_text().split()
    assert len(drop) >= 16
    assert {r["command"] for r in ws.runs()} >= {"embed", "neighbors", "duplicates"}


def test_bad_input_is_one_line_exit_2(world, capsys, tmp_path):
    ws, _ = world
    w = ["-w", ws.root]
    rc, _, err = run(capsys, "embed", "test", *w)
    assert rc == 2 and err.startswith("error: ") and "no image set for split 'test'" in err and err.count("\n") == 1
    rc, _, err = run(capsys, "neighbors", *w)
    assert rc == 2 and "no 'dct' embeddings of split 'val'" in err and err.count("\n") == 1
    rc, _, err = run(capsys, "embed", "val", "--model", "nosuch", *w)
    assert rc == 2 and "model 'nosuch': unknown" in err
    rc, _, err = run(capsys, "embed", "val", "--model", "torch", *w)
    assert rc == 2 and "expected --checkpoint" in err
    run(capsys, "embed", "val", "--workers", "1", *w)
    run(capsys, "embed", "train", "--workers", "1", *w)
    rc, _, err = run(capsys, "neighbors", "--metric", "manhattan", *w)
    assert rc == 2 and "metric 'manhattan'" in err
    bad_keys = tmp_path / "keys.txt"
    bad_keys.write_text("nope.jpg\n")
    rc, _, err = run(capsys, "neighbors", "--keys", bad_keys, *w)
    assert rc == 2 and "nope.jpg" in err and "query key list" in err
    rc, _, err = run(capsys, "duplicates", "--drop", "everything", *w)
    assert rc == 2 and "drop level 'everything'" in err
    vec = tmp_path / "v.npy"
    np.save(vec, np.ones((3, 4)))
    rc, _, err = run(capsys, "embed", "val", "--model", "vectors", "--vectors", vec, "--keys", bad_keys, *w)
    assert rc == 2 and "keys.txt: expected 3 keys" in err and "found 1" in err
    rc, _, err = run(capsys, "embed", "val", "--model", "vectors", "--vectors", bad_keys, "--keys", bad_keys, *w)
    assert rc == 2 and "expected a .npy array" in err


def test_hashing_only_duplicates(world, capsys):
    ws, truth = world
    rc, _, _ = run(capsys, "duplicates", "--model", "none", "--workers", "1", "-w", ws.root)
    assert rc == 0
    leaks = pd.read_parquet(ws.root / "duplicates" / "leaks.parquet")
    assert set(leaks[leaks.kind == "exact"].train_key) == set(truth[truth.transformation.str.startswith("exact")].train_key)
