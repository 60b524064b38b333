"""What the commands share: options made from the recipe, and one way to say an error.

Exit codes of every command: 0 done, 1 the run diverged, 2 bad input (the message says
what and how to fix it), 130 interrupted (the run is saved and can be resumed).
"""

import argparse
import dataclasses
import functools
import sys

from scratchnet.models import CHOICES, DEFAULT_OPTIONS, MODEL_NAMES
from scratchnet.recipe import SMALL, Config

FIELDS = {field.name: field for field in dataclasses.fields(Config)}


def fail(message):
    """Print ``error: message`` on stderr; returns exit code 2 (bad input)."""
    print(f"error: {message}", file=sys.stderr)
    return 2


def interruptible(main):
    """A command's ``main`` that ends on Ctrl-C with one line and exit code 130, never a traceback.

    For Ctrl-C while a command starts up or works (a training run handles its own, to save first).
    """
    @functools.wraps(main)
    def wrapped(argv=None):
        try:
            return main(argv)
        except KeyboardInterrupt:
            print("interrupted (no file is left half-written)", file=sys.stderr)
            return 130
    return wrapped


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text}")
    return value


def add_config_options(parser, names):
    """``--name`` for each of these ``Config`` fields, help and default from the field."""
    for name in names:
        field = FIELDS[name]
        default = field.default
        shown = "" if default is None or default is False else f" (default {default}"
        if name in SMALL:
            shown += f"{', or ' if shown else ' (default '}{SMALL[name]} with --small"
        shown += ")" if shown else ""
        kind = {"model": str, "lr": float, "momentum": float, "weight_decay": float,
                "clip": float}.get(name, int)
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind,
                            choices=MODEL_NAMES if name == "model" else None,
                            help=field.metadata["help"] + shown)


MODEL_OPTIONS = tuple(dict.fromkeys(key for options in DEFAULT_OPTIONS.values() for key in options))


def add_model_options(parser, names=MODEL_OPTIONS):
    """``--conv1``, ``--conv2`` (the convolutions' algorithm) and the CNN-LSTM's variants."""
    group = parser.add_argument_group("the network's options (scratchnet.models; the defaults "
                                      "are the paper's network)")
    helps = {"conv1": "algorithm of the first convolution", "conv2": "algorithm of the second convolution",
             "head": "cnn_lstm: what reads the features: the LSTM, or the CNN's dense layers",
             "reading": "cnn_lstm: how the 64 maps of 6 x 6 become a sequence",
             "readout": "cnn_lstm: what the classifier reads: the last hidden state, or their mean",
             "hidden": "cnn_lstm: the LSTM's hidden size"}
    for name in names:
        defaults = sorted({str(options[name]) for options in DEFAULT_OPTIONS.values() if name in options})
        group.add_argument(f"--{name}", type=cli_type(name),
                           choices=list(CHOICES[name]) if name in CHOICES else None,
                           help=f"{helps[name]} (default {', '.join(defaults)})")


def cli_type(name):
    return positive_int if name == "hidden" else str


def model_options(args, names=MODEL_OPTIONS):
    """The network options typed on the command line."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def given(args, names):
    """The ``Config`` fields among ``names`` typed on the command line (every default is None there)."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def config_from_args(args, names, small=False, **fixed):
    """A ``Config`` from the options given, the ``--small`` preset under them, ``fixed`` over both."""
    preset = {**SMALL, "small": True} if small else {}
    return Config(**{**preset, **given(args, names), "model_options": model_options(args), **fixed})
