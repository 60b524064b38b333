"""``python -m scratchnet.report RUN_FOLDER``: writes the page, or says in one line why it cannot."""

import json

import numpy as np
import pytest
from fakes import train_tiny

from scratchnet import checkpoint, report
from scratchnet.recipe import Config


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory, cifar_root):
    folder = tmp_path_factory.mktemp("run")
    config = Config(model="gru", epochs=1, batch_size=32, train_size=32, val_size=0, test_size=50,
                    warmup_steps=0)
    train_tiny(config, folder, cifar_root)
    return folder


def test_writes_the_report_of_a_run(run_folder, cifar_root, capsys):
    assert report.main([str(run_folder), "--data-dir", str(cifar_root)]) == 0
    text = (run_folder / "report.html").read_text()
    assert f"wrote {run_folder / 'report.html'}" in capsys.readouterr().out
    # a GRU reads rows: no convolution to show, but its gates
    assert 'id="recurrent"' in text and 'id="filters"' not in text and 'id="feature-maps"' not in text
    assert 'id="confusion"' in text and "true classes of 50 test images" in text


def test_facts_only(run_folder):
    assert report.main([str(run_folder), "--facts-only"]) == 0
    assert 'id="recurrent"' not in (run_folder / "report.html").read_text()


def one_line_error(capsys, argv):
    assert report.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    return err


def test_one_line_errors(tmp_path, run_folder, capsys):
    assert "is not a folder" in one_line_error(capsys, [str(tmp_path / "missing")])
    assert "not a run folder" in one_line_error(capsys, [str(tmp_path)])
    (tmp_path / "metrics.csv").write_text("epoch,train_loss,train_accuracy\n")
    assert "no finished epoch" in one_line_error(capsys, [str(tmp_path)])
    newer = tmp_path / "newer"
    newer.mkdir()
    metadata = {**checkpoint.load(run_folder / "checkpoint.npz").metadata, "format_version": 99}
    np.savez(newer / "checkpoint.npz", metadata_json=np.array(json.dumps(metadata)))
    assert "newer version of scratchnet" in one_line_error(capsys, [str(newer)])
