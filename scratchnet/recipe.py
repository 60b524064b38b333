"""The recipe: every option that defines a training run, its default, and what it may be.

This is the one home of the defaults. ``python -m scratchnet.train`` and
``python -m scratchnet.reproduce`` build their options from ``Config``'s fields (the help
text is the field's ``help``), checkpoints store a ``Config`` and resume from it.

The recipe is the standard one for small CIFAR-10 networks: SGD with momentum 0.9 and
weight decay 5e-4 (the L2 term), the gradient's norm clipped at 5, a linear warm-up of 200
steps then cosine decay to zero at the last epoch, batches of 128 random 24 x 24 crops.
The paper states neither learning rate nor budget; the peak rates below are ours.
"""

import dataclasses
import math

from scratchnet.models import MODEL_NAMES, model_options

# Peak learning rates: the recurrent rows tolerate, and need, a larger one.
PEAK_LR = {"cnn_lstm": 0.02, "cnn": 0.02, "cnn_nolrn": 0.02, "lstm": 0.05, "gru": 0.05}
# --small: a subset that trains in about a minute on two cores (smaller batches: more steps
# in the same time, which a short run needs more than a smooth gradient)
SMALL = {"train_size": 5000, "test_size": 1000, "val_size": 500, "epochs": 6, "batch_size": 64,
         "warmup_steps": 20}
# Checkpoints written before the network's options were recorded used these algorithms.
LEGACY_OPTIONS = {"cnn_lstm": {"conv1": "direct", "conv2": "winograd"},
                  "cnn": {"conv1": "direct", "conv2": "winograd"},
                  "cnn_nolrn": {"conv1": "direct", "conv2": "winograd"}}


def _option(default, help):
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass
class Config:
    """Everything that defines a run. Saved in every checkpoint and in summary.json."""

    model: str = _option("cnn_lstm", "which row of Table 1 to train")
    epochs: int = _option(30, "epochs; the learning rate reaches zero at the last")
    batch_size: int = _option(128, "images per SGD step")
    lr: float | None = _option(None, "peak learning rate (default per model: "
                               + ", ".join(f"{name} {lr}" for name, lr in PEAK_LR.items()) + ")")
    momentum: float = _option(0.9, "SGD momentum, in [0, 1)")
    weight_decay: float = _option(5e-4, "L2 strength: adds weight_decay * w to every parameter's gradient")
    clip: float = _option(5.0, "clip the gradient's global L2 norm to this")
    warmup_steps: int = _option(200, "steps of linear warm-up before the cosine decay")
    val_size: int = _option(5000, "training images held out for validation; 0 trains on all 50,000")
    seed: int = _option(0, "seeds every random choice: same seed, same run")
    train_size: int | None = _option(None, "train on only the first N training images after the split")
    test_size: int | None = _option(None, "test on only the first N of the 10,000 test images")
    small: bool = _option(False, "the --small preset")
    # options of the network itself (scratchnet.models.build_model), those given explicitly
    model_options: dict = dataclasses.field(default_factory=dict, metadata={"help": "model options"})

    def __post_init__(self):
        if self.lr is None:
            self.lr = PEAK_LR.get(self.model, 0.02)
        problems = []
        if self.model not in MODEL_NAMES:
            problems.append(f"--model {self.model!r} is not one of {', '.join(MODEL_NAMES)}")
        for name in ("epochs", "batch_size", "train_size", "test_size"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and value >= 1):
                problems.append(f"--{name.replace('_', '-')} must be a whole number of at least 1, "
                                f"got {value}")
        for name in ("warmup_steps", "seed"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 0):
                problems.append(f"--{name.replace('_', '-')} must be a whole number >= 0, "
                                f"got {getattr(self, name)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            problems.append(f"--lr must be a positive number, got {self.lr}")
        if not 0 <= self.momentum < 1:
            problems.append(f"--momentum must be in [0, 1), got {self.momentum}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            problems.append(f"--weight-decay must be a number >= 0, got {self.weight_decay}")
        if not (self.clip > 0 and math.isfinite(self.clip)):
            problems.append(f"--clip must be a positive number, got {self.clip}")
        if not (isinstance(self.val_size, int) and 0 <= self.val_size < 50000):
            problems.append(f"--val-size must be a whole number in [0, 50000), got {self.val_size}")
        if not isinstance(self.model_options, dict):
            problems.append(f"model options must be a dict, got {type(self.model_options).__name__}")
        elif self.model in MODEL_NAMES:
            try:  # every option written out: a later change of default cannot change a resumed run
                self.model_options = model_options(self.model, **self.model_options)
            except (TypeError, ValueError) as error:
                problems.append(str(error))
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def from_dict(cls, saved, where):
        """The Config stored in a checkpoint or summary; a clear ValueError when it is not one."""
        if not isinstance(saved, dict):
            raise ValueError(f"{where} holds no training options; it was not written by scratchnet.train")
        if "model_options" not in saved:  # written before the network's options were recorded
            saved = {**saved, "model_options": LEGACY_OPTIONS.get(saved.get("model"), {})}
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(saved) - known)
        if unknown:
            raise ValueError(f"{where} holds options this version of scratchnet does not know "
                             f"({', '.join(unknown)}); upgrade scratchnet")
        try:
            return cls(**saved)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where} holds damaged training options ({error})") from None

    def differences(self, other):
        """``["lr: 0.02 here, 0.1 there", ...]`` for every field that differs."""
        return [f"{field.name}: {getattr(self, field.name)!r} here, {getattr(other, field.name)!r} there"
                for field in dataclasses.fields(self)
                if getattr(self, field.name) != getattr(other, field.name)]


def small_config(**options):
    """The ``--small`` preset, with ``options`` on top."""
    return Config(**{**SMALL, "small": True, **options})
