"""scratchnet.perfpage: the performance page from the history alone, figures of one sitting only."""

import json
from pathlib import Path

import pytest

from scratchnet.history import read_history, record
from scratchnet.perfpage import render, write_page

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def algorithms(sitting, scale=1.0):
    """An ``algorithms`` line whose medians are simple numbers times ``scale``; CPU times differ."""
    conv1 = {"conv2d": 150, "nchw": 100, "nchw_blocks": 110, "numba_direct": 400}
    conv1 = {name: ms * scale for name, ms in conv1.items()}
    return {
        "kind": "algorithms", "sitting": sitting, "rounds": 8, "commit": "abc1234",
        "load_avg_1min": [1.0, 1.5],
        "blas": {"library": "openblas", "version": "0.3", "kernel": "Haswell", "threads": 1},
        "gemm_peak_gflops": 100.0, "mflop_per_img": 125.0,
        "conv1": {"128": conv1, "64": {k: v / 2 for k, v in conv1.items()}},
        "conv2": {"128": {"tile2": 90 * scale, "tile4": 60 * scale}, "64": {"tile2": 45, "tile4": 30}},
        "lstm": {"128": {"steps": 52 * scale, "sequence": 40 * scale}, "64": {"steps": 30, "sequence": 20}},
        "train_step": {"1": {"before": 240 * scale, "after": 200 * scale},
                       "2": {"before": 150 * scale, "after": 100 * scale}},
        "cpu": {"gemm_peak_gflops": 100.0,
                "conv1": {"128": conv1, "64": conv1},
                "conv2": {"128": {"tile2": 90, "tile4": 60}, "64": {"tile2": 45, "tile4": 36}},
                "lstm": {"128": {"steps": 60, "sequence": 40}, "64": {"steps": 30, "sequence": 20}},
                "train_step": {"1": {"before": 240, "after": 250}, "2": {"before": 300, "after": 200}}},
    }


def history(tmp_path, lines):
    path = tmp_path / "history.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_the_latest_sitting_alone_gives_the_ratios_and_the_targets(tmp_path):
    twin = {"kind": "torch_twin", "sitting": "new", "torch": "2.0", "mkldnn": True,
            "load_avg_1min": [2.0, 2.5],
            "train_step": {"1": {"ms": 300.0, "cpu_ms": 500.0}, "2": {"ms": 140.0, "cpu_ms": 280.0}}}
    old_twin = dict(twin, sitting="old", train_step={"1": {"ms": 9.0}, "2": {"ms": 9.0}})
    lines = [algorithms("old", scale=7.0), old_twin, algorithms("new"), algorithms("new", scale=1.0), twin]
    page = render(read_history(history(tmp_path, lines)))
    assert "Latest sitting: `new`, 2 run(s) of conv1_lstm.py and 1 of torch_twin.py" in page
    assert "load average 1.0-2.5 on two cores. The machine was crowded" in page
    assert "| conv1 forward + backward, Conv2DNCHW against Conv2D | 1.50x | 1.50x (met) | 1.50x (met) |" \
        in page
    assert "| LSTM forward + backward, against the step loop | 1.30x | 1.30x (met) | 1.50x (met) |" in page
    # 128 images * 125 MFLOP in 200 ms = 80 GFLOP/s, 80% of 100; by CPU time 250 ms, 64%
    assert "| step at one thread, share of the one-core ceiling | 80% | 80% (met) | 64% (not met) |" \
        in page
    assert "| step against PyTorch's, 1 thread | 1.40x | 1.50x (met) | 2.00x (met) |" in page
    assert "| step against PyTorch's, 2 threads | 1.50x | 1.40x (not met) | - |" in page
    assert "| epoch on two cores, before / after (from step time) | 1.10x | 1.50x (met) | - |" in page
    assert "The others' time against `Conv2DNCHW`'s: nchw_blocks 1.10x, numba_direct 4.00x" in page
    # blocks 110 ms, nchw 100, step 200
    assert "here `nchw_blocks` cost 10.0 ms, 5.0% of the training step" in page
    assert "| 128 | wall | 90.0 | 60.0 | 1.50x |" in page and "| 64 | cpu | 45.0 | 36.0 | 1.25x |" in page
    # an epoch is 391 steps: 59 s before, 39 s after
    assert "| 2 | wall | 150 | 100 | 1.50x | 1280 | 80% | 59 | 39 | 140 | 1.40 |" in page
    assert "| 2 | cpu |" not in page  # two threads' CPU time adds both: no speed


def test_every_sitting_keeps_its_own_figures_in_the_table_of_sittings(tmp_path):
    twin = {"kind": "torch_twin", "sitting": "new", "torch": "2.0", "mkldnn": True,
            "train_step": {"1": {"ms": 300.0, "cpu_ms": 500.0}, "2": {"ms": 140.0, "cpu_ms": 280.0}}}
    slow = algorithms("old", scale=2.0)
    slow["lstm"]["128"]["steps"] = 2 * 60.0   # the old sitting's LSTM: 1.50x; the new one's 52 / 40
    page = render(read_history(history(tmp_path, [slow, algorithms("new"), twin])))
    table = page.split("## The targets in every sitting")[1]
    # old: step 400 ms -> 128 * 125 / 400 / 100 = 40% of peak; no PyTorch twin in that sitting
    assert "| `old` | abc1234 | Haswell | 100 | 1.50x | 1.50x | 40% | - | 1.50x | - |" in table
    assert "| `new` | abc1234 | Haswell | 100 | 1.50x | 1.30x | 80% | 1.50x | 1.50x | 1.40x |" in table
    assert "| LSTM forward + backward, against the step loop | 1.30x | 1.30x (met)" in page  # the latest


def test_start_up_is_read_from_its_latest_sitting_against_its_limits(tmp_path):
    def startup(sitting, cold, cached):
        return {"kind": "startup", "sitting": sitting, "cold": {"wall_s": cold, "cpu_s": cold - 1},
                "cached": {"wall_s": cached, "cpu_s": cached / 2}}

    lines = [startup("old", 30.0, 5.0), startup("new", 9.0, 1.5), startup("new", 11.0, 1.7)]
    page = render(read_history(history(tmp_path, lines)))
    assert "| cold | under 10 s | 10.00 s (not met) | 9.00 s (met) |" in page
    assert "| cached | under 1 s | 1.60 s (not met) | 0.80 s (met) |" in page
    assert "| Numba alone, cached" not in page   # sittings before it was measured
    lines[-1]["numba_floor"] = {"wall_s": 1.2, "cpu_s": 0.7}   # measured since: the floor under cached
    page = render(read_history(history(tmp_path, lines)))
    assert "| Numba alone, cached | - | 1.20 s | 0.70 s |" in page


def test_a_measurement_is_stamped_printed_and_appended(tmp_path, capsys):
    path = tmp_path / "history.jsonl"
    path.write_text('{"kind": "old"}')  # no final newline: the new line still starts a line of its own
    line = record({"kind": "startup"}, 0.5, sitting="today", history=path)
    assert line["sitting"] == "today" and line["load_avg_1min"][0] == 0.5 and line["commit"]
    assert json.loads(capsys.readouterr().out) == line
    assert read_history(path) == [{"kind": "old"}, line]


def test_bench_runs_are_listed_and_a_history_without_sittings_still_renders(tmp_path):
    runs = read_history(BENCHMARKS / "history.jsonl")
    bench = [line for line in runs if "kind" not in line]
    page = render(read_history(history(tmp_path, bench)))
    assert page.startswith("# Performance") and "Latest sitting" not in page
    assert page.count(f"| {bench[-1]['commit']} |") >= 1 and len(bench) + 3 <= page.count("\n|") + 1


def test_a_line_that_is_not_a_json_object_is_refused_by_its_number(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_text('{"threads": 1}\n\n[1, 2]\n')
    with pytest.raises(ValueError, match=r"line 3: wanted a JSON object, got list"):
        read_history(path)
    path.write_text('{"threads": 1}\n{"threads": \n')
    with pytest.raises(ValueError, match=r"line 2: not JSON"):
        read_history(path)


def test_the_committed_page_is_the_history_rendered(tmp_path):
    # the page is never edited by hand: regenerating it from the committed history changes nothing
    out = tmp_path / "README.md"
    write_page(BENCHMARKS / "history.jsonl", out)
    assert out.read_text() == (BENCHMARKS / "README.md").read_text()


def test_the_grid_s_wall_time_is_read_from_its_latest_sitting_and_expects_no_gain_on_two_cores(tmp_path):
    def grid(sitting, alone, local):
        return {"kind": "cluster_grid", "sitting": sitting, "rounds": 1, "cores": 2, "workers": 2,
                "threads_per_worker": 1, "wall_s": {"one_after_another": alone, "local_2": local},
                "grid": {"models": ["cnn_lstm", "cnn"], "seeds": [0, 1], "epochs": 1, "small": True,
                         "runs": 4}}

    unmeasured = render(read_history(history(tmp_path, [algorithms("new")])))
    assert "## Grid wall time" in unmeasured and "**No gain is expected on two cores**" in unmeasured
    assert "Not measured yet: `python benchmarks/cluster_grid.py --sitting LABEL" in unmeasured
    lines = [grid("old", 900.0, 100.0), grid("new", 300.0, 330.0), grid("new", 320.0, 340.0)]
    page = render(read_history(history(tmp_path, lines)))
    assert "| cnn_lstm, cnn; seeds 0, 1; 1 epoch, --small | 4 | 2 | 310 s | 335 s (2 x 1) | 1.08x |" in page
    assert "Not measured yet" not in page
