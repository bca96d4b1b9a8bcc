"""Cost of multi-resolution in distillation: epoch time and peak memory of three set-ups.

    python benchmarks/multires_cost.py [--steps=20] [--warmup=3] [--out=benchmarks/results]

  (i)   single   one teacher resolution (--single); the student on its own view
  (ii)  teacher  the teacher fuses --multi resolutions; the student on its own view (CANDLE)
  (iii) both     the teacher fuses --multi resolutions; the student runs on every one of them

All three distil the same student on the same data (the default Fashion-MNIST-LT split,
its tf.data pipeline and batch size). The teacher has random weights: time and memory do
not depend on them. Time: steady-state seconds per step of ``fit`` over ``--steps`` steps
after ``--warmup`` steps (the first traces the graph), reported per epoch of the LT
training split. Memory: TF keeps no allocator statistics on CPU, so each set-up runs in its
own process and reports its peak resident set size (ru_maxrss), in total and above the
peak before training started. Writes ``multires_cost.json`` and ``multires_cost.md``.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time

SETUPS = {
    "single": "(i) single resolution",
    "teacher": "(ii) multi-resolution, teacher only",
    "both": "(iii) multi-resolution, teacher and student",
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per set-up")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (>= 1)")
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--single", default="64", help="teacher resolution of (i)")
    parser.add_argument("--multi", default="96,64,32", help="teacher resolutions of (ii), (iii)")
    parser.add_argument("--student_resolution", type=int, default=28)
    parser.add_argument("--teacher", default="mobilenet_v2_035")
    parser.add_argument("--width_multiplier", type=float, default=0.25)
    parser.add_argument("--stem_stride", type=int, default=1)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    parser.add_argument("--measure", choices=sorted(SETUPS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 1:
        parser.error(f"--steps={args.steps} and --warmup={args.warmup} must both be >= 1 "
                     "(the first step traces the graph and is never timed).")
    return args


def resolutions(text: str) -> tuple:
    return tuple(int(size) for size in text.split(","))


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(args: argparse.Namespace) -> dict:
    """Times ``--warmup`` + ``--steps`` distillation steps of one set-up in this process."""
    import tensorflow as tf

    from candle_tf import builders
    from candle_tf.config import RunConfig
    from candle_tf.data.datasets import load_dataset
    from candle_tf.data.pipeline import steps_per_epoch, training_dataset
    from candle_tf.models.teacher import teacher_view_names

    teacher_sizes = resolutions(args.single if args.measure == "single" else args.multi)
    config = RunConfig(teacher=args.teacher, resolutions=teacher_sizes,
                       student_resolution=args.student_resolution,
                       width_multiplier=args.width_multiplier, stem_stride=args.stem_stride,
                       distill_batch_size=args.batch_size, verbose=0)
    teacher_views = teacher_view_names(len(teacher_sizes))
    student_views = teacher_views if args.measure == "both" else ["student"]
    dataset = load_dataset(config.dataset, imbalance_ratio=config.imbalance_ratio,
                           seed=config.seed)
    teacher = builders.calibrated_teacher(config, dataset)
    total = args.warmup + args.steps
    trainer = builders.distillation_trainer(config, dataset, teacher, total, student_views)
    view_sizes = {name: size for name, size in config.view_sizes.items()
                  if name in teacher_views + student_views}
    data = training_dataset(dataset.train, args.batch_size, view_sizes, config.augmentation,
                            seed=config.seed, channels=dataset.channels)
    before_training = peak_rss_mb()
    ends = []
    timer = tf.keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: ends.append(time.perf_counter()))
    trainer.fit(data, epochs=1, steps_per_epoch=total, callbacks=[timer], verbose=0)
    seconds_per_step = (ends[-1] - ends[args.warmup - 1]) / args.steps
    epoch_steps = steps_per_epoch(len(dataset.train), args.batch_size)
    peak = peak_rss_mb()
    return {"setup": SETUPS[args.measure], "teacher_resolutions": list(teacher_sizes),
            "student_resolutions": [view_sizes[name] for name in student_views],
            "seconds_per_step": seconds_per_step, "steps_per_second": 1 / seconds_per_step,
            "train_images": len(dataset.train), "steps_per_epoch": epoch_steps,
            "seconds_per_epoch": seconds_per_step * epoch_steps,
            "peak_rss_mb": peak, "training_rss_mb": peak - before_training}


def markdown(record: dict) -> str:
    results = record["results"]
    base = results["single"]
    lines = [f"Distillation cost of multi-resolution, {record['date']}, {record['machine']} "
             f"(load average {record['load_average']:.2f} at the start: the machine is "
             f"shared). Student {record['student']}; teacher {record['teacher']} (random "
             f"weights); batch {record['batch_size']}; {record['steps']} timed steps after "
             f"{record['warmup']} warm-up steps; an epoch = {base['steps_per_epoch']} steps "
             f"({base['train_images']} LT training images).", "",
             "| set-up | teacher px | student px | s / step | s / epoch | time vs (i) | "
             "peak RSS (MB) | peak vs (i) | RSS above pre-training peak (MB) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, result in results.items():
        lines.append(
            f"| {result['setup']} | {','.join(map(str, result['teacher_resolutions']))} | "
            f"{','.join(map(str, result['student_resolutions']))} | "
            f"{result['seconds_per_step']:.3f} | {result['seconds_per_epoch']:.1f} | "
            f"{record['time_ratios'][name]:.2f}x | {result['peak_rss_mb']:.0f} | "
            f"{record['peak_rss_ratios'][name]:.2f}x | {result['training_rss_mb']:.0f} |")
    return "\n".join(lines)


def main():
    args = parse_args()
    if args.measure:
        print(json.dumps(measure(args)))
        return
    load = os.getloadavg()[0]
    results = {}
    for name, title in SETUPS.items():
        print(f"measuring {title} ...", file=sys.stderr, flush=True)
        child = subprocess.run([sys.executable, __file__, *sys.argv[1:], f"--measure={name}"],
                               check=True, stdout=subprocess.PIPE, text=True)
        results[name] = json.loads(child.stdout.strip().splitlines()[-1])
    base = results["single"]["seconds_per_step"]
    record = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, no GPU",
        "load_average": load, "teacher": args.teacher, "batch_size": args.batch_size,
        "student": f"ReActNet-A width {args.width_multiplier}, stem stride {args.stem_stride}",
        "steps": args.steps, "warmup": args.warmup, "results": results,
        "time_ratios": {name: r["seconds_per_step"] / base for name, r in results.items()},
        "peak_rss_ratios": {name: r["peak_rss_mb"] / results["single"]["peak_rss_mb"]
                            for name, r in results.items()},
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "multires_cost.json"), "w") as handle:
        json.dump(record, handle, indent=2)
    text = markdown(record)
    with open(os.path.join(args.out, "multires_cost.md"), "w") as handle:
        handle.write(text + "\n")
    print(text + "\n")
    for what in ("time", "peak_rss"):
        ratios = record[f"{what}_ratios"]
        print(f"{what} (ii)/(i) = {ratios['teacher']:.2f}, (iii)/(i) = {ratios['both']:.2f}")


if __name__ == "__main__":
    main()
