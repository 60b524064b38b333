"""The pictures of a run's report page, drawn from arrays with matplotlib's Agg backend.

Each function takes plain arrays (or the trainer's metrics rows) and returns a matplotlib
``Figure``; ``png_bytes`` turns one into PNG bytes with no date or version inside, so the same
arrays give the same bytes. No layer or model is imported here: ``scratchnet.activations``
computes what the network holds inside, this module only draws it.

Colour maps are ones colour-blind readers can read: viridis and cividis (sequential, also in
grey), blues for counts, and red-blue (diverging, no red-green contrast) for signed values.
"""

import io

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

SEQUENTIAL, SIGNED, COUNTS = "viridis", "RdBu_r", "Blues"
TRAIN, VALIDATION, TEST = "#0072B2", "#E69F00", "#009E73"  # Okabe-Ito: told apart by every colour vision


def png_bytes(figure, dpi=90):
    """The figure as PNG bytes: no date or software version in them, so reproducible."""
    FigureCanvasAgg(figure)  # draw with Agg, whatever backend a notebook chose
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


_TWO_PANELS = {"left": 0.07, "right": 0.98, "bottom": 0.14, "top": 0.91, "wspace": 0.22}


def _column(rows, key):
    """One metric over epochs, None where it was not measured; None if never measured."""
    values = [row.get(key) for row in rows]
    return values if any(value is not None for value in values) else None


def curves(rows):
    """Loss and accuracy per epoch: train, validation and test where each was measured."""
    epochs = [row["epoch"] for row in rows]
    figure = Figure(figsize=(10, 3.6))
    # fixed margins: a third cheaper than a computed layout, every epoch
    figure.subplots_adjust(**_TWO_PANELS)
    ax_loss, ax_acc = figure.subplots(1, 2)
    for ax, keys, label in ((ax_loss, ("train_loss", "val_loss", None), "cross-entropy loss"),
                            (ax_acc, ("train_accuracy", "val_accuracy", "test_accuracy"), "accuracy")):
        for key, name, colour in zip(keys, ("train", "validation", "test"), (TRAIN, VALIDATION, TEST)):
            values = _column(rows, key) if key else None
            if values is not None:
                ax.plot(epochs, [np.nan if v is None else v for v in values], "o-", color=colour, label=name,
                        markersize=3)
        ax.set(xlabel="epoch", ylabel=label, title=label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    ax_acc.set_ylim(0, 1)
    return figure


def steps(rows, clip=None):
    """The learning rate over steps, and the gradient's norm before clipping with its moving average."""
    step = np.array([row["step"] for row in rows])
    norm = np.array([row["grad_norm"] for row in rows], dtype=np.float64)
    figure = Figure(figsize=(10, 3.6))
    figure.subplots_adjust(**_TWO_PANELS)
    ax_lr, ax_norm = figure.subplots(1, 2)
    ax_lr.plot(step, [row["lr"] for row in rows], color=TRAIN)
    ax_lr.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    ax_lr.set(xlabel="step", ylabel="learning rate", title="learning rate (the schedule)")
    ax_norm.plot(step, norm, color="#9ecae1", linewidth=0.5, label="each step")
    window = max(1, len(norm) // 100)
    if window > 1:  # the trend, which a line per step hides in its noise
        ax_norm.plot(step[window - 1:], np.convolve(norm, np.ones(window) / window, "valid"), color=TRAIN,
                     label=f"mean of {window} steps")
    if clip is not None:
        ax_norm.axhline(clip, color=VALIDATION, linestyle="--", label=f"clipped to {clip:g}")
    top = max(np.percentile(norm, 99), clip or 0) * 1.3 if len(norm) else 1.0
    ax_norm.set(xlabel="step", ylabel="L2 norm", title="gradient norm before clipping", ylim=(0, top))
    ax_norm.legend(loc="upper right")
    for ax in (ax_lr, ax_norm):
        ax.grid(alpha=0.3)
    return figure


def _mosaic(tiles, columns, gap=2):
    """RGB(A) tiles (K, h, w, channels) in rows of ``columns``, on white, ``gap`` pixels apart."""
    count, h, w, channels = tiles.shape
    rows = int(np.ceil(count / columns))
    out = np.ones((rows * (h + gap) - gap, columns * (w + gap) - gap, channels))
    for k, tile in enumerate(tiles):
        row, column = divmod(k, columns)
        out[row * (h + gap):row * (h + gap) + h, column * (w + gap):column * (w + gap) + w] = tile
    return out


def _stretch(values, axes):
    """Each slice to [0, 1] over ``axes``: every filter or map shown in its own full range."""
    low, high = values.min(axis=axes, keepdims=True), values.max(axis=axes, keepdims=True)
    return (values - low) / np.where(high > low, high - low, 1.0)


def filters(W):
    """conv1's filters (F, 3, k, k) as colour tiles, each stretched to its own full range."""
    tiles = _stretch(W.astype(np.float64).transpose(0, 2, 3, 1), (1, 2, 3))
    columns = int(np.ceil(np.sqrt(len(W))))
    figure = Figure(figsize=(5, 5), layout="constrained")
    ax = figure.subplots()
    ax.imshow(_mosaic(tiles, columns, gap=1), interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(f"{len(W)} filters of {W.shape[2]} x {W.shape[3]} pixels, red-green-blue", fontsize=10)
    return figure


def _show_image(ax, image, title=None, fontsize=8):
    """A uint8 (3, H, W) image; labels go to the title."""
    ax.imshow(image.transpose(1, 2, 0), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=fontsize)


def feature_maps(crops, labels, maps, stage, signed, count=12):
    """For each image (a row): the crop the network saw, then its ``count`` most active maps of one stage.

    crops uint8 (N, 3, s, s); maps (N, C, h, w) with s a multiple of h (smaller maps are shown
    enlarged to the crop's size); signed: a convolution's output (red positive, blue negative,
    white zero), else a non-negative one (viridis). Each map has its own colour range.
    """
    activity = np.abs(maps).mean(axis=(0, 2, 3))
    chosen = np.sort(np.argsort(-activity, kind="stable")[:count])
    size = crops.shape[2]
    scale = size // maps.shape[2]
    chosen_maps = maps[:, chosen].astype(np.float64).repeat(scale, axis=2).repeat(scale, axis=3)
    if signed:
        top = np.maximum(np.abs(chosen_maps).max(axis=(2, 3), keepdims=True), 1e-12)
        coloured = colormaps[SIGNED]((chosen_maps / top + 1) / 2)[..., :3]
    else:
        coloured = colormaps[SEQUENTIAL](_stretch(chosen_maps, (2, 3)))[..., :3]
    tiles = np.concatenate([crops.transpose(0, 2, 3, 1)[:, None] / 255.0, coloured], axis=1)
    gap = 3
    mosaic = _mosaic(tiles.reshape(-1, size, size, 3), count + 1, gap)
    figure = Figure(figsize=(10, 9.2 * mosaic.shape[0] / mosaic.shape[1] + 0.7), layout="constrained")
    ax = figure.subplots()
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_xticks([(size + gap) * (k + 0.5) for k in range(count + 1)],
                  ["image"] + [f"map {channel}" for channel in chosen], fontsize=8)
    ax.set_yticks([(size + gap) * (k + 0.5) for k in range(len(crops))], labels, fontsize=9)
    ax.tick_params(length=0)
    ax.xaxis.tick_top()
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(f"after {stage}: the {count} most active of {maps.shape[1]} maps, {maps.shape[2]} x "
                 f"{maps.shape[3]} pixels each", fontsize=10)
    return figure


def recurrent_states(labels, states):
    """Heat maps over time steps (x) and units (y): a panel per quantity, the images one above another.

    states: dict name -> (N, T, H) array, e.g. {"h": ..., "f": ...}; gates lie in (0, 1)
    (viridis), the hidden state and candidates in (-1, 1) (red-blue).
    """
    names = list(states)
    N, T, H = states[names[0]].shape
    gap = max(H // 16, 2)
    figure = Figure(figsize=(2.3 * len(names) + 1.2, 0.6 * N * H / 64 + 1.6))
    figure.subplots_adjust(left=0.09, right=0.98, bottom=0.05, top=0.9, wspace=0.15, hspace=0.25)
    grid = figure.add_gridspec(2, len(names), height_ratios=[24, 1])
    axes = [figure.add_subplot(grid[0, k]) for k in range(len(names))]
    for column, (ax, name) in enumerate(zip(axes, names)):
        signed = states[name].min() < 0
        stacked = np.full((N * (H + gap) - gap, T), np.nan)
        for k in range(N):
            stacked[k * (H + gap):k * (H + gap) + H] = states[name][k].T
        cmap = colormaps[SIGNED if signed else SEQUENTIAL].with_extremes(bad="white")
        image = ax.imshow(stacked, aspect="auto", interpolation="nearest", cmap=cmap,
                          vmin=-1 if signed else 0, vmax=1)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("time step", fontsize=8)
        ax.set_yticks([(H + gap) * k + H / 2 for k in range(N)], labels if ax is axes[0] else [], fontsize=8)
        ax.tick_params(labelsize=7)
        figure.colorbar(image, cax=figure.add_subplot(grid[1, column]), orientation="horizontal",
                        ticks=[-1, 0, 1] if signed else [0, 0.5, 1])
    figure.suptitle(f"{T} time steps (left to right) by {H} units (top to bottom), for each image",
                    fontsize=10)
    return figure


def confusion(matrix, classes):
    """The confusion matrix (rows true, columns predicted) with its counts, and per-class accuracy."""
    figure = Figure(figsize=(10, 4.6))
    figure.subplots_adjust(left=0.1, right=0.97, bottom=0.24, top=0.93, wspace=0.3)
    ax_matrix, ax_class = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
    ax_matrix.imshow(matrix, cmap=COUNTS)
    ax_matrix.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax_matrix.set_yticks(range(len(classes)), classes)
    ax_matrix.set(xlabel="predicted", ylabel="true", title="confusion matrix (counts)")
    threshold = matrix.max() / 2
    for (row, col), count in np.ndenumerate(matrix):
        ax_matrix.text(col, row, str(count), ha="center", va="center", fontsize=8,
                       color="white" if count > threshold else "black")
    per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)
    positions = np.arange(len(classes))
    ax_class.barh(positions, per_class, color=TRAIN)
    for position, value in zip(positions, per_class):
        ax_class.text(value + 0.01, position, f"{value:.1%}", va="center", fontsize=8)
    ax_class.set_yticks(positions, classes)
    ax_class.invert_yaxis()
    ax_class.set(xlim=(0, 1.12), xlabel="accuracy", title="accuracy per class")
    ax_class.grid(axis="x", alpha=0.3)
    return figure


def mistakes(images, true_names, predicted_names, confidences, columns=8):
    """The test images the network gets most confidently wrong, with true and predicted labels."""
    rows = max(1, int(np.ceil(len(images) / columns)))
    figure = Figure(figsize=(columns * 1.35, rows * 1.75))
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 0.75 / (rows * 1.75),
                           wspace=0.15, hspace=0.7)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, image, true, predicted, confidence in zip(axes, images, true_names, predicted_names, confidences):
        _show_image(ax, image, f"true {true}\nsaid {predicted}\n{confidence:.0%} sure", fontsize=8)
        ax.set_axis_on()
    return figure


def table1(rows):
    """Bars: the paper's accuracy and ours (mean, min-max whiskers) for each row of Table 1."""
    labels = [row["label"] for row in rows]
    positions = np.arange(len(rows))
    figure = Figure(figsize=(8, 3.8), layout="constrained")
    ax = figure.subplots()
    ax.bar(positions - 0.2, [row["paper"] for row in rows], 0.4, label="paper", color=VALIDATION)
    means = np.array([row["mean"] for row in rows])
    spread = [means - [row["min"] for row in rows], [row["max"] for row in rows] - means]
    ax.bar(positions + 0.2, means, 0.4, yerr=spread, capsize=4, label="scratchnet (mean, min-max)",
           color=TRAIN)
    ax.set_xticks(positions, labels)
    ax.set(ylabel="CIFAR-10 test accuracy", ylim=(0, 1))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower right")
    return figure


def test_curves(curves_by_label):
    """Test accuracy per epoch of every run: dict label -> list of per-epoch lists (one per seed)."""
    palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000"]
    figure = Figure(figsize=(8, 4.2), layout="constrained")
    ax = figure.subplots()
    for (label, runs), colour in zip(curves_by_label.items(), palette * 2):
        for k, curve in enumerate(runs):
            ax.plot(range(1, len(curve) + 1), curve, color=colour, label=label if k == 0 else None)
    ax.set(xlabel="epoch", ylabel="test accuracy", ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return figure
