"""The benchmark history, ``benchmarks/history.jsonl``: one JSON object per measurement.

Every benchmark (``python -m scratchnet.bench --append``, the scripts under ``benchmarks/``)
adds its line through ``record``, which stamps it with the commit, the sitting and the date;
``scratchnet.perfpage`` builds the performance page from ``read_history``.
"""

import datetime
import json
import os
from pathlib import Path

import numpy as np

from scratchnet.files import append_line
from scratchnet.machine import commit


def record(result, load_before, sitting=None, history=None):
    """Stamp ``result``, print it as one JSON line and, with ``history``, append it there; returns it.

    ``load_before`` is the one-minute load average when the measurement began: with the one at
    its end, it says how crowded the machine was.
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    result = dict(result, load_avg_1min=[load_before, os.getloadavg()[0]], commit=commit(),
                  sitting=sitting or now.date().isoformat(), date=now.isoformat(timespec="seconds"))
    line = json.dumps(result)
    print(line)
    if history:
        append_line(history, line)
    return result


def read_history(path):
    """Every line of the history as a dict; a line that is not a JSON object is refused by number."""
    lines = []
    for number, text in enumerate(Path(path).read_text().splitlines(), 1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}, line {number}: not JSON ({error.msg}); fix or delete it") from None
        if not isinstance(line, dict):
            raise ValueError(f"{path}, line {number}: wanted a JSON object, got {type(line).__name__}")
        lines.append(line)
    return lines


def median(lines, *keys):
    """Median over ``lines`` of ``line[keys[0]][keys[1]]...``."""
    values = []
    for line in lines:
        for key in keys:
            line = line[key]
        values.append(line)
    return float(np.median(values))


def fig(lines, clock, *keys):
    """Median of a figure by the wall clock, or by CPU time (kept under ``"cpu"`` in each line)."""
    return median(lines, *(("cpu",) if clock == "cpu" else ()), *keys)


def clocks(runs):
    """Both clocks where every line of the sitting has CPU times, else the wall clock alone."""
    return ("wall", "cpu") if all("cpu" in line for line in runs) else ("wall",)
