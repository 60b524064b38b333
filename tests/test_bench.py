"""The benchmark command: its output's structure, and the analytic FLOP count. No timing asserted."""

import contextlib
import io
import json
import os

import pytest

from scratchnet import bench

LAYERS = ["conv1", "pool1", "relu1", "lrn", "conv2", "conv2_im2col", "pool2", "relu2", "lstm", "fc"]
THREADS = min(2, os.cpu_count() or 1)  # the step is also timed split across two threads where there are two
KERNELS = ["im2col", "col2im", "max_pool_forward", "max_pool_backward", "avg_pool_forward",
           "avg_pool_backward", "lrn_forward", "lrn_dx", "winograd_input", "winograd_output",
           "winograd_output_adjoint", "winograd_input_adjoint", "exp_float32"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One --quick run of the CNN-LSTM, as --json with --append: (printed line, history file)."""
    history = tmp_path_factory.mktemp("bench") / "history.jsonl"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        argv = ["--quick", "--models", "cnn_lstm", "--threads", str(THREADS), "--json",
                "--append", str(history)]
        assert bench.main(argv) == 0
    lines = printed.getvalue().splitlines()
    assert len(lines) == 1, "--json prints exactly one line"
    return lines[0], history


def test_json_line_has_every_figure(quick_run):
    line, _ = quick_run
    result = json.loads(line)
    assert result["threads"] == THREADS and result["quick"] is True
    assert set(result["blas"]) >= {"library", "version", "kernel"}
    assert result["gemm_peak_gflops"] > 0
    assert list(result["train_step"]) == ["cnn_lstm"]  # the --models filter
    step = result["train_step"]["cnn_lstm"]
    assert step["ms"] > 0 and step["spread_ms"] >= 0 and step["share_of_peak"] > 0
    assert step["img_per_s"] == pytest.approx(result["batch_size"] / step["ms"] * 1e3)
    assert step["gflops"] == pytest.approx(step["mflop_per_img"] * step["img_per_s"] / 1e3)
    assert step["mflop_per_img"] == pytest.approx(125.492736)  # hand count below
    one_thread = result["train_step_1_thread"]["cnn_lstm"]
    assert one_thread["mflop_per_img"] == step["mflop_per_img"]
    assert result["speedup_vs_1_thread"]["cnn_lstm"] == pytest.approx(step["img_per_s"]
                                                                       / one_thread["img_per_s"])
    # the ceiling of N threads is N one-core peaks
    assert step["share_of_peak"] == pytest.approx(step["gflops"] / (THREADS * result["gemm_peak_gflops"]))


def test_layers_and_kernels_are_all_timed(quick_run):
    result = json.loads(quick_run[0])
    assert list(result["layers"]) == LAYERS
    for name, layer in result["layers"].items():
        assert layer["fwd_ms"] > 0 and layer["bwd_ms"] > 0, name
        assert layer["shape"][0] == result["batch_size"]
        # GFLOP/s only where there are matrix products to count
        with_products = name in ("conv1", "conv2", "conv2_im2col", "lstm", "fc")
        assert (layer["gflops"] is not None and layer["gflops"] > 0) == with_products
    assert result["layers"]["conv2"]["shape"] == [result["batch_size"], 64, 12, 12]
    assert result["layers"]["lstm"]["shape"] == [result["batch_size"], 48, 48]
    assert list(result["kernels"]) == KERNELS
    for name, kernel in result["kernels"].items():
        assert kernel["naive_ms"] > 0 and kernel["fast_ms"] > 0, name
        assert kernel["speedup"] == pytest.approx(kernel["naive_ms"] / kernel["fast_ms"])
        assert kernel["relative_error"] < 1e-5, f"{name}: the Numba kernel disagrees with its reference"


def test_append_writes_the_printed_line(quick_run):
    line, history = quick_run
    assert history.read_text().splitlines() == [line]


def test_report_prints_every_table(quick_run):
    result = json.loads(quick_run[0])
    text = bench.report(result)
    for expected in ["GEMM peak", f"threads {THREADS}", "speed-up", str(result["blas"]["kernel"]), "cnn_lstm",
                     "ReLU, pooling and LRN together", *LAYERS, *KERNELS]:
        assert expected in text


def test_bad_options_are_refused(capsys):
    assert bench.main(["--threads", "0"]) == 2
    assert "--threads 0: must be a whole number from 1 to" in capsys.readouterr().err
