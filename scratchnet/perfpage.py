"""The performance page, benchmarks/README.md, written from the benchmark history alone.

``write_page(history_path, out_path)`` reads ``benchmarks/history.jsonl``, one JSON object
per line, of five kinds:

- a run of ``python -m scratchnet.bench --json`` (no ``"kind"``): steps, layers, kernels;
- ``"kind": "algorithms"``, a run of ``benchmarks/conv1_lstm.py``: old and new alternated in
  one run (conv1's algorithms, conv2's tiles, the LSTM, the CNN-LSTM's training step on 1 and
  2 threads);
- ``"kind": "torch_twin"``, a run of ``benchmarks/torch_twin.py``: PyTorch's step, same network;
- ``"kind": "startup"``, a run of ``benchmarks/startup.py``: the first step with Numba's cache
  empty and full;
- ``"kind": "cluster_grid"``, a run of ``benchmarks/cluster_grid.py``: a small grid of runs one
  after another and on a local Dask cluster of two workers.

Lines of one sitting share a ``"sitting"`` label; the page compares the latest sitting's
lines with each other only (the median over them), never figures from different sittings.
The table of every sitting lists each one's targets, each computed within its own sitting.
Every figure on the page comes from the history; the text around them lives here.
"""


import numpy as np

from scratchnet.files import write_text
from scratchnet.history import clocks, fig, median, read_history
from scratchnet.perftables import conv1_section, conv2_section, grid_section, lstm_section, startup_section

EPOCH_IMAGES = 50_000
TARGETS = {"conv1": 1.5, "lstm": 1.3, "torch_1": 1.4, "torch_2": 1.5, "share_of_peak": 0.80, "epoch": 1.1}
INTRO = """# Performance

How fast scratchnet trains, measured on the machines it is developed on (two shared cores).
This page is generated: `scratchnet.perfpage.write_page("benchmarks/history.jsonl",
"benchmarks/README.md")` rebuilds it from the history alone, so add a measurement by appending
its JSON line to the history, never by editing this page.

How we measure. OpenBLAS's kernel variables are unset for the benchmark command alone
(`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ...`); the kernel that ran is recorded. Old and
new are timed in one run, alternated call by call, and each figure is a median, since other
programs share the machine (the load average is recorded beside each sitting). Both the wall
clock and the process's CPU time are kept: CPU time leaves out the time the process waits for
a core, so on a crowded machine it is the steadier figure for one thread. The one-core
ceiling is a 2048 x 2048 float32 `np.matmul`; a step's share of it counts 125.49 MFLOP per
image of the CNN-LSTM (the convolutions as direct convolution, the images' own gradient not
counted), as `python -m scratchnet.bench` computes it.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/conv1_lstm.py \\
        --sitting LABEL --append benchmarks/history.jsonl
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE TORCH_VENV/bin/python benchmarks/torch_twin.py \\
        --sitting LABEL --append benchmarks/history.jsonl
    python benchmarks/startup.py --sitting LABEL --append benchmarks/history.jsonl
"""


def shown(figures, key, spec):  # figures[key] formatted, or "-" where there are none
    return format(figures[key], spec) if figures else "-"


def load_note(lines):
    """The sitting's load average, and a warning where other programs wanted more than the two cores."""
    loads = [value for line in lines for value in np.atleast_1d(line.get("load_avg_1min", []))]
    if not loads:
        return "load average not recorded"
    crowded = (" The machine was crowded: its wall-clock figures count the waiting for a core as much as "
               "the work; for one thread read the CPU time, and take the two-thread figures (wall clock "
               "only) as rough.") if max(loads) > 2 else ""
    return f"load average {min(loads):.1f}-{max(loads):.1f} on two cores.{crowded}"


def bench_section(runs):
    rows = [
        "## Runs of `python -m scratchnet.bench`",
        "",
        "| date | commit | BLAS kernel | load | GEMM peak GFLOP/s | cnn_lstm img/s, 1 thread | of peak "
        "| threads | img/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        one = run.get("train_step_1_thread", run["train_step"] if run["threads"] == 1 else None)
        many = run["train_step"]["cnn_lstm"] if run["threads"] > 1 else None
        one = one["cnn_lstm"] if one else None
        rows.append(
            f"| {run['date'][:16]} | {run['commit']} | {run['blas']['kernel']} | {run['load_avg_1min']:.1f} "
            f"| {run['gemm_peak_gflops']:.0f} | {shown(one, 'img_per_s', '.0f')} "
            f"| {shown(one, 'share_of_peak', '.0%')} | {run['threads']} | {shown(many, 'img_per_s', '.0f')} |"
        )
    return rows + [""]


def torch_ms(twins, threads, clock):  # PyTorch's step, by either clock
    return median(twins, "train_step", threads, "cpu_ms" if clock == "cpu" else "ms")


def step_section(runs, twins):
    rows = [
        "## The CNN-LSTM's training step",
        "",
        "Batch 128: forward, backward, clipping, SGD. Before: `Conv2D` conv1, Winograd's 2 x 2 tiles for "
        "conv2 and the step-loop LSTM; after: the model as it is built now. GEMM peak on one core: "
        + ", ".join(f"{fig(runs, clock, 'gemm_peak_gflops'):.1f} GFLOP/s ({clock})" for clock in clocks(runs))
        + f". An epoch of {EPOCH_IMAGES:,} images is estimated from the step time "
        f"({-(-EPOCH_IMAGES // 128)} steps), not run. With two threads CPU time adds both, so it is "
        "not shown there.",
        "",
        "| threads | clock | before ms | after ms | speed-up | after img/s | of peak | epoch before s "
        "| epoch after s | PyTorch ms | PyTorch ms / scratchnet ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    mflop, epoch = median(runs, "mflop_per_img"), -(-EPOCH_IMAGES // 128) / 1e3
    for threads in ("1", "2"):
        for clock in clocks(runs) if threads == "1" else ("wall",):
            before, after = (fig(runs, clock, "train_step", threads, key) for key in ("before", "after"))
            share = 128 * mflop / after / (fig(runs, clock, "gemm_peak_gflops") * int(threads))  # MFLOP/ms
            torch = twins and {"ms": torch_ms(twins, threads, clock)}
            if torch:
                torch["ratio"] = torch["ms"] / after
            rows.append(
                f"| {threads} | {clock} | {before:.0f} | {after:.0f} | {before / after:.2f}x "
                f"| {128e3 / after:.0f} | {share:.0%} | {before * epoch:.0f} | {after * epoch:.0f} "
                f"| {shown(torch, 'ms', '.0f')} | {shown(torch, 'ratio', '.2f')} |"
            )
    if twins:
        rows += [
            "",
            f"PyTorch {twins[-1]['torch']} (oneDNN {'on' if twins[-1]['mkldnn'] else 'off'}), the same "
            "layers (`benchmarks/torch_twin.py`); a ratio above 1 means scratchnet's step is faster.",
        ]
    return rows + ["", OTHER_KERNELS, "", TWO_THREADS, ""]


OTHER_KERNELS = (
    "LRN (the step's `norm1`, 64 channels of 12 x 12, a window of 9): its forward is one Numba "
    "kernel that goes through one sample and channel at a time, window sum, power (by square "
    "roots) and product, each a loop over the row's 144 pixels while they are in the cache. Against "
    "the window sums in Numba and the power and the product as NumPy passes over whole arrays "
    "(five of them), it ran 1.9-2.2x faster at batch 64 and 128, with the same bits (2026-12-03, "
    "alternated in one process, CPU time). Max pooling's backward zeroes each plane of dx in its "
    "kernel, just before it adds the plane's gradients in, rather than the whole dx with `np.zeros` "
    "first: one pass over dx instead of two, 1.26x faster at pool1 (8.7 -> 6.8 ms, batch 128, "
    "2026-12-03, alternated in one process, CPU time)."
)


TWO_THREADS = (
    "Why two threads were not twice as fast, and two processes (2026-12-03, one machine, medians "
    "of repeated runs). "
    "Two processes, each stepping a shard of 64 images, slowed each other by 3% (152 -> 157 ms); "
    "two threads of one process, each with its own shard, by about 1.5x. Per layer, run in two "
    "threads at once against alone: the LSTM 1.9-2.6x, conv2 1.2-1.4x, conv1 1.15-1.6x. The "
    "LSTM's loop makes two to five Python calls per time step, each releasing the GIL for its "
    "work and taking it back after, and a thread that wants it back waits for the other: a loop "
    "of its 64 x 177 x 512 products, whose BLAS runs without the GIL, made 2,400 calls/s beside "
    "a thread of plain Python against about 6,500 alone. Fusing the forward's four elementwise "
    "calls into one gained 1.19x on the forward in two threads (1.05x alone), too little to keep "
    "another kernel. The forward's whole step loop as one Numba call that keeps the GIL released "
    "(its products through Numba's np.dot, which needs SciPy's BLAS) was 1.12x faster in two "
    "threads and 0.95x alone: not worth a dependency. So `--threads 2` now runs the second shard "
    "in a worker process instead (`scratchnet/parallel.py`), its parameters and gradients in shared "
    "memory: about 3 ms of a step go to copying the parameters, the pipe and summing the gradients. "
    "Old and new alternated in one process (2026-12-03, four runs of eight rounds, pairwise medians): "
    "the CNN-LSTM's two-core step 1.03-1.06x faster than with two threads (medians 165-172 ms against "
    "163-190), the GRU's 1.25x (its loop over time is Python), the LSTM's 0.99x. On two cores "
    "against one, in the same runs: the GRU 1.37x (1.07x with threads), the LSTM 1.47x, so the "
    "recurrent rows, which defaulted to one thread, now use every core as the others do."
)


WHAT = {  # key: (the target in words, its column in the table of every sitting)
    "conv1": ("conv1 forward + backward, Conv2DNCHW against Conv2D", "conv1"),
    "lstm": ("LSTM forward + backward, against the step loop", "LSTM"),
    "share_of_peak": ("step at one thread, share of the one-core ceiling", "of peak"),
    "torch_1": ("step against PyTorch's, 1 thread", "PyTorch, 1 thread"),
    "epoch": ("epoch on two cores, before / after (from step time)", "epoch"),
    "torch_2": ("step against PyTorch's, 2 threads", "PyTorch, 2 threads"),
}


def of_sitting(lines, kind, sitting):
    """The lines of one kind measured in one sitting."""
    return [line for line in lines if line.get("kind") == kind and line.get("sitting") == sitting]


def target_figures(runs, twins, clock):
    """Each target's figure in one sitting by ``clock``; those the sitting did not measure left out."""
    def ratio(kind, batch, old, new):
        return fig(runs, clock, kind, batch, old) / fig(runs, clock, kind, batch, new)

    step = fig(runs, clock, "train_step", "1", "after")
    peak = fig(runs, clock, "gemm_peak_gflops")
    figures = {"conv1": ratio("conv1", "128", "conv2d", "nchw"),
               "lstm": ratio("lstm", "128", "steps", "sequence"),
               "share_of_peak": 128 * median(runs, "mflop_per_img") / step / peak}
    if twins:
        figures["torch_1"] = torch_ms(twins, "1", clock) / step
    if clock == "wall":  # with two threads CPU time adds both
        figures["epoch"] = ratio("train_step", "2", "before", "after")
        if twins:
            figures["torch_2"] = torch_ms(twins, "2", "wall") / median(runs, "train_step", "2", "after")
    return figures


def formatted(key, value):
    return ("{:.0%}" if key == "share_of_peak" else "{:.2f}x").format(value)


def targets_section(runs, twins):
    by_clock = {clock: target_figures(runs, twins, clock) for clock in clocks(runs)}
    rows = ["## Targets", "", "| what | target | wall clock | CPU time |", "|---|---|---|---|"]
    for key, (what, _) in WHAT.items():
        if key not in by_clock["wall"]:
            continue
        met = [f"{formatted(key, figures[key])} ({'met' if figures[key] >= TARGETS[key] else 'not met'})"
               if key in figures else "-" for figures in (by_clock["wall"], by_clock.get("cpu", {}))]
        rows.append(f"| {what} | {formatted(key, TARGETS[key])} | {met[0]} | {met[1]} |")
    return rows + [""]


def sittings_section(algorithms, lines):
    """The targets' wall-clock figures in every sitting: how far they move from one to the next."""
    rows = ["## The targets in every sitting", "",
            "Wall clock; each sitting's figures compare old and new within that sitting. The machines are "
            "shared and change between sittings, and the same code's figures move from one sitting to the "
            "next, in places by more than a target's margin; the targets above are the latest sitting's.", "",
            "| sitting | commit | BLAS kernel | GEMM peak GFLOP/s | "
            + " | ".join(column for _, column in WHAT.values()) + " |",
            "|---|---|---|---|" + "---|" * len(WHAT)]
    for sitting in dict.fromkeys(line["sitting"] for line in algorithms):
        runs, twins = of_sitting(algorithms, "algorithms", sitting), of_sitting(lines, "torch_twin", sitting)
        figures = target_figures(runs, twins, "wall")
        cells = [formatted(key, figures[key]) if key in figures else "-" for key in WHAT]
        rows.append(f"| `{sitting}` | {runs[-1]['commit']} | {runs[-1]['blas']['kernel']} "
                    f"| {median(runs, 'gemm_peak_gflops'):.0f} | " + " | ".join(cells) + " |")
    targets = "; ".join(f"{column} {formatted(key, TARGETS[key])}" for key, (_, column) in WHAT.items())
    return rows + ["", f"Targets: {targets}.", ""]


def render(lines):
    """The page's Markdown text for the history ``lines``."""
    runs = [line for line in lines if "kind" not in line]
    algorithms = [line for line in lines if line.get("kind") == "algorithms"]
    startups = [line for line in lines if line.get("kind") == "startup"]
    page = INTRO.splitlines() + [""]
    if algorithms:
        sitting = algorithms[-1]["sitting"]
        same, twins = of_sitting(algorithms, "algorithms", sitting), of_sitting(lines, "torch_twin", sitting)
        blas = same[-1]["blas"]
        page += [f"Latest sitting: `{sitting}`, {len(same)} run(s) of conv1_lstm.py and {len(twins)} of "
                 f"torch_twin.py, alternated; BLAS {blas['library']} {blas['version']}, kernel "
                 f"{blas['kernel']}; commit {same[-1]['commit']}; {load_note(same + twins)}", ""]
        page += targets_section(same, twins) + conv1_section(same)
        page += conv2_section(same) if all("conv2" in line for line in same) else []
        page += lstm_section(same) + step_section(same, twins) + sittings_section(algorithms, lines)
    if startups:
        page += startup_section([line for line in startups if line["sitting"] == startups[-1]["sitting"]])
    grids = [line for line in lines if line.get("kind") == "cluster_grid"]
    page += grid_section([line for line in grids if line["sitting"] == grids[-1]["sitting"]] if grids else [])
    if runs:
        page += bench_section(runs)
    return "\n".join(page).rstrip() + "\n"


def write_page(history_path, out_path):
    """Rebuild the performance page ``out_path`` from the history ``history_path``."""
    write_text(out_path, render(read_history(history_path)))
