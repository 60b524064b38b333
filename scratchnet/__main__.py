"""``python -m scratchnet``: the commands, and what each does."""

COMMANDS = {
    "train": "train a model of the paper's Table 1 (try --small first: about a minute)",
    "evaluate": "test accuracy, per class, and a confusion matrix of a trained run",
    "predict": "the three likeliest classes of your own pictures",
    "reproduce": "re-run the paper's Table 1 over several seeds, resumable",
    "report": "a web page of a run: curves, filters, feature maps, mistakes",
    "bench": "how fast each model, layer and kernel runs on this machine",
}

if __name__ == "__main__":
    print("scratchnet: deep learning from scratch in NumPy and Numba. Commands:\n")
    for name, what in COMMANDS.items():
        print(f"  python -m scratchnet.{name:<10} {what}")
    print("\nEach takes --help. Exit codes: 0 done, 1 the run diverged, 2 bad input, 130 interrupted.")
