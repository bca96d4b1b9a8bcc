"""Runs the default command in a fresh work dir and records stage times and the results.

    python benchmarks/default_run.py [--out=benchmarks/results] [-- extra train flags]

Writes ``default_run.json`` and ``default_run.md`` (stage wall times; teacher and student
top-1 / many / medium / few; export size and parity) and prints the Markdown.
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import time

from results_files import machine, write_results

STAGES = ("teacher", "calibration", "distillation", "evaluation", "export")


def markdown(record: dict) -> str:
    load = record["load_average"]
    lines = [f"Default run (`{record['command']}`), {record['date']}, {record['machine']}; "
             f"load average {load['before']:.1f} before, {load['after_15min']:.1f} over the "
             f"last 15 min (2.0 = both cores busy; above that, other jobs shared them).",
             "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {stage} | {record['stage_seconds'][stage]:.0f} |" for stage in STAGES]
    lines += [f"| **total (wall, incl. start-up)** | **{record['wall_seconds']:.0f}** |", "",
              "| model | top-1 | many | medium | few |", "|---|---|---|---|---|"]
    for name, report in record["models"].items():
        lines.append(f"| {name} | " + " | ".join(
            f"{100 * report[k]:.2f}" for k in ("top1", "many", "medium", "few")) + " |")
    export = record["export"]
    lines += ["", f"Final lambda: {record['final_lambda']:.3f}. Student .tflite: "
              f"{export['tflite_bytes'] / 1024:.1f} KB, {export['ops']['lce_bconv2d']} "
              f"LceBconv2d; LCE vs Keras on {export['parity']['num_images']} test images: "
              f"{100 * export['parity']['agreement']:.2f} % same class."]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    parser.add_argument("--workdir", default="/tmp/candle_default_benchmark")
    args, train_flags = parser.parse_known_args()
    train_flags = [f for f in train_flags if f != "--"]
    shutil.rmtree(args.workdir, ignore_errors=True)
    command = [sys.executable, "-m", "candle_tf.train", f"--workdir={args.workdir}",
               "--verbose=2", *train_flags]
    load_before = os.getloadavg()[0]
    start = time.time()
    subprocess.run(command, check=True)
    wall = time.time() - start
    with open(os.path.join(args.workdir, "metrics.json")) as handle:
        metrics = json.load(handle)
    record = {
        "command": " ".join(["python -m candle_tf.train", *train_flags]),
        "date": datetime.date.today().isoformat(), "machine": machine(),
        "load_average": {"before": round(load_before, 2),
                         "after_15min": round(os.getloadavg()[2], 2)},
        "wall_seconds": round(wall, 1), "stage_seconds": metrics["stage_seconds"],
        "models": {name: {k: r[k] for k in ("top1", "many", "medium", "few", "val_top1",
                                             "per_class")}
                   for name, r in metrics["models"].items()},
        "final_lambda": metrics["final_lambda"], "train_counts": metrics["train_counts"],
        "export": {k: metrics["export"][k] for k in ("tflite_bytes", "ops", "parity")},
    }
    text = markdown(record)
    write_results(args.out, "default_run", record, text)
    print(text)


if __name__ == "__main__":
    main()
