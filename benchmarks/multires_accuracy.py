"""Accuracy of multi-resolution calibration: one teacher resolution vs several, end to end.

    python benchmarks/multires_accuracy.py [--arms 64 96,64,32] [--out=benchmarks/results]
        [--workdir=/tmp/candle_multires_accuracy] [--resume] [-- extra train flags]

Each arm is one run of the real pipeline, ``python -m candle_tf.train`` on the default data
set with its preset (flags/fashion_mnist_lt.cfg), in its own work dir, with
``--resolutions=ARM``. The first arm pretrains the teacher's encoder (stage 0); the others
start from that same file (``--teacher_weights=<first arm>/teacher/encoder.weights.h5``),
so the arms differ from calibration on. Stage 0 pretrains at the arm's reference (median)
view: sharing the encoder is what the later arms would do themselves when their reference
is the first arm's resolution (recorded as ``encoder_resolution``).

Extra flags go to every arm after ``DEFAULT_TRAIN_FLAGS`` (later flags win): the default
halves the preset's distillation so that two arms take about 25 minutes on 2 CPU cores;
calibration keeps the preset's schedule. Records, per arm, the teacher's and the student's
top-1 / many / medium / few on the balanced test set, the stage times and the load.
Writes ``multires_accuracy.json`` and ``multires_accuracy.md``.
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import time

from default_run import machine

DEFAULT_TRAIN_FLAGS = ("--distill_epochs=4", "--verbose=2")
GROUPS = ("top1", "many", "medium", "few")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", nargs="+", default=["64", "96,64,32"],
                        help="teacher resolutions of each arm; the first pretrains the encoder")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    parser.add_argument("--workdir", default="/tmp/candle_multires_accuracy")
    parser.add_argument("--resume", action="store_true",
                        help="keep the arms' work dirs (finished stages are skipped)")
    args, train_flags = parser.parse_known_args(argv)
    return args, [*DEFAULT_TRAIN_FLAGS, *(f for f in train_flags if f != "--")]


def run_arm(resolutions: str, workdir: str, train_flags: list, encoder: str) -> dict:
    """One pipeline run; its metrics, wall time and the load before and after."""
    weights = [f"--teacher_weights={encoder}"] if encoder else []
    command = [sys.executable, "-m", "candle_tf.train", f"--workdir={workdir}",
               f"--resolutions={resolutions}", *train_flags, *weights]
    load_before, start = os.getloadavg()[0], time.time()
    subprocess.run(command, check=True)
    wall = time.time() - start
    with open(os.path.join(workdir, "metrics.json")) as handle:
        metrics = json.load(handle)
    (teacher_name, teacher), (student_name, student) = metrics["models"].items()
    return {"resolutions": [int(size) for size in resolutions.split(",")],
            "teacher_weights": encoder or "pretrain", "wall_seconds": round(wall, 1),
            "load_average": [load_before, os.getloadavg()[0]],
            "stage_seconds": metrics["stage_seconds"], "final_lambda": metrics["final_lambda"],
            "teacher": {"name": teacher_name, **{k: teacher[k] for k in (*GROUPS, "val_top1")}},
            "student": {"name": student_name, **{k: student[k] for k in (*GROUPS, "val_top1")}}}


def markdown(record: dict) -> str:
    lines = [f"Multi-resolution calibration on {record['dataset']} (`{record['command']}`), "
             f"{record['date']}, {record['machine']}, shared with other jobs (1-min load "
             f"average per arm below). Every arm: `python -m candle_tf.train "
             f"{' '.join(record['train_flags'])} --resolutions=ARM`; encoder pretrained once "
             f"at {record['encoder_resolution']} px and shared. One seed: differences of a "
             "point or two are within run-to-run noise.", "",
             "| teacher px | teacher top-1 | many | medium | few | student top-1 | many | "
             "medium | few | calibration s | distillation s | load |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for arm in record["arms"]:
        accuracies = [f"{100 * arm[model][k]:.2f}" for model in ("teacher", "student")
                      for k in GROUPS]
        seconds = arm["stage_seconds"]
        lines.append(f"| {','.join(map(str, arm['resolutions']))} | {' | '.join(accuracies)} | "
                     f"{seconds['calibration']:.0f} | {seconds['distillation']:.0f} | "
                     f"{arm['load_average'][0]:.1f}-{arm['load_average'][1]:.1f} |")
    return "\n".join(lines)


def main():
    args, train_flags = parse_args()
    from candle_tf.models.teacher import reference_view

    arms, encoder = [], ""
    for resolutions in args.arms:
        workdir = os.path.join(args.workdir, "res_" + resolutions.replace(",", "_"))
        if not args.resume:
            shutil.rmtree(workdir, ignore_errors=True)
        print(f"== arm --resolutions={resolutions} in {workdir}", file=sys.stderr, flush=True)
        arms.append(run_arm(resolutions, workdir, train_flags, encoder))
        if not encoder:
            encoder = os.path.join(workdir, "teacher", "encoder.weights.h5")
    first = arms[0]["resolutions"]
    record = {
        "command": " ".join(["python benchmarks/multires_accuracy.py", *sys.argv[1:]]),
        "date": datetime.date.today().isoformat(), "machine": machine(),
        "dataset": "fashion_mnist_lt", "train_flags": train_flags,
        "encoder_resolution": first[reference_view(first)], "arms": arms,
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "multires_accuracy.json"), "w") as handle:
        json.dump(record, handle, indent=2)
    text = markdown(record)
    with open(os.path.join(args.out, "multires_accuracy.md"), "w") as handle:
        handle.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
