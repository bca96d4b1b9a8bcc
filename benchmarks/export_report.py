"""Re-exports the default run's student and records the export report.

    python benchmarks/export_report.py [--workdir=runs/fashion_mnist_lt] [--out=benchmarks/results]

Runs ``python -m candle_tf.export --workdir=WORKDIR`` (the work dir of
``python -m candle_tf.train`` with no flags, which must have finished), then writes
``export_report.json`` (the report plus date, machine, load and the command's wall time) and
``export_report.md``, and prints the Markdown.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import time

from results_files import machine, write_results

from candle_tf.export.report import REPORT_FILE, format_report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def markdown(record: dict) -> str:
    load = record["load_average"]
    return (f"`{record['command']}`, {record['date']}, {record['machine']}; load average "
            f"{load['before']:.1f} before, {load['after_1min']:.1f} at the end (2.0 = both "
            f"cores busy; above that, other jobs shared them). Command wall time "
            f"{record['wall_seconds']:.0f} s (TensorFlow start-up, data, teacher conversion "
            f"and latency runs included).\n\n" + format_report(record["report"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=os.path.join(ROOT, "runs", "fashion_mnist_lt"))
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results"))
    args = parser.parse_args()
    if not os.path.exists(os.path.join(args.workdir, "distillation", "done.json")):
        sys.exit(f"{args.workdir} holds no finished distillation: run `python -m "
                 "candle_tf.train` (the default run) first, or pass --workdir.")
    load_before = os.getloadavg()[0]
    start = time.time()
    subprocess.run([sys.executable, "-m", "candle_tf.export", f"--workdir={args.workdir}"],
                   check=True, cwd=ROOT)
    wall = time.time() - start
    with open(os.path.join(args.workdir, "export", REPORT_FILE)) as handle:
        report = json.load(handle)
    record = {
        "command": f"python -m candle_tf.export --workdir={os.path.relpath(args.workdir, ROOT)}",
        "date": datetime.date.today().isoformat(), "machine": machine(),
        "load_average": {"before": round(load_before, 2),
                         "after_1min": round(os.getloadavg()[0], 2)},
        "wall_seconds": round(wall, 1), "report": report,
    }
    text = markdown(record)
    write_results(args.out, "export_report", record, text)
    print(text)


if __name__ == "__main__":
    main()
