"""Fake finished runs of the study: summaries and test predictions right on chosen images."""

import numpy as np

from scratchnet import study

N = 1000
LABELS = np.arange(N) % 10


def predictions(correct):
    """Predicted classes that are right exactly on the images ``correct`` (a slice or a boolean mask)."""
    mask = np.zeros(N, bool)
    mask[correct] = True
    return np.where(mask, LABELS, (LABELS + 1) % 10).astype(np.uint8)


def fake(correct, seconds=100.0, images_per_s=500.0):
    """One finished run: (summary, predictions)."""
    answers = predictions(correct)
    summary = {"test_accuracy": float(np.mean(answers == LABELS)), "test_size": N, "wall_time_s": seconds,
               "train_images_per_s": images_per_s, "threads": 2, "commit": "abc1234", "data": "fake data"}
    return summary, answers


def first(k):
    return slice(0, k)


def seed_zero(**accuracy):
    """Seed 0 of each named run, right on its first images (a fraction of N given)."""
    return {name: {0: fake(first(round(value * N)))} for name, value in accuracy.items()}


def rows_of(accuracy, extra=None, missing=()):
    done = seed_zero(**accuracy)
    for (name, seed), value in (extra or {}).items():
        done[name][seed] = fake(first(round(value * N)), seconds=300.0, images_per_s=250.0)
    planned = [(name, 0) for name in accuracy] + list(extra or {}) + list(missing)
    return study.summarise(planned, done, LABELS)
