"""Report pages: what they show for each kind of run folder, that they are self-contained and
reproducible, the run states, the errors, and the activations they draw."""

import csv
import json
import os
import re
import shutil

import numpy as np
import pytest
from fakes import train_tiny

from scratchnet import checkpoint
from scratchnet.evaluation import evaluate
from scratchnet.recipe import Config
from scratchnet.reporting import write_index, write_report
from scratchnet.runfolder import STALE_S, read_run
from scratchnet.trainer import Interrupted

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_SECTIONS = ("filters", "feature-maps", "recurrent", "confusion", "mistakes")


def tiny_config(**changes):
    options = {"model": "cnn_lstm", "epochs": 1, "batch_size": 32, "train_size": 32, "val_size": 32,
               "test_size": 100, "warmup_steps": 0}
    return Config(**{**options, **changes})


def train(folder, cifar_root, stop_after_steps=None, **changes):
    return train_tiny(tiny_config(**changes), folder, cifar_root, stop_after_steps)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, cifar_root):
    """A finished one-step run of the paper's model, and the trainer that made it."""
    folder = tmp_path_factory.mktemp("tiny")
    return folder, train(folder, cifar_root)


def sections(text):
    return re.findall(r'<section id="([^"]+)"', text)


def assert_self_contained(text):
    """Nothing the page loads comes from outside it:
    every src/href is data:, a fragment or a relative link."""
    for attribute, value in re.findall(r'\b(src|href)\s*=\s*"([^"]*)"', text):
        scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):", value)
        assert scheme is None or scheme.group(1) == "data", f"{attribute}={value[:60]}"
        assert not (attribute == "src" and scheme is None), f"src must be inline, got {value[:60]}"
    assert "url(" not in text and "@import" not in text
    assert not re.search(r"<script[^>]*\bsrc=", text) and "<link" not in text


def test_facts_and_curves_page_says_what_is_missing(tiny, tmp_path):
    folder, _ = tiny
    text = write_report(folder, full=False).read_text()
    assert sections(text) == ["run", "curves", "steps", "inside"]
    for field in Config.__dataclass_fields__:  # every option of the run is on the page
        assert f"--{field.replace('_', '-')}" in text
    assert "validation" in text and "on 32 images" in text and "on 100 images" in text
    assert f"python -m scratchnet.report {folder}" in text and "wrote no steps.csv" not in text
    older = tmp_path / "older"  # a run from before steps.csv was written
    shutil.copytree(folder, older)
    (older / "steps.csv").unlink()
    assert "wrote no steps.csv" in write_report(older, full=False).read_text()
    assert 'http-equiv="refresh"' not in text  # finished: no reloading
    assert_self_contained(text)


def test_full_report_shows_what_the_network_learned(tiny):
    folder, trainer = tiny
    predictions = evaluate(trainer.model, trainer.data.x_test, trainer.data.y_test)["predictions"]
    path = write_report(folder, model=trainer.model, test_images=trainer.data.x_test,
                        test_labels=trainer.data.y_test, predictions=predictions)
    text = path.read_text()
    assert sections(text) == ["run", "curves", "steps", *MODEL_SECTIONS]
    assert path.stat().st_size < 3e6
    assert_self_contained(text)
    # curves + steps + filters + 3 feature-map stages (conv1, norm1, conv2) + gates + confusion + mistakes
    assert text.count("data:image/png;base64,") == 9
    assert text.count("<figcaption>") == 9
    assert "true classes of 100 test images" in text
    # written again from the same arrays: the same bytes
    assert write_report(folder, model=trainer.model, test_images=trainer.data.x_test,
                        test_labels=trainer.data.y_test, predictions=predictions).read_text() == text


@pytest.mark.slow
def test_full_report_rebuilds_the_model_and_test_set_from_the_run(tiny, cifar_root):
    # from the checkpoint and the data folder alone: the same model, the run's 100 test images and the
    # same predictions (computed, as this run saved none), so the same page as from the trainer's arrays
    folder, trainer = tiny
    predictions = evaluate(trainer.model, trainer.data.x_test, trainer.data.y_test)["predictions"]
    expected = write_report(folder, model=trainer.model, test_images=trainer.data.x_test,
                            test_labels=trainer.data.y_test, predictions=predictions).read_text()
    assert write_report(folder, data_dir=cifar_root).read_text() == expected


def test_steps_curve_drawn_when_the_run_recorded_steps(tiny, tmp_path):
    folder, _ = tiny
    shutil.copytree(folder, tmp_path / "run")
    with open(tmp_path / "run" / "steps.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["step", "lr", "loss", "grad_norm"])
        writer.writerows([step, 0.02 * step / 10, 2.3, 6.0 - step / 10] for step in range(10))
    text = write_report(tmp_path / "run", full=False).read_text()
    steps = text[text.index('<section id="steps"'):text.index('<section id="inside"')]
    assert "data:image/png" in steps and "no steps.csv" not in steps


def without_summary(folder, destination):
    """The run folder as it was before training ended: no summary.json."""
    shutil.copytree(folder, destination)
    (destination / "summary.json").unlink()
    return destination


def test_a_running_page_reloads_until_the_run_goes_quiet(tiny, tmp_path):
    folder = without_summary(tiny[0], tmp_path / "run")
    updated = read_run(folder).updated
    text = write_report(folder, full=False, now=updated + 5).read_text()
    assert '<meta http-equiv="refresh" content="30">' in text
    assert f'data-reload-until="{int((updated + STALE_S) * 1000)}"' in text
    assert "Training: epoch 1 of 1 done" in text and '<p id="stale"' in text
    stale = write_report(folder, full=False, now=updated + STALE_S + 1).read_text()
    assert 'http-equiv="refresh"' not in stale and 'data-reload-until="' not in stale
    assert f"--resume {folder / 'checkpoint.npz'}" in stale and "the trainer has stopped" in stale


def test_an_interrupted_run_shows_the_resume_command(tmp_path, cifar_root):
    with pytest.raises(Interrupted):
        train(tmp_path, cifar_root, stop_after_steps=2, epochs=2)  # one epoch done, and one step of the next
    text = write_report(tmp_path, full=False).read_text()
    assert "Interrupted in epoch 2 of 2" in text
    assert f"python -m scratchnet.train --resume {tmp_path / 'checkpoint.npz'}" in text
    assert 'http-equiv="refresh"' not in text


def test_a_checkpoint_from_a_newer_scratchnet_is_refused(tiny, tmp_path):
    folder = without_summary(tiny[0], tmp_path / "run")
    ckpt = checkpoint.load(folder / "checkpoint.npz")
    arrays = {f"param/{name}": value for name, value in ckpt.params.items()}
    metadata = {**ckpt.metadata, "format_version": checkpoint.FORMAT_VERSION + 1}
    np.savez(folder / "checkpoint.npz", metadata_json=np.array(json.dumps(metadata)), **arrays)
    with pytest.raises(ValueError, match="newer version of scratchnet"):
        write_report(folder)


def test_table1_index_links_every_run_and_changes_no_byte_when_rerun(tmp_path):
    from scratchnet.table1 import summarise  # the rows reproduce passes

    runs = tmp_path / "results" / "runs"
    for name in ("cnn-seed0", "cnn-seed1", "cnn_lstm-seed0", "gru-seed0"):  # the committed runs of three rows
        shutil.copytree(os.path.join(REPO, "results", "runs", name), runs / name)
    summaries = {}
    for folder in sorted(runs.iterdir()):
        summary = json.loads((folder / "summary.json").read_text())
        summaries.setdefault(summary["model"], []).append(summary)
    rows = summarise(summaries)
    index = write_index(tmp_path / "results", rows, runs)
    text = index.read_text()
    assert sections(text) == ["table1", "curves", "runs"]
    assert_self_contained(text)
    for folder in runs.iterdir():
        assert f'href="runs/{folder.name}/report.html"' in text
        report = (folder / "report.html").read_text()
        assert ("this folder does not hold" in report
                and sections(report) == ["run", "curves", "steps", "inside"])
    for row in rows.values():
        assert f"<td>{row['label']}</td><td class=number>{row['paper']:.0%}</td>" in text
    written = {path: path.read_bytes() for path in tmp_path.rglob("*.html")}
    write_index(tmp_path / "results", rows, runs)
    assert {path: path.read_bytes() for path in tmp_path.rglob("*.html")} == written
