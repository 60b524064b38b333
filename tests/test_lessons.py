"""Every lesson runs top to bottom in a fresh kernel, so none can go stale."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

LESSONS = Path(__file__).resolve().parent.parent / "lessons"
NOTEBOOKS = sorted(LESSONS.glob("*.ipynb"))


def test_there_are_lessons():
    assert len(NOTEBOOKS) >= 8, [path.name for path in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_committed_notebook_has_no_outputs(path):
    # Outputs are made by running the notebook, never committed: they could disagree with the code.
    notebook = nbformat.read(path, as_version=4)
    stale = [k for k, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count)]
    assert not stale, f"{path.name}: cells {stale} carry outputs; clear them (see lessons/README.md)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_lesson_runs_top_to_bottom(path, cifar_root, monkeypatch):
    monkeypatch.setenv("SCRATCHNET_FAST", "1")  # shrink training runs to CI size
    monkeypatch.setenv("SCRATCHNET_DATA", str(cifar_root))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(LESSONS)}})
    client.execute()  # raises CellExecutionError, with the failing cell, on any error
