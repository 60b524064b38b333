"""The study of the CNN-LSTM's gap to the CNN: its plan, the rule for more seeds, its summary and
on fake runs; the study command end to end at a tiny budget."""

import json

import numpy as np
import pytest
from study_fakes import LABELS, N, fake, first, rows_of, seed_zero

from scratchnet import evaluate, predict, reproduce, study, train
from scratchnet.evaluation import load_model
from scratchnet.models import build_model, count_params
from scratchnet.recipe import PEAK_LR

# --- the plan ------------------------------------------------------------------------------

def test_every_hypothesis_of_the_study_is_one_change_to_the_cnn_lstm():
    assert {"cnn_lstm", "cnn"} <= set(study.PLAN)
    changes = {}
    for name, entry in study.PLAN.items():
        config = study.run_config(name, seed=0)
        assert config.val_size == 0 and config.train_size is None  # Table 1's data: every training image
        if study.is_variant(name):
            baseline = study.run_config(study.BASELINE, seed=0)
            changes[name] = baseline.differences(config)
            assert len(changes[name]) == 1, (name, changes[name])
    assert changes["head_dense"] == [
        "model_options: {'conv1': 'nchw', 'conv2': 'winograd', 'head': 'lstm', 'reading': 'maps', "
        "'readout': 'last', 'hidden': 128} here, "
        "{'conv1': 'nchw', 'conv2': 'winograd', 'head': 'dense'} there"]
    assert changes["lr_0.05"] == [f"lr: {PEAK_LR['cnn_lstm']} here, 0.05 there"]
    assert changes["cnn_lstm_60"] == ["epochs: 30 here, 60 there"]
    assert {study.PLAN[name].hypothesis for name in changes} == {"the head", "the reading order",
                                                                  "what the softmax reads",
                                                                  "the learning rate and width", "the budget"}


def test_each_run_is_compared_with_the_cnn_at_its_budget():
    assert study.cnn_for("cnn_lstm") == study.cnn_for("reading_rows") == "cnn"
    assert study.cnn_for("cnn_lstm_60") == study.cnn_for("cnn_60") == "cnn_60"
    assert study.run_config("cnn_60", 1).model == "cnn" and study.run_config("cnn_60", 1).seed == 1
    # a shorter study keeps the ratio of the budgets
    shorter = [study.run_config(name, 0, epochs=1, small=True).epochs for name in ("cnn", "cnn_lstm_60")]
    assert shorter == [1, 2]
    assert study.run_config("hidden_256", 0, epochs=1, small=True).small


def test_params_are_those_of_the_network_built():
    for name in ("head_dense", "hidden_256", "cnn"):
        entry = study.PLAN[name]
        assert study.params(name) == count_params(build_model(entry.model, **entry.options))
    assert study.params("hidden_256") > study.params("cnn_lstm")


# --- the rule for more seeds -----------------------------------------------------------------

def test_the_two_variants_closest_to_the_cnn_get_two_more_seeds_and_so_does_their_cnn():
    done = seed_zero(cnn_lstm=0.71, cnn=0.80, head_dense=0.795, readout_mean=0.803, hidden_256=0.79,
                     reading_rows=0.70, cnn_lstm_60=0.74, cnn_60=0.81)
    # 1.5 points below the CNN, but on images that differ both ways: McNemar's p is large
    mixed = np.zeros(N, bool)
    mixed[:740] = mixed[800:845] = True
    done["reading_positions"] = {0: fake(mixed)}
    names = list(done)
    test = study.paired(done, "reading_positions", "cnn", LABELS)
    assert (test["b"], test["c"]) == (45, 60) and test["p_value"] > 0.05
    assert study.paired(done, "hidden_256", "cnn", LABELS)["p_value"] < 0.05  # gap of 1 point: not close
    # close: readout_mean (0.3 points), head_dense (0.5), reading_positions (p > 0.05); the two closest win
    assert study.extra_runs(names, done, LABELS) == [("readout_mean", 1), ("readout_mean", 2), ("cnn", 1),
                                                     ("cnn", 2), ("head_dense", 1), ("head_dense", 2)]


def test_no_extra_seeds_when_every_variant_is_clearly_apart_and_none_while_undecided():
    done = seed_zero(cnn_lstm=0.71, cnn=0.80, head_dense=0.75, cnn_lstm_60=0.74, cnn_60=0.81)
    assert study.extra_runs(list(done), done, LABELS) == []
    del done["cnn_60"][0]
    assert study.extra_runs(list(done), done, LABELS) is None  # cnn_lstm_60 cannot be judged yet
    # a variant whose CNN is not in the study is not judged
    assert study.extra_runs(["cnn", "head_dense", "cnn_lstm_60"], done, LABELS) == []


def write_run(runs, name, seed, run):
    folder = runs / f"{name}-seed{seed}"
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(run[0]))
    np.save(folder / "predictions.npy", run[1])


def test_the_plan_reads_the_test_labels_only_once_seed_zero_is_done(tmp_path):
    names = ["cnn", "head_dense"]

    def no_labels():
        raise AssertionError("the labels were read before the rule could be decided")

    assert study.plan(names, tmp_path, labels=no_labels) == [("cnn", 0), ("head_dense", 0)]
    write_run(tmp_path, "cnn", 0, fake(first(800)))
    assert study.plan(names, tmp_path, labels=no_labels) == [("cnn", 0), ("head_dense", 0)]
    write_run(tmp_path, "head_dense", 0, fake(first(797)))
    assert study.plan(names, tmp_path, labels=lambda: LABELS) == [
        ("cnn", 0), ("head_dense", 0), ("head_dense", 1), ("head_dense", 2), ("cnn", 1), ("cnn", 2)]
    assert study.plan(names, tmp_path, seeds=[0, 5], labels=no_labels) == [
        ("cnn", 0), ("cnn", 5), ("head_dense", 0), ("head_dense", 5)]


def test_a_finished_run_without_predictions_is_refused(tmp_path):
    write_run(tmp_path, "cnn", 0, fake(first(800)))
    (tmp_path / "cnn-seed0" / "predictions.npy").unlink()
    with pytest.raises(ValueError, match="without predictions.npy, which the paired test needs"):
        study.finished(tmp_path, [("cnn", 0)])


# --- summary ----------------------------------------------------------------------------

def test_summary_gives_means_gaps_and_paired_tests():
    rows = rows_of({"cnn_lstm": 0.71, "cnn": 0.80, "head_dense": 0.79},
                   extra={("head_dense", 1): 0.77, ("head_dense", 2): 0.78}, missing=[("cnn", 1)])
    dense = rows["head_dense"]
    assert dense["seeds"] == [0, 1, 2] and dense["planned_seeds"] == [0, 1, 2]
    assert dense["mean"] == pytest.approx(0.78) and dense["std"] == pytest.approx(0.01)
    assert dense["gap_cnn"] == pytest.approx(-0.02) and dense["gap_cnn_lstm"] == pytest.approx(0.07)
    # the paired test is seed 0 against seed 0: right on the first 790 images against the first 800
    assert dense["vs_cnn"]["b"] == 0 and dense["vs_cnn"]["c"] == 10 and dense["vs_cnn"]["p_value"] < 0.01
    assert dense["vs_cnn_lstm"]["b"] == 80 and dense["vs_cnn_lstm"]["c"] == 0
    assert dense["wall_time_s"] == pytest.approx(700 / 3) and dense["images_per_s"] == pytest.approx(1000 / 3)
    assert [run["seed"] for run in dense["runs"]] == [0, 1, 2]
    assert rows["cnn"]["vs_cnn"] is None and rows["cnn"]["gap_cnn_lstm"] == pytest.approx(0.09)
    assert rows["cnn"]["planned_seeds"] == [0, 1] and rows["cnn"]["std"] is None
    assert dense["params"] == study.params("head_dense") and dense["lr"] == PEAK_LR["cnn_lstm"]


# --- the command ----------------------------------------------------------------------------

def test_report_only_with_no_finished_run_says_so(tmp_path, capsys):
    argv = ["--study", "--report-only", "--out", str(tmp_path / "study"),
            "--data-dir", str(tmp_path / "none")]
    assert reproduce.main(argv) == 2
    assert "no finished run in" in capsys.readouterr().err
    assert reproduce.main(["--variants", "cnn"]) == 2
    assert "--variants chooses runs of the study: add --study" in capsys.readouterr().err


@pytest.mark.slow
def test_small_study_trains_seed_zero_then_the_rule_s_seeds_then_nothing(tmp_path, cifar_root, capsys,
                                                                          monkeypatch):
    monkeypatch.setattr(study, "CLOSE", 1.0)          # every variant is close to the CNN at this tiny budget
    monkeypatch.setattr(study, "EXTRA_SEEDS", (1,))   # one more seed is enough to show the rule at work
    argv = ["--study", "--small", "--variants", "cnn", "reading_rows", "--epochs", "1",
            "--out", str(tmp_path / "study"), "--data-dir", str(cifar_root), "--threads", "1"]
    assert reproduce.main(argv) == 0
    out = capsys.readouterr().out
    assert "[run 1/2] cnn seed 0: epoch 1/1" in out and "[run 2/2] reading_rows seed 0: epoch 1/1" in out
    assert "seed 0 of every run is finished: training the seeds the rule adds" in out
    assert "[run 3/4] reading_rows seed 1: epoch 1/1" in out and "[run 4/4] cnn seed 1: epoch 1/1" in out

    runs = tmp_path / "study" / "runs"
    for folder in ("cnn-seed0", "cnn-seed1", "reading_rows-seed0", "reading_rows-seed1"):
        answers = np.load(runs / folder / "predictions.npy")
        assert answers.dtype == np.uint8 and answers.shape == (1000,)
    saved = json.loads((tmp_path / "study" / "study.json").read_text())
    rows = saved["rows"]
    assert rows["reading_rows"]["seeds"] == [0, 1] and rows["reading_rows"]["std"] is not None
    assert rows["reading_rows"]["epochs"] == 1
    assert rows["reading_rows"]["model_options"] == {"reading": "rows"}
    test = rows["reading_rows"]["vs_cnn"]
    accuracy = [rows[name]["runs"][0]["test_accuracy"] for name in ("reading_rows", "cnn")]
    assert (test["b"] - test["c"]) / 1000 == pytest.approx(accuracy[0] - accuracy[1])
    assert saved["conclusion"][0].startswith("The gap between the CNN-LSTM and the CNN cannot be measured")
    for name in ("study.md", "study.png"):
        assert (tmp_path / "study" / name).is_file()

    assert reproduce.main(argv) == 0  # everything finished: trains nothing
    again = capsys.readouterr().out
    assert again.count("finished earlier, skipped") == 4 and "epoch 1/1" not in again


@pytest.mark.slow
def test_evaluate_and_predict_work_on_a_variant(tmp_path, cifar_root, capsys):
    from PIL import Image

    run = tmp_path / "rows"
    assert train.main(["--model", "cnn_lstm", "--reading", "rows", "--readout", "mean", "--hidden", "16",
                       "--train-size", "64", "--test-size", "50", "--val-size", "0", "--epochs", "1",
                       "--batch-size", "32", "--no-progress", "--threads", "1", "--out", str(run),
                       "--data-dir", str(cifar_root), "--no-download"]) == 0
    model, _ = load_model(run / "checkpoint.npz")
    assert model.options["reading"] == "rows" and model.options["hidden"] == 16
    assert evaluate.main([str(run), "--data-dir", str(cifar_root)]) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert json.loads((run / "evaluation.json").read_text())["test_size"] == 10000
    picture = np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    Image.fromarray(picture).save(tmp_path / "a.png")
    assert predict.main([str(run), str(tmp_path / "a.png")]) == 0
    assert capsys.readouterr().out.count("%") == 3


def test_report_only_writes_the_study_from_finished_runs_and_names_the_rest(tmp_path, cifar_root, capsys):
    from scratchnet.cifar10 import load_cifar10

    labels = load_cifar10(cifar_root)[3][:N]
    for name, right in (("cnn", 800), ("head_dense", 797)):
        answers = np.where(np.arange(N) < right, labels, (labels + 1) % 10).astype(np.uint8)
        write_run(tmp_path / "runs", name, 0, (fake(first(right))[0], answers))  # right on the first ones
    argv = ["--study", "--report-only", "--variants", "cnn", "head_dense", "--runs", str(tmp_path / "runs"),
            "--out", str(tmp_path / "study"), "--data-dir", str(cifar_root)]
    assert reproduce.main(argv) == 0
    assert "[run 3/6] head_dense seed 1: not finished" in capsys.readouterr().out  # the rule's seeds
    rows = json.loads((tmp_path / "study" / "study.json").read_text())["rows"]
    assert rows["head_dense"]["vs_cnn"]["b"] == 0 and rows["head_dense"]["vs_cnn"]["c"] == 3
    assert rows["head_dense"]["planned_seeds"] == [0, 1, 2] and rows["head_dense"]["seeds"] == [0]
    assert "Not finished: cnn seed 1, cnn seed 2, head_dense seed 1, head_dense seed 2." in \
        (tmp_path / "study" / "study.md").read_text()


def test_a_seed_trained_before_the_rule_asks_for_it_is_reported(tmp_path, cifar_root):
    from scratchnet.cifar10 import load_cifar10

    labels = load_cifar10(cifar_root)[3][:N]
    for name, seed, right in (("cnn", 0, 800), ("head_dense", 0, 797), ("head_dense", 1, 803)):
        answers = np.where(np.arange(N) < right, labels, (labels + 1) % 10).astype(np.uint8)
        write_run(tmp_path / "runs", name, seed, (fake(first(right))[0], answers))
    argv = ["--study", "--report-only", "--variants", "cnn", "head_dense", "reading_rows",
            "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "study"), "--data-dir", str(cifar_root)]
    assert reproduce.main(argv) == 0   # reading_rows seed 0 is missing: the rule has not decided yet
    row = json.loads((tmp_path / "study" / "study.json").read_text())["rows"]["head_dense"]
    assert row["planned_seeds"] == [0] and row["seeds"] == [0, 1] and row["mean"] == pytest.approx(0.8)
    assert "80.0% ± 0.4% (2 seeds)" in (tmp_path / "study" / "study.md").read_text()
