"""Every lesson runs top to bottom in a fresh kernel, so none can go stale; and its exercises teach.

A lesson ends in exercises. Each has a cell where the student's answer goes (tagged ``answer``) and,
below it, a solution folded into a markdown ``<details>`` block (tagged ``solution``): Run All, or
``jupyter nbconvert --execute``, never runs a solution, so it can neither show the answer nor
overwrite the student's. The tests run each lesson once, in fast mode, with its solutions and then
one wrong answer per check appended (``lesson_answers.WRONG_ANSWERS``), and read the outputs: an
untouched answer cell prints "not yet", its solution "correct", and a wrong answer's message says
what is wrong without giving the right value away.
"""

import functools
import json
import re
from pathlib import Path

import nbformat
import pytest
from lesson_answers import WRONG_ANSWERS
from nbclient import NotebookClient

LESSONS = Path(__file__).resolve().parent.parent / "lessons"
NOTEBOOKS = sorted(LESSONS.glob("*.ipynb"))
SOLUTION = re.compile(r"<details>\s*<summary>Solution.*?</summary>\s*```python\n(.*?)\n```\s*</details>",
                      re.DOTALL)
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")
lesson = pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)


def tagged(cell, tag):
    return tag in cell.metadata.get("tags", [])


def exercises(notebook):
    """(answer cell, solution code) of every exercise, in order; raises if they do not pair up."""
    answers = [cell for cell in notebook.cells if tagged(cell, "answer")]
    solutions = [SOLUTION.search(cell.source) for cell in notebook.cells if tagged(cell, "solution")]
    return list(zip(answers, [match and match.group(1) for match in solutions], strict=True))


def role(cell):
    """An exercise's statement, its answer cell or its solution; None for the rest of a lesson."""
    if "**Exercise" in cell.source:
        return "statement"
    return next((tag for tag in ("answer", "solution") if tagged(cell, tag)), None)


def shown(cell):
    """Everything a cell showed: its printed text, and a marker for any other output."""
    return "".join(output.text if output.output_type == "stream" else f"<{output.output_type}>"
                   for output in cell.get("outputs", []))


def gives_away(token, value):
    """Whether a number printed as ``token`` is ``value``, rounded to the digits the token shows."""
    token = token.replace(",", "")
    digits = len(token.lstrip("-").split("e")[0].replace(".", "").lstrip("0")) or 1
    # one digit gives nothing away (the "1" of "1 - lr"), unless the value is that whole number
    plain = digits >= 2 or "e" in token or float(value).is_integer()
    return plain and float(token) == float(f"{value:.{digits}g}")


@functools.cache
def run(path, data_root):
    """The lesson run in fast mode, then its solutions, then a wrong answer to each check.

    Returns the executed cells of the lesson, of its solutions, and of its wrong answers (each
    followed by a cell that prints, as JSON, the right values its message must not show).
    """
    notebook = nbformat.read(path, as_version=4)
    solutions = [nbformat.v4.new_code_cell(code) for _, code in exercises(notebook)]
    wrong = []
    for call, right in WRONG_ANSWERS.get(path.stem, []):
        values = f"[v if isinstance(v, str) else float(v) for v in {right}]"
        wrong += [nbformat.v4.new_code_cell(call),
                  nbformat.v4.new_code_cell(f"print(__import__('json').dumps({values}))")]
    ran = nbformat.v4.new_notebook(cells=notebook.cells + solutions + wrong, metadata=notebook.metadata)
    with pytest.MonkeyPatch.context() as patch:  # the kernel inherits the environment
        patch.setenv("SCRATCHNET_FAST", "1")  # shrink training runs to test size
        patch.setenv("SCRATCHNET_DATA", str(data_root))
        patch.setenv("MPLBACKEND", "Agg")
        NotebookClient(ran, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(LESSONS)}}).execute()
    lesson_end, solutions_end = len(notebook.cells), len(notebook.cells) + len(solutions)
    return ran.cells[:lesson_end], ran.cells[lesson_end:solutions_end], ran.cells[solutions_end:]


def test_there_are_lessons():
    assert len(NOTEBOOKS) >= 8, [path.name for path in NOTEBOOKS]


@lesson
def test_committed_notebook_has_no_outputs(path):
    # Outputs are made by running the notebook, never committed: they could disagree with the code.
    notebook = nbformat.read(path, as_version=4)
    stale = [k for k, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count)]
    assert not stale, f"{path.name}: cells {stale} carry outputs; clear them (see lessons/README.md)"


@lesson
def test_every_exercise_has_an_answer_cell_then_a_folded_solution(path):
    notebook = nbformat.read(path, as_version=4)
    pairs = exercises(notebook)
    assert len(pairs) >= 2 and all(code for _, code in pairs), "a solution is not a <details> block of python"
    # a solution lives only in markdown, which Run All does not execute
    assert not [cell for cell in notebook.cells if cell.cell_type == "code" and tagged(cell, "solution")]
    order = [kind for kind in map(role, notebook.cells) if kind]
    assert order == ["statement", "answer", "solution"] * len(pairs), order


@pytest.mark.slow
@lesson
def test_lesson_runs_top_to_bottom_then_its_solutions(path, cifar_root):
    # nbclient raises CellExecutionError, naming the failing cell, on any error: in the lesson, or in
    # a solution run after it (the open-ended ones included)
    run(path, cifar_root)


@pytest.mark.slow
@lesson
def test_untouched_answers_say_not_yet_and_solutions_say_correct(path, cifar_root):
    cells, solutions, _ = run(path, cifar_root)
    answers = [cell for cell in cells if tagged(cell, "answer")]
    checked = [(answer, solution) for answer, solution in zip(answers, solutions)
               if "check_" in answer.source]
    for answer, solution in checked:
        # the verdict is all the cell shows: one line, and no returned value
        assert shown(answer).startswith("not yet: ") and shown(answer).count("\n") == 1, shown(answer)
        assert shown(solution).startswith("correct"), shown(solution)
        assert "<execute_result>" not in shown(answer) + shown(solution)
    assert len(checked) >= 2
    assert all(shown(answer) == "" for answer in answers if "check_" not in answer.source)


@pytest.mark.slow
@lesson
def test_a_wrong_answer_is_told_what_is_wrong_not_the_answer(path, cifar_root):
    notebook = nbformat.read(path, as_version=4)
    source = "\n".join(cell.source for cell in notebook.cells)
    checks = re.findall(r"^def (check_\w+)\(", source, re.MULTILINE)
    assert sorted(checks) == sorted(call.split("(")[0] for call, _ in WRONG_ANSWERS[path.stem])
    _, _, wrong = run(path, cifar_root)
    for (call, _), message, right in zip(WRONG_ANSWERS[path.stem], wrong[::2], wrong[1::2]):
        message = shown(message)
        assert message.startswith("not yet: ") and message.count("\n") == 1, (call, message)
        for value in json.loads(shown(right)):
            if isinstance(value, str):
                assert value not in message, (call, message, value)
            else:
                given = [n for n in NUMBER.findall(message) if gives_away(n, value)]
                assert not given, (call, message, value)
