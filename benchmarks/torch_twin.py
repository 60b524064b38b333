"""The paper's CNN-LSTM in PyTorch, layer for layer as scratchnet builds it: its CPU training step.

Not part of scratchnet, its tests or CI: run it in an environment that has torch (and numpy),
for example a separate virtual environment, ``pip install torch numpy`` there:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /path/to/venv/bin/python benchmarks/torch_twin.py \
        --append benchmarks/history.jsonl

It times the step that ``python -m scratchnet.bench`` times (batch 128, float32): forward,
cross-entropy, backward, gradient clipping at norm 5, SGD with momentum 0.9 and weight decay
5e-4, with ``torch.set_num_threads`` 1 and 2; medians over ``--repeats`` steps after warm-up.
One JSON line (``"kind": "torch_twin"``) goes to stdout and, with ``--append``, to the history
from which ``scratchnet.perfpage`` writes the performance page.

The same layers: conv 5 x 5 x 64 "same"; max-pool 3 x 3 / 2 "same" (TensorFlow's rule: one
row and column of -inf at the bottom and right, 24 -> 12); ReLU; LRN (size 9, k 1, beta 0.75,
alpha 0.001 / 9 undivided, which is PyTorch's alpha 0.001 since PyTorch divides by the size);
conv 5 x 5 x 64 "same"; pool (12 -> 6); ReLU; the (N, 64, 6, 6) maps as 48 steps of 48 values
into an LSTM with 128 hidden units; a linear layer to 10 classes. As in scratchnet, each pool
comes before its ReLU (the same function, see scratchnet.models).
"""

import argparse
import datetime
import json
import os
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional


class PaperCNNLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 5, padding=2)
        self.conv2 = nn.Conv2d(64, 64, 5, padding=2)
        self.norm1 = nn.LocalResponseNorm(9, alpha=0.001, beta=0.75, k=1.0)
        self.lstm = nn.LSTM(48, 128, batch_first=True)
        self.fc = nn.Linear(128, 10)

    @staticmethod
    def pool(x):  # 3 x 3 / 2 "same": -inf padding at the bottom and right only
        return functional.max_pool2d(functional.pad(x, (0, 1, 0, 1), value=float("-inf")), 3, 2)

    def forward(self, x):
        x = self.norm1(torch.relu(self.pool(self.conv1(x))))
        x = torch.relu(self.pool(self.conv2(x)))
        _, (h, _) = self.lstm(x.reshape(len(x), 48, 48))
        return self.fc(h[-1])


def time_steps(threads, batch, repeats, warmup):
    """Median ms of a training step with ``threads`` intra-op threads."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = PaperCNNLSTM()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x, y = torch.randn(batch, 3, 24, 24), torch.randint(0, 10, (batch,))

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = functional.cross_entropy(model(x), y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()

    for _ in range(warmup):
        step()
    ms, cpu_ms = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        step()
        ms.append(1e3 * (time.perf_counter() - started))
        cpu_ms.append(1e3 * (time.process_time() - started_cpu))  # every thread's, as in conv1_lstm.py
    median = float(np.median(ms))
    return {"ms": median, "img_per_s": batch / median * 1e3, "cpu_ms": float(np.median(cpu_ms))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--sitting", help="a label shared by the lines of one sitting (default: today's date)"
    )
    parser.add_argument("--append", metavar="FILE", help="also append the JSON line to this history")
    args = parser.parse_args(argv)
    now = datetime.datetime.now(datetime.timezone.utc)
    load = os.getloadavg()[0]
    result = {
        "kind": "torch_twin",
        "torch": torch.__version__,
        "mkldnn": torch.backends.mkldnn.is_available(),
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "train_step": {str(t): time_steps(t, args.batch_size, args.repeats, 3) for t in (1, 2)},
        "load_avg_1min": [load, os.getloadavg()[0]],
        "sitting": args.sitting or now.date().isoformat(),
        "date": now.isoformat(timespec="seconds"),
    }
    line = json.dumps(result)
    print(line)
    if args.append:
        with open(args.append, "a") as file:
            file.write(line + "\n")


if __name__ == "__main__":
    main()
