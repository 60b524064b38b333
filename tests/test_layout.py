"""The shape of the code base: short modules, thin commands, lessons on the library, no stale facts."""

import ast
import json
import re
from pathlib import Path

import pytest

from scratchnet.__main__ import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "scratchnet"
MODULES = sorted(PACKAGE.rglob("*.py"))
COMMAND_MODULES = {f"scratchnet.{name}" for name in COMMANDS}
MAX_LINES = 300


def imported(source):
    """The modules a piece of Python source imports (``from a.b import c`` gives a.b and a.b.c)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def lesson_sources():
    for path in sorted((ROOT / "lessons").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        yield path, "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_module_is_longer_than_a_screenful_or_two(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines; split it (at most {MAX_LINES})"


def test_every_command_is_listed_and_exists():
    assert {path.stem for path in PACKAGE.glob("*.py")} >= set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMAND_MODULES))
def test_no_command_imports_another(command):
    source = (PACKAGE / f"{command.split('.')[1]}.py").read_text()
    assert not (imported(source) & (COMMAND_MODULES - {command})), f"{command} imports a command"


def test_the_library_imports_no_command():
    for path in MODULES:
        name = "scratchnet." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        if name not in COMMAND_MODULES:
            assert not (imported(path.read_text()) & COMMAND_MODULES), f"{name} imports a command"


def test_lessons_import_library_modules_only():
    for path, source in lesson_sources():
        assert not (imported(source) & COMMAND_MODULES), f"{path.name} imports a command module"


def test_only_the_cifar10_reader_and_the_workers_pipe_unpickle():
    # CIFAR-10 ships as pickles, and scratchnet.parallel's pipe joins a run's own processes; nothing
    # a user hands over (a checkpoint, a run's files) is ever unpickled
    for path in MODULES:
        if path.name not in ("cifar10.py", "parallel.py"):
            assert not re.search(r"\bpickle\b", path.read_text()), f"{path.relative_to(ROOT)} uses pickle"


STALE = re.compile(r"\bissue \d+|\.\./shared|\bcommit [0-9a-f]{7,40}\b|\bat [0-9a-f]{7}\b")


def test_no_tracker_numbers_commit_hashes_or_test_machine_paths():
    places = [*MODULES, *sorted((ROOT / "tests").glob("*.py")), ROOT / "README.md",
              ROOT / "lessons" / "README.md"]
    for path in places:
        if path != Path(__file__).resolve():
            found = STALE.findall(path.read_text())
            assert not found, f"{path.relative_to(ROOT)} mentions {found}"
    for path, source in lesson_sources():
        text = path.read_text()
        assert not STALE.findall(text), f"{path.name} mentions {STALE.findall(text)}"
