"""Cost of multi-resolution in distillation: step time and peak memory of four set-ups.

    python benchmarks/multires_cost.py [--steps=10] [--warmup=3] [--rounds=1]
                                       [--multi=96,64,32] [--out=benchmarks/results]

  (i)    single   the teacher at one resolution (--single); the student on its own view
  (ii)   teacher  the teacher fuses --multi resolutions; the student on its own view
                  (CANDLE's "efficient multi-resolution")
  (iii)  both     the teacher fuses --multi; the student also runs on each of those views
  (iiib) scaled   the teacher fuses --multi; the student runs on the same views scaled to
                  its own resolution (student px x view / the teacher's reference view)

(iii) is the literal "same multi-resolution input to both networks". Here the student
(--student_resolution) is far smaller than the teacher's views, so (iii) makes it run at
several times its own size; (iiib) keeps the views' ratios around the student's own size,
as in the paper, where teacher and student share 224 px.

All set-ups distil the same student on the same data: the default Fashion-MNIST-LT split,
its tf.data pipeline (which makes every view), batch --batch_size. The teacher has random
weights: time and memory do not depend on them.

Time: ``--steps`` steps of ``fit`` after ``--warmup`` untimed ones (the first traces the
graph and the input pipeline fills its buffers). s / step is the median wall time of a
step in the least disturbed of ``--rounds`` rounds (the set-ups take turns, so a change in
the load of a shared machine hits them all; the best round, as timeit's best of repeats,
is the least disturbed estimate); CPU s / step is the mean CPU time of the process per step (all its
threads, the data pipeline's too: the work done, whatever share of the cores the process
got, though TF's thread pools also count time spent spinning). "s / epoch" is s / step x
the LT split's steps per epoch (training only, no validation).

Memory: TF keeps no allocator statistics on CPU (``tf.config.experimental.get_memory_info``
is for GPUs), so each set-up runs in a fresh process and reports its peak resident set size
(``ru_maxrss``: everything the process ever held at once: the TF runtime, the data in
memory, the models, the tf.data buffers and the step's activations), and how far that peak
rose during training above the peak before ``fit`` started (what training adds).
Writes ``multires_cost.json`` and ``multires_cost.md``.
"""

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
from results_files import machine, write_results

SETUPS = {
    "single": "(i) single resolution",
    "teacher": "(ii) multi-resolution, teacher only",
    "both": "(iii) multi-resolution, teacher and student (the teacher's views)",
    "scaled": "(iiib) multi-resolution, teacher and student (views scaled to the student)",
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per set-up")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (>= 1)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every set-up this many times, in turns")
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--single", default="64", help="teacher resolution of (i)")
    parser.add_argument("--multi", default="96,64,32", help="teacher resolutions of the others")
    parser.add_argument("--student_resolution", type=int, default=28)
    parser.add_argument("--teacher", default="mobilenet_v2_035")
    parser.add_argument("--width_multiplier", type=float, default=0.25)
    parser.add_argument("--stem_stride", type=int, default=1)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    parser.add_argument("--measure", choices=sorted(SETUPS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.steps, args.warmup, args.rounds) < 1:
        parser.error(f"--steps={args.steps}, --warmup={args.warmup} and --rounds="
                     f"{args.rounds} must all be >= 1 (the first step traces the graph and "
                     "is never timed).")
    return args


def resolutions(text: str) -> tuple:
    return tuple(int(size) for size in text.split(","))


def student_view_sizes(setup: str, teacher_sizes: tuple, student_resolution: int) -> dict:
    """The views the student runs on in ``setup`` (names as the data pipeline makes them)."""
    from candle_tf.models.teacher import reference_view

    if setup in ("single", "teacher"):
        return {"student": student_resolution}
    if setup == "both":
        return {f"teacher_{i}": size for i, size in enumerate(teacher_sizes)}
    scale = student_resolution / teacher_sizes[reference_view(teacher_sizes)]
    return {f"student_{i}": max(8, round(size * scale)) for i, size in enumerate(teacher_sizes)}


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(args: argparse.Namespace) -> dict:
    """Times ``--warmup`` + ``--steps`` distillation steps of one set-up in this process."""
    import tensorflow as tf

    from candle_tf import builders
    from candle_tf.config import RunConfig
    from candle_tf.data.registry import load_dataset
    from candle_tf.data.pipeline import steps_per_epoch, training_dataset

    teacher_sizes = resolutions(args.single if args.measure == "single" else args.multi)
    config = RunConfig(teacher=args.teacher, resolutions=teacher_sizes,
                       student_resolution=args.student_resolution,
                       width_multiplier=args.width_multiplier, stem_stride=args.stem_stride,
                       distill_batch_size=args.batch_size, verbose=0)
    student_views = student_view_sizes(args.measure, teacher_sizes, args.student_resolution)
    dataset = load_dataset(config.dataset, imbalance_ratio=config.imbalance_ratio,
                           seed=config.seed)
    teacher = builders.calibrated_teacher(config, dataset)
    total = args.warmup + args.steps
    trainer = builders.distillation_trainer(config, dataset, teacher, total, list(student_views))
    data = training_dataset(dataset.train, args.batch_size,
                            {**config.teacher_view_sizes, **student_views},
                            config.augmentation, seed=config.seed, channels=dataset.channels)
    before_training = peak_rss_mb()
    ends = []
    timer = tf.keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: ends.append(
        (time.perf_counter(), time.process_time(), os.getloadavg()[0])))
    trainer.fit(data, epochs=1, steps_per_epoch=total, callbacks=[timer], verbose=0)
    wall, cpu, load = (np.array(column[args.warmup - 1:]) for column in zip(*ends))
    return {"setup": SETUPS[args.measure], "teacher_resolutions": list(teacher_sizes),
            "student_resolutions": list(student_views.values()),
            "step_seconds": np.diff(wall).tolist(), "step_cpu_seconds": np.diff(cpu).tolist(),
            "load_average": [load[0], load[-1]], "train_images": len(dataset.train),
            "steps_per_epoch": steps_per_epoch(len(dataset.train), args.batch_size),
            "peak_rss_mb": peak_rss_mb(), "training_rss_mb": peak_rss_mb() - before_training}


def summary(rounds: list) -> dict:
    """One set-up over its rounds: the lowest round median of wall seconds per step (the
    least disturbed round, as timeit's best of repeats), the mean CPU seconds per step,
    the highest peak RSS, the load range."""
    first = rounds[0]
    medians = [float(np.median(r["step_seconds"])) for r in rounds]
    loads = [value for r in rounds for value in r["load_average"]]
    worst = max(rounds, key=lambda r: r["peak_rss_mb"])
    return {**{k: first[k] for k in ("setup", "teacher_resolutions", "student_resolutions",
                                     "train_images", "steps_per_epoch")},
            "seconds_per_step": min(medians), "round_medians": medians,
            "seconds_per_epoch": min(medians) * first["steps_per_epoch"],
            "cpu_seconds_per_step": float(np.mean(
                np.concatenate([r["step_cpu_seconds"] for r in rounds]))),
            "peak_rss_mb": worst["peak_rss_mb"], "training_rss_mb": worst["training_rss_mb"],
            "load_average": [min(loads), max(loads)], "rounds": rounds}


def ratios(results: dict, key: str) -> dict:
    return {name: result[key] / results["single"][key] for name, result in results.items()}


def markdown(record: dict) -> str:
    results = record["results"]
    base = results["single"]
    lines = [f"Distillation cost of multi-resolution (`{record['command']}`), {record['date']}, "
             f"{record['machine']}, shared with other jobs (1-min load average "
             f"{record['load_average']:.2f} at the start, per set-up below). Student "
             f"{record['student']}; teacher {record['teacher']} (random weights); batch "
             f"{record['batch_size']}; {record['rounds']} round(s) of {record['steps']} timed "
             f"steps after {record['warmup']} warm-up steps; s / step: the median step of the "
             f"least disturbed round; CPU s / step: the mean; an epoch = {base['steps_per_epoch']} steps "
             f"({base['train_images']} LT training images). Peak RSS: the process's peak "
             "resident memory (each set-up in its own process); \"added\": its rise during "
             "training.", "",
             "| set-up | teacher px | student px | s / step (each round) | s / epoch | time vs (i) | "
             "CPU s / step | CPU vs (i) | peak RSS MB | peak vs (i) | added MB | load |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, result in results.items():
        lines.append(
            f"| {result['setup']} | {','.join(map(str, result['teacher_resolutions']))} | "
            f"{','.join(map(str, result['student_resolutions']))} | "
            f"{result['seconds_per_step']:.3f} "
            f"({' / '.join(f'{m:.2f}' for m in result['round_medians'])}) | "
            f"{result['seconds_per_epoch']:.0f} | "
            f"{record['ratios']['time'][name]:.2f}x | {result['cpu_seconds_per_step']:.3f} | "
            f"{record['ratios']['cpu'][name]:.2f}x | {result['peak_rss_mb']:.0f} | "
            f"{record['ratios']['peak_rss'][name]:.2f}x | {result['training_rss_mb']:.0f} | "
            f"{result['load_average'][0]:.1f}-{result['load_average'][1]:.1f} |")
    return "\n".join(lines)


def main():
    args = parse_args()
    if args.measure:
        print(json.dumps(measure(args)))
        return
    load = os.getloadavg()[0]
    rounds = {name: [] for name in SETUPS}
    for round_number in range(1, args.rounds + 1):
        for name, title in SETUPS.items():
            print(f"round {round_number}/{args.rounds}: measuring {title} ...", file=sys.stderr,
                  flush=True)
            child = subprocess.run(
                [sys.executable, __file__, *sys.argv[1:], f"--measure={name}"],
                check=True, stdout=subprocess.PIPE, text=True)
            rounds[name].append(json.loads(child.stdout.strip().splitlines()[-1]))
    results = {name: summary(measured) for name, measured in rounds.items()}
    record = {
        "command": " ".join(["python benchmarks/multires_cost.py", *sys.argv[1:]]),
        "date": datetime.date.today().isoformat(), "machine": machine(),
        "load_average": load, "teacher": args.teacher, "batch_size": args.batch_size,
        "student": f"ReActNet-A width {args.width_multiplier}, stem stride {args.stem_stride}",
        "steps": args.steps, "warmup": args.warmup, "rounds": args.rounds,
        "results": results,
        "ratios": {"time": ratios(results, "seconds_per_step"),
                   "cpu": ratios(results, "cpu_seconds_per_step"),
                   "peak_rss": ratios(results, "peak_rss_mb")},
    }
    text = markdown(record)
    write_results(args.out, "multires_cost", record, text)
    print(text + "\n")
    for what, values in record["ratios"].items():
        print(f"{what}: (ii)/(i) = {values['teacher']:.2f}, (iii)/(i) = {values['both']:.2f}, "
              f"(iiib)/(i) = {values['scaled']:.2f}")


if __name__ == "__main__":
    main()
