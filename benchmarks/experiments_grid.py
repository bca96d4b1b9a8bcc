"""Runs the experiment grid and records how long it took, next to its table and plots.

    python benchmarks/experiments_grid.py --name=NAME [--out=benchmarks/results]
        [--processes=N] -- FLAGS

FLAGS go to ``python -m candle_tf.experiments`` unchanged (e.g. --dataset, --methods,
--seeds, sizes, --workdir). ``--processes=N`` splits the seeds among N concurrent harness
processes (logs: ``<workdir>/log_seeds_<seeds>.txt``), which keeps both cores of a small
machine busy while one process traces graphs, then writes the report of all seeds.
Resumes like the harness. Writes into ``<out>/<NAME>/``:
``results.md``, ``results.json``, the PNG plots, and ``run.json``: every invocation's command,
date, machine, wall and CPU seconds (a resumed grid adds one), and the seconds of every
finished run and shared teacher stage (the grid's own record, whichever invocation ran it).
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import time

from results_files import machine


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


def run_concurrently(command, workdir: str, seeds, processes: int) -> None:
    """Runs the seeds, dealt round-robin, in ``processes`` concurrent harness processes."""
    os.makedirs(workdir, exist_ok=True)
    running = []
    for group in (seeds[i::processes] for i in range(processes)):
        if not group:
            continue
        seed_list = ",".join(group)
        log = open(os.path.join(workdir, f"log_seeds_{seed_list}.txt"), "a")
        print(f"seeds {seed_list}: log in {log.name}", flush=True)
        running.append((seed_list, log, subprocess.Popen(
            command + [f"--seeds={seed_list}",
                       f"--report_dir={os.path.join(workdir, 'report_seeds_' + seed_list)}"],
            stdout=log, stderr=subprocess.STDOUT)))
    failed = [seed_list for seed_list, log, process in running if process.wait() != 0]
    for _, log, _ in running:
        log.close()
    if failed:
        raise SystemExit(f"The harness failed for seeds {'; '.join(failed)}: see "
                         f"{workdir}/log_seeds_<seeds>.txt, fix the cause and re-run the same "
                         "command (finished runs are kept).")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="sub-folder of --out for this grid")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    parser.add_argument("--processes", type=int, default=1,
                        help="concurrent harness processes, each running some of the seeds")
    args, grid_flags = parser.parse_known_args()
    grid_flags = [flag for flag in grid_flags if flag != "--"]
    dataset = flag_value(grid_flags, "dataset", "fashion_mnist_lt")
    workdir = flag_value(grid_flags, "workdir", os.path.join("runs", "experiments", dataset))
    seeds = flag_value(grid_flags, "seeds", "0,1,2").split(",")
    report_dir = os.path.join(workdir, "report")
    passed = [flag for flag in grid_flags
              if not flag.startswith(("--workdir=", "--report_dir=", "--seeds="))]
    command = [sys.executable, "-m", "candle_tf.experiments", f"--workdir={workdir}", *passed]
    start, cpu_start = time.time(), os.times()
    if args.processes > 1:
        run_concurrently(command, workdir, seeds, args.processes)
    subprocess.run(command + [f"--seeds={','.join(seeds)}", f"--report_dir={report_dir}"],
                   check=True)
    cpu_end = os.times()
    out = os.path.join(args.out, args.name)
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(report_dir):  # results.md, results.json, the plots
        shutil.copy(os.path.join(report_dir, name), out)
    with open(os.path.join(report_dir, "results.json")) as handle:
        rows = json.load(handle)["rows"]
    invocation = {
        "command": " ".join(["python -m candle_tf.experiments", *grid_flags]),
        "processes": args.processes,
        "date": datetime.date.today().isoformat(),
        "machine": f"{machine()}; load average at the end {os.getloadavg()[0]:.1f}",
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
