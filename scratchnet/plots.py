"""Pictures of training: curves, a confusion matrix. Takes arrays; imports no layer."""

import numpy as np

# Figure without pyplot: draws straight to a file, needs no screen, and leaves the backend of
# a notebook that imports scratchnet alone.
from matplotlib.figure import Figure

from scratchnet.files import save_figure


def plot_history(rows, path, title=""):
    """Loss and accuracy per epoch from the trainer's metrics rows (dicts) into a PNG."""
    epochs = [row["epoch"] for row in rows]
    fig = Figure(figsize=(10, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.plot(epochs, [row["train_loss"] for row in rows], "o-", label="train")
    if any(row.get("val_loss") is not None for row in rows):
        ax_loss.plot(epochs, [row["val_loss"] for row in rows], "o-", label="validation")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax_acc.plot(epochs, [row["train_accuracy"] for row in rows], "o-", label="train")
    if any(row.get("val_accuracy") is not None for row in rows):
        ax_acc.plot(epochs, [row["val_accuracy"] for row in rows], "o-", label="validation")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)


def confusion_matrix(labels, predictions, num_classes):
    """Counts: row = true class, column = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def plot_confusion(matrix, classes, path, title="confusion matrix"):
    """Draw a confusion matrix (rows true, columns predicted) with its counts."""
    fig = Figure(figsize=(7, 6))
    ax = fig.subplots()
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    threshold = matrix.max() / 2
    for (row, col), count in np.ndenumerate(matrix):
        ax.text(col, row, str(count), ha="center", va="center", fontsize=7,
                color="white" if count > threshold else "black")
    fig.tight_layout()
    save_figure(fig, path)
