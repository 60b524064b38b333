"""python -m scratchnet.predict on a tiny trained run."""

import numpy as np
from PIL import Image

from scratchnet import predict


def test_predict_ranks_three_classes_of_each_picture(tiny_run, tmp_path, capsys):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (50, 80, 3), dtype=np.uint8)).save(tmp_path / "wide.png")
    Image.fromarray(rng.integers(0, 255, (64, 40, 3), dtype=np.uint8)).save(tmp_path / "tall.jpg")
    assert predict.main([str(tiny_run), str(tmp_path / "wide.png"), str(tmp_path / "tall.jpg")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(line.count("%") == 3 for line in lines)


def test_predict_refuses_what_is_not_a_picture(tiny_run, tmp_path, capsys):
    (tmp_path / "not_an_image.png").write_text("hello")
    assert predict.main([str(tiny_run / "checkpoint.npz"), str(tmp_path / "not_an_image.png")]) == 2
    assert "not a readable PNG or JPEG" in capsys.readouterr().err
