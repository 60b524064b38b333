"""scratchnet.table1: the table from the runs' summaries alone, the same bytes for the same runs."""

from scratchnet.table1 import NOT_RECORDED, PAPER, run_config, summarise, write_results


def summary(accuracy, seed, **extra):
    return {"test_accuracy": accuracy, "epochs": 30, "wall_time_s": 600.0 + seed, "train_images_per_s": 900.0,
            "threads": 2, "test_accuracy_per_epoch": [accuracy - 0.1, accuracy], **extra}


def test_rows_have_mean_spread_and_provenance():
    rows = summarise({"cnn": [summary(0.79, 0, commit="abc1234", data="official"), summary(0.80, 1)],
                      "lstm": [summary(0.62, 0)]})
    assert rows["cnn"]["mean"] == 0.795 and rows["cnn"]["seeds"] == 2 and rows["cnn"]["std"] > 0
    assert rows["lstm"]["std"] is None  # one seed has no spread: none is printed
    assert rows["cnn"]["commits"] == ["abc1234", NOT_RECORDED] and rows["lstm"]["data"] == [NOT_RECORDED]
    assert rows["cnn"]["paper"] == PAPER["cnn"]


def test_files_are_the_same_bytes_when_nothing_changed(tmp_path):
    rows = summarise({"cnn": [summary(0.79, 0), summary(0.80, 1)], "gru": [summary(0.63, 0)]})
    write_results(rows, tmp_path / "a", "python -m scratchnet.reproduce --report-only")
    write_results(rows, tmp_path / "b", "python -m scratchnet.reproduce --report-only")
    for name in ("table1.md", "table1.json", "table1.png", "curves.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    markdown = (tmp_path / "a" / "table1.md").read_text()
    assert "| GRU | 46% | 63.0% (1 seed) |" in markdown and "± 0.0%" not in markdown


def test_runs_of_the_table_use_every_training_image():
    assert run_config("cnn", 1, 30, small=False).val_size == 0
    assert run_config("cnn", 1, 2, small=True).small
