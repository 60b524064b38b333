"""python -m scratchnet.evaluate on a tiny trained run."""

import json

import numpy as np

from scratchnet import evaluate


def test_evaluate_scores_all_test_images_and_writes_its_files(tiny_run, tmp_path, cifar_root, capsys):
    assert evaluate.main([str(tiny_run / "checkpoint.npz"), "--data-dir", str(cifar_root),
                          "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and "on 10,000 test images" in printed and "airplane" in printed
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert np.sum(report["confusion_matrix"]) == 10000 and report["test_size"] == 10000
    assert (tmp_path / "confusion.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_takes_the_runs_folder(tiny_run, tmp_path, cifar_root, capsys):
    assert evaluate.main([str(tiny_run), "--data-dir", str(cifar_root), "--out", str(tmp_path)]) == 0
