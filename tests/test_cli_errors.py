"""Bad input: one line on stderr naming the file and the problem, exit 2, never a traceback."""

import numpy as np
import pytest


@pytest.mark.parametrize("make, args, expect", [
    (lambda d: np.save(d / "wrong_shape.npy", np.zeros((50000, 7), np.float32)), ["--order", "imagenetv2-val"], "logits have 7 columns, the vocabulary has 1000"),
    (lambda d: np.save(d / "short.npy", np.zeros((10, 5), np.int64)), ["--order", "imagenetv2-val"], "10 rows, but the order lists 50000 image keys"),
    (lambda d: np.save(d / "range.npy", np.full((50000, 5), 1000)), ["--order", "filename"], "class index 1000 out of range 0..999"),
    (lambda d: np.save(d / "ok.npy", np.zeros((50000, 5), np.int64)), ["--order", "shuffled"], "unknown order 'shuffled'"),
    (lambda d: (d / "corrupt.npy").write_bytes(b"\x93NUMPY garbage"), ["--order", "filename"], "cannot read array file"),
    (lambda d: np.save(d / "ok.npy", np.zeros((50000, 5), np.int64)), ["--order", "filename", "--labels", "reall"], "--labels reall: expected one of original, real, multilabel"),
])
def test_one_line_errors(tmp_path, run_cli, make, args, expect):
    make(tmp_path)
    f = next(tmp_path.glob("*.npy"))
    code, out, err = run_cli("evaluate", f, *args)
    assert code == 2
    assert err.startswith("error: ") and expect in err and err.count("\n") == 1, err
    assert "Traceback" not in err and out == ""


def test_usage_errors_exit_non_zero(run_cli):
    code, _, err = run_cli("evaluate", "--bootstrap", "-3")
    assert code != 0 and "Traceback" not in err
