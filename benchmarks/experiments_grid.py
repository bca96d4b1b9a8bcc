"""Runs the experiment grid and records how long it took, next to its table and plots.

    python benchmarks/experiments_grid.py --name=NAME [--out=benchmarks/results] -- FLAGS

FLAGS go to ``python -m candle_tf.experiments`` unchanged (e.g. --dataset, --methods,
--seeds, sizes, --workdir). Resumes like the harness. Writes into ``<out>/<NAME>/``:
``results.md``, ``results.json``, the PNG plots, and ``run.json``: every invocation's command,
date, machine, wall and CPU seconds (a resumed grid adds one), and the seconds of every
finished run and shared teacher stage (the grid's own record, whichever invocation ran it).
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time


def machine() -> str:
    return (f"{os.cpu_count()} CPU cores, {platform.machine()}, {platform.system()}, no GPU; "
            f"load average at the end {os.getloadavg()[0]:.1f}")


def flag_value(flags, name: str, default: str) -> str:
    for flag in flags:
        if flag.startswith(f"--{name}="):
            return flag.split("=", 1)[1]
    return default


def teacher_seconds(workdir: str) -> dict:
    """Seconds of every finished shared stage (teacher, calibration, its evaluation) per seed."""
    seconds = {}
    for seed_dir in sorted(os.listdir(workdir)):
        if not seed_dir.startswith("seed_"):
            continue
        for stage in sorted(os.listdir(os.path.join(workdir, seed_dir))):
            marker = os.path.join(workdir, seed_dir, stage, "done.json")
            if os.path.exists(marker):
                with open(marker) as handle:
                    seconds[f"{seed_dir}/{stage}"] = json.load(handle)["seconds"]
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="sub-folder of --out for this grid")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args, grid_flags = parser.parse_known_args()
    grid_flags = [flag for flag in grid_flags if flag != "--"]
    dataset = flag_value(grid_flags, "dataset", "fashion_mnist_lt")
    workdir = flag_value(grid_flags, "workdir", os.path.join("runs", "experiments", dataset))
    report_dir = os.path.join(workdir, "report")
    passed = [flag for flag in grid_flags if not flag.startswith(("--workdir=", "--report_dir="))]
    command = [sys.executable, "-m", "candle_tf.experiments", f"--workdir={workdir}",
               f"--report_dir={report_dir}", *passed]
    start, cpu_start = time.time(), os.times()
    subprocess.run(command, check=True)
    cpu_end = os.times()
    out = os.path.join(args.out, args.name)
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(report_dir):  # results.md, results.json, the plots
        shutil.copy(os.path.join(report_dir, name), out)
    with open(os.path.join(report_dir, "results.json")) as handle:
        rows = json.load(handle)["rows"]
    invocation = {
        "command": " ".join(["python -m candle_tf.experiments", *grid_flags]),
        "date": datetime.date.today().isoformat(), "machine": machine(),
        "wall_seconds": round(time.time() - start, 1),
        "cpu_seconds": round((cpu_end.children_user - cpu_start.children_user)
                             + (cpu_end.children_system - cpu_start.children_system), 1),
    }
    path = os.path.join(out, "run.json")
    earlier = []
    if os.path.exists(path):
        with open(path) as handle:
            earlier = json.load(handle)["invocations"]
    record = {"invocations": earlier + [invocation],
              "seconds_per_run": {name: row["seconds"]["values"] for name, row in rows.items()},
              "shared_stage_seconds": teacher_seconds(workdir)}
    with open(path, "w") as handle:
        json.dump(record, handle, indent=2)
    print(json.dumps(invocation, indent=2))


if __name__ == "__main__":
    main()
