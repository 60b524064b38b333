"""``python -m scratchnet.bench``: how fast scratchnet trains, and why.

Times a whole training step of each model, every layer of the paper's CNN-LSTM and every
Numba kernel against its plain NumPy reference (``scratchnet.benchmark`` says how), and
prints the tables. ``--append FILE`` adds the run's JSON line to a history;
the performance page (``benchmarks/README.md``) is made from that history.
"""

import argparse
import json
import sys
from pathlib import Path

from scratchnet import cli, files
from scratchnet.benchmark import CHEAP_LAYERS, FULL, QUICK, run
from scratchnet.machine import usable_cores
from scratchnet.models import MODEL_NAMES
from scratchnet.perfpage import write_page

HISTORY, PAGE = Path("benchmarks/history.jsonl"), Path("benchmarks/README.md")

# ------------------------------------------------------------------ the report

def report(result):
    """The human-readable tables."""
    blas, n = result["blas"], result["batch_size"]
    lines = [
        f"scratchnet benchmark, float32, batch {n}: medians of {result['repeats']} repeats after warm-up, "
        f"spread = interquartile range",
        f"threads {result['threads']} (each batch split across them; BLAS on one thread per call); "
        f"BLAS {blas['library']} {blas['version']}, kernel {blas['kernel']}",
        f"load average {result['load_avg_1min']:.2f}; commit {result['commit']}; {result['date']}",
        f"float32 GEMM peak on one core ({result['gemm_size']} x {result['gemm_size']} np.matmul): "
        f"{result['gemm_peak_gflops']:.1f} GFLOP/s",
        "",
        "Training step (forward, backward, clip, SGD update)",
        f"{'model':<10} {'threads':>7} {'ms':>8} {'spread':>7} {'img/s':>7} {'MFLOP/img':>9} {'GFLOP/s':>8} "
        f"{'of peak':>8} {'ceiling':>8} {'speed-up':>8}",
    ]
    timings = [(1, result["train_step_1_thread"])]
    if result["threads"] > 1:
        timings.append((result["threads"], result["train_step"]))
    for name in result["train_step"]:
        for threads, steps in timings:
            s = steps[name]
            # every FLOP at the peak
            ceiling = threads * result["gemm_peak_gflops"] * 1e3 / s["mflop_per_img"]
            speedup = s["img_per_s"] / result["train_step_1_thread"][name]["img_per_s"]
            lines.append(f"{name:<10} {threads:>7} {s['ms']:8.1f} {s['spread_ms']:7.1f} "
                         f"{s['img_per_s']:7.0f} {s['mflop_per_img']:9.1f} {s['gflops']:8.1f} "
                         f"{s['share_of_peak']:8.1%} {ceiling:8.0f} {speedup:7.2f}x")
    lines.append("(ceiling: images/s if every FLOP ran at the GEMM peak on every thread; "
                 "of peak = img/s / ceiling)")

    step = result["train_step_1_thread"].get("cnn_lstm")
    lines += ["", f"Layers of cnn_lstm, one thread (ms; share of the one-thread cnn_lstm step"
                  f"{'' if step else ': not measured'})",
              f"{'layer':<7} {'input':<18} {'forward':>8} {'backward':>8} {'GFLOP/s':>8} {'of step':>8}"]
    cheap = 0.0
    layers = dict(result["layers"])
    direct = layers.pop("conv2_im2col", None)  # absent from history lines before it was timed
    for name, s in layers.items():
        both = s["fwd_ms"] + s["bwd_ms"]
        cheap += both if name.startswith(CHEAP_LAYERS) else 0.0
        gflops = f"{s['gflops']:8.1f}" if s["gflops"] else f"{'-':>8}"
        share = f"{both / step['ms']:8.1%}" if step else f"{'-':>8}"
        lines.append(f"{name:<7} {str(tuple(s['shape'])):<18} {s['fwd_ms']:8.2f} {s['bwd_ms']:8.2f} "
                     f"{gflops} {share}")
    if step:
        lines.append(f"ReLU, pooling and LRN together: {cheap / step['ms']:.1%} of the step")
    if direct:
        winograd_ms = layers["conv2"]["fwd_ms"] + layers["conv2"]["bwd_ms"]
        lines.append("conv2 is WinogradConv2D, its GFLOP/s counted as direct convolution; "
                     f"conv2_im2col (Conv2D, same weights): {direct['fwd_ms']:.2f} + "
                     f"{direct['bwd_ms']:.2f} ms, "
                     f"{(direct['fwd_ms'] + direct['bwd_ms']) / winograd_ms:.2f}x Winograd's time")

    lines += ["", "Kernels: plain NumPy reference (naive) against Numba (fast), same input",
              f"{'kernel':<24} {'input':<18} {'naive ms':>9} {'fast ms':>8} {'speed-up':>8} "
              f"{'rel. error':>10}"]
    for name, k in result["kernels"].items():
        lines.append(f"{name:<24} {str(tuple(k['shape'])):<18} {k['naive_ms']:9.2f} {k['fast_ms']:8.2f} "
                     f"{k['speedup']:7.1f}x {k['relative_error']:10.1e}")
    return "\n".join(lines)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m scratchnet.bench",
        description="Time scratchnet's training step, layers and kernels (float32) against the machine's "
                    "matrix-multiply peak. For comparable figures, run on a quiet machine.")
    parser.add_argument("--threads", type=int, default=usable_cores(),
                        help="also time the training steps with each batch split across this many cores, "
                             "one process each (default: every core); while other programs keep "
                             "a core busy, more than one can be several times slower, not faster")
    parser.add_argument("--models", nargs="+", choices=MODEL_NAMES, default=list(MODEL_NAMES),
                        help="models whose training step to time (default: all)")
    parser.add_argument("--repeats", type=cli.positive_int,
                        help=f"timed calls per measurement (default {FULL['repeats']})")
    parser.add_argument("--quick", action="store_true",
                        help=f"batch {QUICK['batch_size']}, {QUICK['repeats']} repeats, a small GEMM: "
                             "checks that the benchmark runs, the figures mean little")
    cli.add_model_options(parser, ("conv1", "conv2"))
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of the tables")
    parser.add_argument("--append", metavar="FILE",
                        help="also append the JSON line to this .jsonl history")
    parser.add_argument("--page", action="store_true",
                        help=f"measure nothing: rebuild the performance page {PAGE} "
                             f"from the history {HISTORY}")
    return parser


@cli.interruptible
def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.page:
        try:
            write_page(HISTORY, PAGE)
        except (OSError, ValueError) as error:
            return cli.fail(f"cannot rebuild {PAGE} from {HISTORY} ({error}); "
                            "run it from the repository's root")
        print(f"wrote {PAGE}")
        return 0
    history = Path(args.append) if args.append else None
    if history is not None and history.is_dir():
        return cli.fail(f"--append {history} is a folder; name a .jsonl file")
    try:  # before minutes of measuring: the history can be read and written
        if history is not None:
            if history.is_file():
                history.read_text(encoding="utf-8")  # one that is not text fails now, not after measuring
            files.check_writable(history.parent)
    except (OSError, ValueError) as error:  # a folder in the way, no permission, not a text file
        return cli.fail(f"cannot append to {history} ({error}); choose another --append file")
    try:
        result = run(args.models, threads=args.threads, quick=args.quick, repeats=args.repeats,
                     options=cli.model_options(args, ("conv1", "conv2")))
    except ValueError as error:  # e.g. more threads than the machine has
        return cli.fail(error)
    line = json.dumps(result)
    print(line if args.json else report(result))
    if history is not None:
        try:
            files.append_line(history, line)
        except OSError as error:
            return cli.fail(f"cannot append to {history} ({error}); choose another --append file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
