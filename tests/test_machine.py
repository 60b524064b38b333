"""scratchnet.machine: the facts a speed is reported with, and the timer."""

from scratchnet.machine import blas_info, commit, machine_facts, timed, usable_cores


def test_facts_name_cores_and_blas():
    facts = machine_facts()
    assert facts["cores"] == usable_cores() >= 1
    assert set(blas_info()) == {"library", "version", "kernel", "threads"}
    assert commit() is None or len(commit()) >= 7
    assert facts["cpu"] and facts["cpu"] != "", facts   # Linux: the model name, not just "x86_64"


def test_timed_calls_warmup_plus_repeats_and_gives_a_median():
    calls = []
    median, spread = timed(lambda: calls.append(1), repeats=5, warmup=2)
    assert len(calls) == 7 and median >= 0 and spread >= 0
