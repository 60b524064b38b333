"""The performance page's tables: conv1's algorithms, conv2's tiles, the LSTM, start-up, a grid's wall time.

Each function takes the latest sitting's lines of one kind from the history and returns the
section's Markdown lines; ``scratchnet.perfpage`` puts them together.
"""

from scratchnet.history import clocks, fig, median

CONV1 = {  # variant of benchmarks/conv1_lstm.py -> what it is
    "conv2d": "`Conv2D`: windows as rows, channels last; NCHW <-> NHWC transposes; rebuilt in backward",
    "nchw": "`Conv2DNCHW`: windows as columns, channels first, a row of ones for the bias; one product "
            "per image; kept for backward",
    "nchw_blocks": "channels-first columns in blocks of 8 images, rebuilt in the backward; the bias added "
                   "after the product",
    "numba_direct": "the formula as a compiled Numba loop, no im2col",
}
LIMITS = {"cold": 10.0, "cached": 1.0}  # seconds: start-up targets


def conv1_section(runs):
    rows = [
        "## conv1: four ways to compute it",
        "",
        'conv1 (3 -> 64 channels, 5 x 5 "same", 24 x 24 images), forward + backward without the images\' '
        "gradient, as in training; ms, median over the sitting (wall clock, and CPU time where recorded).",
        "",
        "| variant | how | clock | batch 128 | batch 64 | time / Conv2D's (128) |",
        "|---|---|---|---|---|---|",
    ]
    for name, how in CONV1.items():
        for clock in clocks(runs):
            ms = fig(runs, clock, "conv1", "128", name)
            rows.append(
                f"| {name} | {how} | {clock} | {ms:.1f} | {fig(runs, clock, 'conv1', '64', name):.1f} "
                f"| {ms / fig(runs, clock, 'conv1', '128', 'conv2d'):.2f} |"
            )
    best = median(runs, "conv1", "128", "nchw")
    others = ", ".join(f"{name} {median(runs, 'conv1', '128', name) / best:.2f}x"
                       for name in CONV1 if name not in ("conv2d", "nchw"))
    saved = best - median(runs, "conv1", "128", "nchw_blocks")
    rows += [
        "",
        f"By the wall clock `Conv2DNCHW` is {median(runs, 'conv1', '128', 'conv2d') / best:.2f}x faster "
        f"than `Conv2D` at batch 128 "
        f"({median(runs, 'conv1', '64', 'conv2d') / median(runs, 'conv1', '64', 'nchw'):.2f}x at 64). "
        f"The others' time against `Conv2DNCHW`'s: {others}. The direct loop does every multiply-add "
        "outside BLAS, and its weight gradient is a sum that the compiler does not vectorise without "
        "`fastmath`. Rebuilding the columns in cache-sized blocks copies the windows twice but reads "
        "them from the cache, and `nchw_blocks` adds the bias after the product and sums dout for db, "
        "two passes over the layer's output that `Conv2DNCHW`'s row of ones saves (until it took the "
        "bias that way, 2026-12-03, the two ran within 1% of each other); here `nchw_blocks` "
        f"{'saved' if saved > 0 else 'cost'} {abs(saved):.1f} ms, "
        f"{abs(saved) / median(runs, 'train_step', '1', 'after'):.1%} of the training step, and "
        "`Conv2DNCHW` keeps the simpler layout: its backward reuses the forward's columns.",
        "",
    ]
    return rows


def conv2_section(runs):
    rows = ["## conv2: Winograd's tiles", "",
            "conv2 (64 -> 64 channels, 5 x 5, 12 x 12 maps) as `WinogradConv2D`, forward + backward, ms. "
            "Tiles of 2 x 2 outputs take 36 products for 4 outputs, tiles of 4 x 4 (now) 64 for 16; their"
            " 8 x 8 input transforms cost more per tile, but there are a quarter as many tiles. The "
            "transforms (Numba) take the vertical side for a whole row of tiles at once, where "
            "neighbouring input tiles share 4 of their 8 columns, and the backward's product dM U^T reads"
            " a contiguous copy of U^T: against one tile at a time and a transposed view, the input "
            "transform ran 1.28x faster, the two adjoints 1.1x, the product 1.8x and the training step "
            "1.03-1.07x (2026-12-03, old and new alternated in one process, CPU time); within one tile, a"
            " 1-D view per pixel or one flat loop over its columns and channels was 2.4-2.6x slower than "
            "the nested loops. Each number a transform writes is a sum over the points of a tile side: "
            "taken over a loop of a constant 8 terms (the small matrices padded with zeros), which the "
            "compiler unrolls and keeps in a register for a vector of channels, rather than added into "
            "the output one nonzero term at a time, the transforms ran 0.9-1.8x as fast (input 1.4-1.8x, "
            "output 1.2-1.6x, input adjoint 1.15-1.35x, output adjoint 0.9-1.1x: its sums have 4 terms, "
            "padded to 8; blocks of 14 images, 2026-12-03, alternated in one process, wall clock) and the"
            " layer 1.06-1.16x (CPU time). Writing the 8 terms out over 8 views instead of a loop ran no "
            "faster and took twice as long to compile; letting the compiler fuse each multiplication and "
            "addition (`fastmath={\"contract\"}`) made the transforms 0-25% faster still; not kept, since "
            "nothing else needs it and the tests hold the kernels to plain arithmetic. Each transform as "
            "one dense product per block instead, with the 64 x 64 Kronecker product of B^T with itself "
            "(7.7 times the multiplications, at the matrix product's speed), was no faster in the layer: "
            "0.91-1.00x at batch 128 and 0.78-0.90x at 64 (2026-12-03, alternated in one process, CPU "
            "time); for the output transforms alone (16 x 64 products) 1.03x, within the noise. The "
            "forward keeps each block's V for the backward (19 MB at batch 128): against transforming the"
            " input again there, the layer ran 1.16x faster at batch 128 and 1.12x at 64 (CPU time), the "
            "training step 1.06x on one thread and 1.13x on two (wall clock; 2026-12-03, alternated in "
            "one process).", "",
            "| batch | clock | 2 x 2 tiles (before) | 4 x 4 tiles (now) | speed-up |",
            "|---|---|---|---|---|"]
    for batch in ("128", "64"):
        for clock in clocks(runs):
            before, after = (fig(runs, clock, "conv2", batch, key) for key in ("tile2", "tile4"))
            rows.append(f"| {batch} | {clock} | {before:.1f} | {after:.1f} | {before / after:.2f}x |")
    return rows + [""]


def lstm_section(runs):
    rows = ["## The LSTM", "",
            "48 steps of 48 values, H = 128, forward + backward, ms. Now: the whole sequence in arrays "
            "that hold every step; a step's sigmoids and tanhs are two exps (over the 4H gate columns, "
            "over c_t) with two Numba kernels for the rest, the backward's elementwise work one Numba "
            "kernel; dW, db and dx one product per chunk of 8 steps, while their da_t are in the cache. "
            "The exps are written out in Numba for float32 (`exp_float32`: a power of two times a "
            "polynomial, which vectorises): on the AVX-512 machine of the sittings up to `2026-12-02-c` "
            "that gained about 1% over `np.exp`, on AVX2 machines, where NumPy's exp is slower, much more"
            " (compare the sittings). Slower, so not kept: `np.tanh` for the gates (slower than "
            "`np.exp`); Numba's own tanh or exp (scalar calls); taking the forward's input half x_t W_x "
            "out of the loop, over all steps or a chunk; dW and dx over all steps in one product. The "
            "forward's product reads a contiguous [W, b]^T, not a transposed view: 1.18x faster on its "
            "own (2026-12-03). Fusing the exp into `gate_activations` saved about 1.5 ms of the forward's"
            " 32 and was not kept: float64 needs NumPy's exp, so the kernel would be written twice. Each "
            "loop of the elementwise kernels writes one array or one gate's block of columns: "
            "`gate_gradients` wrote all five in one loop over a row, which the compiler left "
            "unvectorised; split into a loop per line of the equations it ran 2.7-3.5x faster on its own,"
            " `gate_activations` 2.3x, `hidden_state` 1.7x, and the layer 1.08x at batch 128 and 64, with"
            " the same bits (2026-12-03, alternated in one process, CPU time). `exp_float32` takes x's "
            "int32 view inside the kernel: handed in as a second argument (77f863a), the compiler could "
            "not tell it was x's own memory and left the loop unvectorised, 8x slower, and the layer "
            "lost its speed-up (sitting `2026-12-03-o`); the benchmark's kernel table now times "
            "`exp_float32`.", "",
            "| batch | clock | step functions in a loop (before) | whole sequence (now) | speed-up |",
            "|---|---|---|---|---|"]
    for batch in ("128", "64"):
        for clock in clocks(runs):
            before, after = (fig(runs, clock, "lstm", batch, key) for key in ("steps", "sequence"))
            rows.append(f"| {batch} | {clock} | {before:.1f} | {after:.1f} | {before / after:.2f}x |")
    return rows + [""]


def startup_section(lines):
    """Start-up from ``benchmarks/startup.py`` lines: with an empty Numba cache, and with a full one."""
    rows = ["## Start-up", "",
            "A fresh Python process imports scratchnet, builds the CNN-LSTM and takes one training step and "
            "one evaluation forward on 8 images (`benchmarks/startup.py`), timed from its launch to the "
            "end of that work (its exit left out; Python's bytecode cache on, as on a user's machine, from "
            "sitting `2026-12-02-e`): `cold` with an empty Numba "
            "cache, so that every kernel is compiled, `cached` with the cache that run filled (every later "
            "start). Seconds, median over the sitting's rounds. `Numba alone`: a program that only "
            "imports numpy and Numba and calls one trivial kernel from its cache; loading a first kernel "
            "loads Numba's own registries, whatever the kernel, so this is the floor under `cached`.", "",
            "A cold start is mostly the compilation of the ten Numba kernels of the CNN-LSTM's step, "
            "0.3 to 1.2 s each, about half of it in LLVM (optimisation and code generation) and half in "
            "Numba's typing and lowering. NumPy's allocators compiled into a kernel add up to a few tenths "
            "of a second each, so since 77f863a the kernels take their outputs and scratch buffers from "
            "NumPy wrappers (`scratchnet.kernels`): of 8 cold starts alternated with the code before "
            "(ad9e4fa), the change was faster in 6 (medians 6.6 s against 6.9 s; runs of the same code "
            "differed by up to 1.5 s).", "",
            "| start | target | wall clock | CPU time |", "|---|---|---|---|"]
    for start, limit in LIMITS.items():
        seconds = [median(lines, start, key) for key in ("wall_s", "cpu_s")]
        cells = [f"{value:.2f} s ({'met' if value < limit else 'not met'})" for value in seconds]
        rows.append(f"| {start} | under {limit:g} s | {' | '.join(cells)} |")
    floor = [line for line in lines if "numba_floor" in line]
    if floor:
        seconds = [median(floor, "numba_floor", key) for key in ("wall_s", "cpu_s")]
        rows.append(f"| Numba alone, cached | - | {seconds[0]:.2f} s | {seconds[1]:.2f} s |")
    return rows + [""]

GRID = ("Table 1 and the study are grids of independent runs; `reproduce --scheduler` sends each run to "
        "a worker of a Dask cluster (`scratchnet/cluster.py`). `benchmarks/cluster_grid.py` times one "
        "small grid (`reproduce --small`) trained one run after another, and with `--scheduler local:2`, "
        "two worker processes on this machine, their start-up included. **No gain is expected on two "
        "cores**: every row already splits each batch across both cores when run one after another, "
        "and the workers pay for starting (Python, Numba's cache, the data). Until 2026-12-03 the "
        "recurrent rows (lstm, gru) ran on one thread and left a core idle that a second worker could "
        "use, where that core was free. A cluster gains by adding machines: a grid of N runs on N of "
        "them takes about its longest run.")


def grid_section(lines):
    """Grid wall time from the sitting's ``benchmarks/cluster_grid.py`` lines (none: how to measure)."""
    rows = ["## Grid wall time", "", GRID, ""]
    if not lines:
        return rows + ["Not measured yet: `python benchmarks/cluster_grid.py --sitting LABEL --append "
                       "benchmarks/history.jsonl`, on a quiet machine.", ""]
    rows += ["| grid | runs | cores | one after another | local:2 (workers x threads) "
             "| local:2 / one after another |", "|---|---|---|---|---|---|"]
    grids = {}
    for line in lines:  # the lines of one grid together
        grid = line["grid"]
        key = (*grid["models"], "seeds", *grid["seeds"], grid["epochs"], grid["small"])
        grids.setdefault(key, []).append(line)
    for same in grids.values():
        first, grid = same[0], same[0]["grid"]
        alone, local = (median(same, "wall_s", way) for way in ("one_after_another", "local_2"))
        rows.append(f"| {', '.join(grid['models'])}; seeds {', '.join(map(str, grid['seeds']))}; "
                    f"{grid['epochs']} epoch{'s' * (grid['epochs'] != 1)}{', --small' * grid['small']} "
                    f"| {grid['runs']} | {first['cores']} | {alone:.0f} s | {local:.0f} s "
                    f"({first['workers']} x {first['threads_per_worker']}) | {local / alone:.2f}x |")
    return rows + [""]
