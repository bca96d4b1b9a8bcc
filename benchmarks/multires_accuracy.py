"""Accuracy of multi-resolution calibration: one teacher resolution vs several, end to end.

    python benchmarks/multires_accuracy.py [--arms 64 96,64,32] [--seeds 0]
        [--out=benchmarks/results] [--workdir=/tmp/candle_multires_accuracy] [--resume]
        [-- extra train flags]

Each arm is one run of the real pipeline, ``python -m candle_tf.train`` on the default data
set with its preset (flags/fashion_mnist_lt.cfg), in its own work dir, with
``--resolutions=ARM --seed=SEED`` (the seed also draws the LT split). Per seed, the first arm
pretrains the teacher's encoder (stage 0); the others start from that same file
(``--teacher_weights=<first arm>/teacher/encoder.weights.h5``), so the arms differ from
calibration on. Stage 0 pretrains at the arm's reference (median) view: sharing the encoder
is what the later arms would do themselves when their reference is the first arm's
resolution (recorded as ``encoder_resolution``).

Extra flags go to every arm after ``DEFAULT_TRAIN_FLAGS`` (later flags win): the default
halves the preset's distillation so that two arms of one seed take about 25 minutes on 2
idle CPU cores; calibration keeps the preset's schedule. Records, per arm and seed, the
teacher's and the student's top-1 / many / medium / few on the balanced test set, the stage
times and the 1-min load average (sampled every 10 s while the arm runs). Each arm's record
is also kept in its work dir (``arm.json``); ``--resume`` reuses those of finished arms.
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

from results_files import machine, write_results

DEFAULT_TRAIN_FLAGS = ("--distill_epochs=4", "--verbose=2")
GROUPS = ("top1", "many", "medium", "few")
LOAD_SAMPLE_SECONDS = 10


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", nargs="+", default=["64", "96,64,32"],
                        help="teacher resolutions of each arm; the first pretrains the encoder")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0],
                        help="one replicate of every arm per seed")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    parser.add_argument("--workdir", default="/tmp/candle_multires_accuracy")
    parser.add_argument("--resume", action="store_true",
                        help="reuse finished arms' records and resume unfinished arms")
    args, train_flags = parser.parse_known_args(argv)
    return args, [*DEFAULT_TRAIN_FLAGS, *(f for f in train_flags if f != "--")]


def run_and_sample_load(command: list) -> list:
    """Runs ``command`` to the end; the 1-min load average every ``LOAD_SAMPLE_SECONDS``."""
    process = subprocess.Popen(command)
    samples = [os.getloadavg()[0]]
    while True:
        try:
            returncode = process.wait(timeout=LOAD_SAMPLE_SECONDS)
            break
        except subprocess.TimeoutExpired:
            samples.append(os.getloadavg()[0])
    if returncode:
        raise subprocess.CalledProcessError(returncode, command)
    return samples


def run_arm(resolutions: str, seed: int, workdir: str, train_flags: list,
            encoder: str) -> dict:
    """One pipeline run; its metrics, wall time and the load while it ran."""
    weights = [f"--teacher_weights={encoder}"] if encoder else []
    command = [sys.executable, "-m", "candle_tf.train", f"--workdir={workdir}",
               f"--resolutions={resolutions}", f"--seed={seed}", *train_flags, *weights]
    start = time.time()
    loads = run_and_sample_load(command)
    wall = time.time() - start
    with open(os.path.join(workdir, "metrics.json")) as handle:
        metrics = json.load(handle)
    (teacher_name, teacher), (student_name, student) = metrics["models"].items()
    return {"resolutions": [int(size) for size in resolutions.split(",")], "seed": seed,
            "teacher_weights": encoder or "pretrain", "wall_seconds": round(wall, 1),
            "load_average": {"mean": sum(loads) / len(loads), "max": max(loads)},
            "stage_seconds": metrics["stage_seconds"], "final_lambda": metrics["final_lambda"],
            "teacher": {"name": teacher_name, **{k: teacher[k] for k in (*GROUPS, "val_top1")}},
            "student": {"name": student_name, **{k: student[k] for k in (*GROUPS, "val_top1")}}}


def accuracy_cells(results: list) -> list:
    """Teacher then student top-1 / many / medium / few in %, averaged over ``results``."""
    return [f"{100 * sum(r[model][k] for r in results) / len(results):.2f}"
            for model in ("teacher", "student") for k in GROUPS]


def markdown(record: dict) -> str:
    lines = [f"Multi-resolution calibration on {record['dataset']} (`{record['command']}`), "
             f"{record['date']}, {record['machine']}, shared with other jobs (load: the 1-min "
             f"load average while the arm ran). Every arm: `python -m "
             f"candle_tf.train {' '.join(record['train_flags'])} --resolutions=ARM "
             f"--seed=SEED`; per seed, the encoder is pretrained once at "
             f"{record['encoder_resolution']} px and shared by the arms. Accuracy in % on the "
             "balanced test set.", "",
             "| teacher px | seed | teacher top-1 | many | medium | few | student top-1 | many "
             "| medium | few | calibration s | distillation s | load |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for arm in record["arms"]:
        seconds = arm["stage_seconds"]
        load = " / ".join(f"{key} {value:.1f}" for key, value in arm["load_average"].items())
        lines.append(f"| {','.join(map(str, arm['resolutions']))} | {arm['seed']} | "
                     f"{' | '.join(accuracy_cells([arm]))} | {seconds['calibration']:.0f} | "
                     f"{seconds['distillation']:.0f} | {load} |")
    seeds = sorted({arm["seed"] for arm in record["arms"]})
    if len(seeds) > 1:
        for resolutions in dict.fromkeys(tuple(arm["resolutions"]) for arm in record["arms"]):
            results = [a for a in record["arms"] if tuple(a["resolutions"]) == resolutions]
            lines.append(f"| **{','.join(map(str, resolutions))}** | **mean** | "
                         f"{' | '.join(accuracy_cells(results))} | | | |")
    return "\n".join(lines)


def main():
    args, train_flags = parse_args()
    from candle_tf.models.teacher import reference_view

    arms = []
    for seed in args.seeds:
        encoder = ""
        for resolutions in args.arms:
            workdir = os.path.join(args.workdir, f"seed{seed}",
                                   "res_" + resolutions.replace(",", "_"))
            record_path = os.path.join(workdir, "arm.json")
            if args.resume and os.path.exists(record_path):
                with open(record_path) as handle:
                    arms.append(json.load(handle))
            else:
                if not args.resume:
                    shutil.rmtree(workdir, ignore_errors=True)
                print(f"== seed {seed}, arm --resolutions={resolutions} in {workdir}",
                      file=sys.stderr, flush=True)
                arms.append(run_arm(resolutions, seed, workdir, train_flags, encoder))
                with open(record_path, "w") as handle:
                    json.dump(arms[-1], handle, indent=2)
            if not encoder:
                encoder = os.path.join(workdir, "teacher", "encoder.weights.h5")
    first = arms[0]["resolutions"]
    record = {
        "command": " ".join(["python benchmarks/multires_accuracy.py", *sys.argv[1:]]),
        "date": datetime.date.today().isoformat(), "machine": machine(),
        "dataset": "fashion_mnist_lt", "train_flags": train_flags,
        "encoder_resolution": first[reference_view(first)], "arms": arms,
    }
    text = markdown(record)
    write_results(args.out, "multires_accuracy", record, text)
    print(text)


if __name__ == "__main__":
    main()
