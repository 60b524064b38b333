"""scratchnet.plots: the confusion counts, and the pictures written whole and the same every time."""

import numpy as np

from scratchnet.plots import confusion_matrix, plot_confusion, plot_history

PNG = b"\x89PNG\r\n\x1a\n"


def test_confusion_matrix_counts_true_rows_against_predicted_columns():
    matrix = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert matrix.sum() == 6 and matrix.dtype == np.int64


def test_pictures_are_pngs_and_the_same_bytes_twice(tmp_path):
    rows = [{"epoch": e, "train_loss": 2.0 / e, "train_accuracy": 0.3 * e, "val_loss": None,
             "val_accuracy": None}
            for e in (1, 2)]
    for name in ("a", "b"):
        plot_history(rows, tmp_path / f"{name}-curves.png", title="test")
        plot_confusion(np.eye(3, dtype=np.int64) * 5, ["x", "y", "z"], tmp_path / f"{name}-confusion.png")
    for kind in ("curves", "confusion"):
        first, second = ((tmp_path / f"{name}-{kind}.png").read_bytes() for name in ("a", "b"))
        assert first[:8] == PNG and first == second  # no date in them: a re-run changes no byte
    assert not list(tmp_path.glob(".*"))  # no temporary left behind
