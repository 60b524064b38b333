"""A report page for every run, and one for Table 1: what the network learned, in one HTML file.

``write_report(run_folder)`` writes ``run_folder/report.html``: the run's facts and curves
(cheap: the trainer writes them after every epoch), and, with the model at hand (given, or
rebuilt from the run's checkpoint), what it learned: the first layer's filters, the feature
maps and recurrent gates of a few fixed test images, the confusion matrix and the test images
it gets most confidently wrong. ``write_index(out, rows, runs_folder)`` writes Table 1's page.

Every page is one self-contained file (``scratchnet.page``) written atomically, and the same
inputs give the same bytes: a finished run's page holds no clock time.
"""

import datetime
import os
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from scratchnet import activations, evaluation, figures, page
from scratchnet.cifar10 import CLASSES, data_root, load_cifar10
from scratchnet.evaluation import evaluate, load_model
from scratchnet.files import write_text
from scratchnet.plots import confusion_matrix
from scratchnet.runfolder import CHECKPOINT, REPORT, STALE_S, read_predictions, read_run
from scratchnet.transforms import center_crop, preprocess_eval

MISTAKES = 16  # most confidently wrong test images shown
MISTAKES_SEARCHED = 1000  # ... out of the first this many wrong ones: the forward pass they need stays short
SECTIONS = {"run": "The run", "curves": "Loss and accuracy per epoch",
            "steps": "Learning rate and gradient norm",
            "filters": "First convolution's filters", "feature-maps": "Feature maps of fixed test images",
            "recurrent": "Recurrent states and gates", "confusion": "Confusion matrix and per-class accuracy",
            "mistakes": "Most confidently wrong", "inside": "What the network learned"}
CONVOLUTIONAL = ("cnn_lstm", "cnn", "cnn_nolrn")


def _text(value):
    """A fact for a table cell: dicts and lists flattened, None said plainly."""
    if value is None:
        return "not recorded by this run (newer runs record it)"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_text(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(item) for item in value)
    return str(value)


def _utc(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _state_line(run, state):
    last, planned = run.rows[-1]["epoch"], run.config.get("epochs", "?")
    resume = f"python -m scratchnet.train --resume {run.folder / CHECKPOINT}"
    if state == "finished":
        return f"Finished: {last} of {planned} epochs."
    if state == "interrupted":
        return (f"Interrupted in epoch {last + 1} of {planned} (step {run.metadata['step']}), "
                f"checkpoint saved. Continue with: {resume}")
    if state == "stale":
        return (f"Not finished, and nothing written for more than {STALE_S // 60} minutes (last at "
                f"{_utc(run.updated)}, after epoch {last} of {planned}): the trainer has stopped. "
                f"Continue from the last epoch with: {resume}")
    return (f"Training: epoch {last} of {planned} done at {_utc(run.updated)}. "
            f"This page reloads itself every {page.REFRESH_S} s until the run ends.")


def _facts(run, state):
    summary, sizes, last = run.summary or {}, run.sizes(), run.rows[-1]
    metadata = run.metadata or {}
    wall = summary.get("wall_time_s", metadata.get("wall_seconds"))
    seen = sum(row["images_per_s"] * row["seconds"] for row in run.rows if row.get("images_per_s"))
    speed = summary.get("train_images_per_s", seen / max(sum(row["seconds"] or 0 for row in run.rows), 1e-9))
    accuracy = [f"train {last['train_accuracy']:.2%} on {sizes['train']:,} images "
                "(last epoch, augmented crops)"]
    if last.get("val_accuracy") is not None:
        accuracy.append(f"validation {last['val_accuracy']:.2%} on {sizes['validation']:,} images")
    if "test_accuracy" in summary:
        accuracy.append(f"test {summary['test_accuracy']:.2%} on {sizes['test']:,} images")
    elif last.get("test_accuracy") is not None:
        accuracy.append(f"test {last['test_accuracy']:.2%} on {sizes['test']:,} images "
                        f"(after epoch {last['epoch']})")
    pairs = [("model", run.model), ("state", state),
             ("epochs", f"{last['epoch']} of {run.config.get('epochs')}"), ("accuracy", "; ".join(accuracy)),
             ("images", f"{sizes['train']:,} training, {sizes['validation']:,} validation, "
                        f"{sizes['test']:,} test"),
             ("data", summary.get("data")), ("machine", summary.get("machine")),
             ("threads", summary.get("threads", metadata.get("threads"))), ("commit", summary.get("commit")),
             ("wall time", None if wall is None else f"{wall:.0f} s ({wall / 60:.1f} min)"),
             ("training speed", f"{speed:.0f} images/s")]
    options = [(f"--{name.replace('_', '-')}", "not set (all)" if value is None else _text(value))
               for name, value in run.config.items()]
    return (f'<div class="columns"><div>{page.facts([(name, _text(value)) for name, value in pairs])}</div>'
            f"<div>{page.table(options, header=['option', 'value'])}</div></div>")


def _curve_sections(run):
    yield "curves", page.figure(figures.png_bytes(figures.curves(run.rows)),
                                "Train and validation loss falling together is learning; validation loss "
                                "rising while train loss falls is overfitting.")
    if run.steps is None:
        yield "steps", page.missing("This run wrote no steps.csv: newer runs record the learning rate "
                                    "and the gradient norm of every step; train again to see them.")
    else:
        yield "steps", page.figure(figures.png_bytes(figures.steps(run.steps, run.config.get("clip"))),
                                   "The learning rate warms up, then decays to zero along a cosine; where "
                                   "the gradient norm crosses the dashed line, clipping shortened the step.")


def _model_sections(model, images, labels, predictions):
    """The sections that need the trained model: filters, maps, gates, confusion, mistakes."""
    fixed = activations.fixed_examples(labels)
    names = [CLASSES[label] for label in labels[fixed]]
    x_fixed = preprocess_eval(images[fixed], model.dtype)
    crops = center_crop(images[fixed], x_fixed.shape[2])  # what the network sees
    if model.name in CONVOLUTIONAL:
        W = dict(model.layers)["conv1"].params["W"]
        yield "filters", page.figure(figures.png_bytes(figures.filters(W)),
                                     "Learned filters look like coloured edges, stripes and blobs, each "
                                     "stretched to its own range; a filter that still looks like noise "
                                     "has not learned.")
        maps = []
        for stage, values, signed in activations.feature_maps(model, x_fixed):
            caption = ("Red where the filter answers positively, blue negatively: each map lights up "
                       "where its pattern (an edge, a colour) lies in the image." if signed else
                       "After ReLU, pooling and LRN each map is divided by its neighbours' energy: "
                       "what stays bright is what this map answers to more than the others.")
            maps.append(page.figure(figures.png_bytes(figures.feature_maps(crops, names, values, stage,
                                                                           signed)), caption))
        yield "feature-maps", "\n".join(maps)
    states = activations.recurrent_states(model, x_fixed)
    if states is not None:
        layer, values = states
        steps = "map rows of the convolutions' output" if model.name == "cnn_lstm" else "image rows"
        shown = {name: values[name] for name in ("h", "f", "i", "g", "o", "z", "r", "n") if name in values}
        yield "recurrent", page.figure(
            figures.png_bytes(figures.recurrent_states(names, shown)),
            f"Each column is a time step ({steps}), each row a unit of the {layer}: gates near 1 (yellow) "
            "let information through and near 0 (dark) hold it back; h is what the last step hands to the "
            "classifier.")
    matrix = confusion_matrix(labels, predictions, len(CLASSES))
    yield "confusion", page.figure(figures.png_bytes(figures.confusion(matrix, CLASSES)),
                                   f"Rows are the true classes of {len(labels):,} test images, columns the "
                                   "answers: a dark cell off the diagonal is a pair of classes the network "
                                   "mixes up.")
    wrong = np.flatnonzero(predictions != labels)[:MISTAKES_SEARCHED]
    if not len(wrong):
        yield "mistakes", page.missing("The network got every test image right: there is no mistake to show.")
        return
    probabilities = evaluation.probabilities(model, images[wrong])
    said = probabilities.argmax(axis=1)
    # a near-tie that a recomputation (other threads, other rounding) answers correctly is no mistake
    confidence = np.where(said != labels[wrong], probabilities.max(axis=1), -1.0)
    order = np.argsort(-confidence, kind="stable")[:MISTAKES]
    order = order[confidence[order] >= 0]
    chosen = wrong[order]
    yield "mistakes", page.figure(
        figures.png_bytes(figures.mistakes(images[chosen], [CLASSES[k] for k in labels[chosen]],
                                           [CLASSES[k] for k in said[order]], confidence[order])),
        f"The wrong answers the network was surest of (among its first {MISTAKES_SEARCHED:,} mistakes "
        "on the test set): often an unusual view, a confusing background, or an image a person "
        "would hesitate over too.")


def _test_set(run, data_dir):
    _, _, images, labels = load_cifar10(data_root(data_dir))
    count = run.sizes()["test"]
    return images[:count], labels[:count]


def write_report(run_folder, *, model=None, test_images=None, test_labels=None, predictions=None, full=True,
                 data_dir=None, now=None):
    """Write ``run_folder/report.html`` and return its path.

    full=False: the run's facts and curves only (what the trainer writes after each epoch).
    full=True: also the sections that need the model: ``model`` if given, else rebuilt from
    the run's checkpoint (without one, the page says so); the test set is ``test_images``
    (uint8 (N, 3, 32, 32)) and ``test_labels``, else read from ``data_dir`` (default as the
    trainer's); ``predictions`` are the run's test predictions, else its predictions.npy, else
    computed. ``now`` (seconds since the epoch) decides whether a run not finished is stale.
    """
    run = read_run(run_folder)
    state = run.state(now)
    sections = {"run": _facts(run, state), **dict(_curve_sections(run))}
    has_model = model is not None or run.metadata is not None
    if full and has_model:
        if model is None:
            model, _ = load_model(run.folder / CHECKPOINT)
        if test_images is None or test_labels is None:
            test_images, test_labels = _test_set(run, data_dir)
        if predictions is None:
            predictions = read_predictions(run.folder, len(test_labels))
        if predictions is None:
            predictions = evaluate(model, test_images, test_labels)["predictions"]
        with threadpool_limits(1):  # as in training: a second BLAS thread slowed small products on busy cores
            sections.update(_model_sections(model, test_images, np.asarray(test_labels),
                                            np.asarray(predictions)))
    else:
        why = (f"They are drawn at the end of training; draw them now with: "
               f"python -m scratchnet.report {run.folder}"
               if has_model else f"They need the run's {CHECKPOINT}, which this folder does not hold "
                                 "(committed runs keep only their metrics): train the run to see them.")
        sections["inside"] = page.missing("The filters, feature maps, recurrent gates, confusion matrix and "
                                          "mistakes need the trained model. " + why)
    title = f"{run.model}: {run.folder.name}"
    nav = " ".join(f'<a href="#{key}">{page.escape(SECTIONS[key])}</a>' for key in sections)
    body = [f"<h1>{page.escape(title)}</h1>", f'<p class="state">{page.escape(_state_line(run, state))}</p>',
            '<p id="stale" class="missing" hidden>Nothing new for 10 minutes: the trainer has stopped, '
            "and this page no longer reloads.</p>" if state == "running" else "", f"<nav>{nav}</nav>"]
    body += [page.section(key, SECTIONS[key], content) for key, content in sections.items()]
    until = (run.updated + STALE_S) * 1000 if state == "running" else None
    path = run.folder / REPORT
    write_text(path, page.document(title, "\n".join(body), reload_until_ms=until))
    return path


def _run_rows(out, runs_folder):
    """A line per run folder in ``runs_folder``, writing the reports that can be written without a model."""
    lines = []
    for folder in sorted(path for path in Path(runs_folder).iterdir() if path.is_dir()):
        try:
            run = read_run(folder)
        except ValueError as error:
            lines.append([folder.name, "", "", f"not shown: {error}", "", ""])
            continue
        if run.metadata is None or not (folder / REPORT).is_file():
            write_report(folder, full=False)  # facts and curves: all a folder without its checkpoint can give
        test = (run.summary or {}).get("test_accuracy", run.rows[-1].get("test_accuracy"))
        link = Path(os.path.relpath(folder / REPORT, out)).as_posix()
        lines.append([folder.name, run.model, run.config.get("seed", ""), run.state(),
                      "" if test is None else f"{test:.2%}", f'<a href="{page.escape(link)}">report</a>'])
    return lines


def write_index(out, rows, runs_folder):
    """Write ``out/index.html``: Table 1 beside the paper's figures, every run's test curve, links to runs.

    rows: per model, as ``scratchnet.reproduce.summarise`` returns them (label, paper, mean,
    std, min, max, seeds, accuracies, epochs, wall_time_s, images_per_s, threads, curves).
    Each run folder in ``runs_folder`` without a checkpoint gets its report of facts and curves here.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = [[row["label"], f"{row['paper']:.0%}",
              f"{row['mean']:.1%}" + (f" ± {row['std']:.1%}" if row["seeds"] > 1 else ""),
              ", ".join(f"{accuracy:.1%}" for accuracy in row["accuracies"]), row["epochs"],
              f"{row['wall_time_s'] / 60:.1f} min", f"{row['images_per_s']:.0f} ({row['threads']})"]
             for row in rows.values()]
    header = ["model", "paper", "scratchnet (mean ± std)", "each seed", "epochs", "wall time per run",
              "images/s (threads)"]
    chart = figures.png_bytes(figures.table1(list(rows.values())))
    curves = figures.png_bytes(figures.test_curves({row["label"]: row["curves"] for row in rows.values()}))
    runs = _run_rows(out, runs_folder)
    run_table = "<table><tr>" + "".join(f"<th>{name}</th>" for name in ("run", "model", "seed", "state",
                                                                          "test accuracy", "page")) + "</tr>"
    run_table += "".join("<tr>" + "".join(f"<td>{cell if k == 5 else page.escape(cell)}</td>"
                                          for k, cell in enumerate(line)) + "</tr>"
                         for line in runs) + "</table>"
    body = ["<h1>Table 1 of the paper, re-run with scratchnet</h1>",
            page.section("table1", "Test accuracy on CIFAR-10: the paper and scratchnet", page.table(
                table, header, numeric=(1, 2, 4, 6)) + page.figure(
                chart, "Where an orange bar (the paper) stands above its blue neighbour (ours), the paper "
                       "reports more than we reach; the whiskers span our seeds.")),
            page.section("curves", "Test accuracy of every run, epoch by epoch", page.figure(
                curves, "A curve still climbing at its last epoch would gain from a longer budget; seeds "
                        "of one model lying on top of each other mean the gap between models is not luck.")),
            page.section("runs", "Every run", run_table)]
    path = out / "index.html"
    write_text(path, page.document("scratchnet: Table 1", "\n".join(body)))
    return path
