"""``python -m scratchnet.report RUN_FOLDER``: write RUN_FOLDER/report.html,
a page of what the run learned."""

import argparse
import sys
import time

from scratchnet.reporting import write_report


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m scratchnet.report",
        description="Write RUN_FOLDER/report.html: the run's options, curves and accuracies and, "
                    "when the folder holds its checkpoint, the filters, feature maps, recurrent gates, "
                    "confusion matrix and most confident mistakes of the trained network. "
                    "One file that opens in any browser.")
    parser.add_argument("run_folder", help="a folder written by python -m scratchnet.train (its --out)")
    parser.add_argument("--data-dir", help="folder holding cifar-10-batches-py/ (default: $SCRATCHNET_DATA, "
                                           "else ./datasets)")
    parser.add_argument("--facts-only", action="store_true",
                        help="only the facts and curves, as the trainer writes after each epoch "
                             "(no model needed)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        path = write_report(args.run_folder, full=not args.facts_only, data_dir=args.data_dir)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
