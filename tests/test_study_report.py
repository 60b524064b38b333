"""scratchnet.study_report: the study's table, JSON and chart, the same bytes for the same runs."""

import json

from study_fakes import rows_of

from scratchnet import study, study_report


def test_the_study_files(tmp_path):
    rows = rows_of({"cnn_lstm": 0.713, "cnn": 0.793, "head_dense": 0.76}, missing=[("reading_rows", 0)])
    said = study.conclusion(rows)
    study_report.write_results(rows, said, tmp_path, "python -m scratchnet.reproduce --study")
    markdown = (tmp_path / "study.md").read_text()
    assert "| reading_rows | the reading order |" in markdown and "| not finished |" in markdown
    assert "| head_dense | the head |" in markdown and "| 76.0% (1 seed) | -3.3; 0 / 33, p = " in markdown
    assert all(f"- {sentence}" in markdown for sentence in said)
    assert "It compares two trained networks; the spread over seeds (± std) compares the architectures" \
        in markdown
    saved = json.loads((tmp_path / "study.json").read_text())
    assert saved["conclusion"] == said and saved["rows"]["head_dense"]["vs_cnn"]["c"] == 33
    picture = (tmp_path / "study.png").read_bytes()
    assert picture[:4] == b"\x89PNG"
    study_report.write_results(rows, said, tmp_path, "python -m scratchnet.reproduce --study")
    assert (tmp_path / "study.png").read_bytes() == picture  # the same runs, the same files
