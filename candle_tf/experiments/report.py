"""The grid's report: a Markdown and a JSON table (mean ± std over seeds) and the plots.

Reads only what the grid wrote (each run's ``evaluation/done.json`` and its training stage's
``history.csv``, the teachers' reports and the balancer's ``lambda.csv``), so it can be re-made at any time, also for a partial grid.
"""

import csv
import json
import os
from typing import Dict, List, Optional, Sequence

import numpy as np

from candle_tf.evaluate import NO_CLASSES
from candle_tf.experiments import plots
from candle_tf.experiments.grid import (EVALUATION, method_dir, seed_dir, stage_result_path)
from candle_tf.experiments.methods import CANDLE, METHODS, is_baseline
from candle_tf.fitting import epoch_history
from candle_tf.workdir import write_json

COLUMNS = ("top1", "many", "medium", "few", "val_top1")
HEADERS = ("overall", "many", "medium", "few", "val (balanced)")
TABLE_FILE, JSON_FILE = "results.md", "results.json"
PLOT_FILES = {"per_class": "per_class_accuracy.png", "norms": "classifier_weight_norms.png",
              "lambda": "lambda.png", "validation": "validation_curves.png"}
MONITOR = "val_balanced_accuracy"


def read_json(path: str) -> Optional[dict]:
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def run_seconds(directory: str) -> float:
    """Training + evaluation time of one run: the sum of its stages' times."""
    return sum(read_json(os.path.join(directory, stage, "done.json"))["seconds"]
               for stage in os.listdir(directory)
               if os.path.exists(os.path.join(directory, stage, "done.json")))


def read_lambda(path: str) -> Dict[int, float]:
    """step -> lambda from a ``lambda.csv`` (a step re-run after a resume: its last value)."""
    with open(path) as handle:
        return {int(row["step"]): float(row["lambda"]) for row in csv.DictReader(handle)}


def validation_curve(directory: str, name: str) -> List[float]:
    """The student's validation balanced accuracy after each epoch of its training stage."""
    stage = "distillation" if METHODS[name].distills else "student"
    return [epoch[MONITOR] for epoch in epoch_history(os.path.join(directory, stage))
            if MONITOR in epoch]


def summarise(values: Sequence[Optional[float]]) -> dict:
    """Mean and sample standard deviation (None for one value) of a metric over seeds; a
    metric that does not exist (an empty group: None) is left out, and with no value at
    all the mean is None too.

    >>> summarise([0.5, None, 0.7])["mean"]
    0.6
    >>> summarise([None])
    {'mean': None, 'std': None, 'values': [None]}
    """
    values = [None if v is None else float(v) for v in values]  # one per seed
    present = [v for v in values if v is not None]
    return {"mean": float(np.mean(present)) if present else None,
            "std": float(np.std(present, ddof=1)) if len(present) > 1 else None,
            "values": values}


def aggregate(reports: List[dict]) -> dict:
    """One row: every column summarised, per-class accuracy and weight norms averaged."""
    row = {column: summarise([r[column] for r in reports]) for column in COLUMNS}
    for key in ("per_class", "classifier_norms"):
        row[key] = np.nanmean(np.array([r[key] for r in reports], dtype=float), axis=0).tolist()
    row["group_sizes"] = reports[0]["group_sizes"]
    return row


def collect(root: str, methods: Sequence[str], seeds: Sequence[int]) -> dict:
    """Everything the grid under ``root`` finished for these methods and seeds."""
    rows, teachers, lambdas, validation, train_counts = {}, {}, {}, {}, None
    for name in methods:
        found = [(seed, read_json(stage_result_path(method_dir(root, seed, name), EVALUATION)))
                 for seed in seeds]
        found = [(seed, report) for seed, report in found if report is not None]
        if not found:
            continue
        rows[name] = {"description": METHODS[name].description,
                      "seeds": [seed for seed, _ in found],
                      "seconds": summarise([run_seconds(method_dir(root, seed, name))
                                            for seed, _ in found]),
                      **aggregate([report for _, report in found])}
        train_counts = found[0][1]["train_counts"]
        curves = {seed: read_lambda(path) for seed, _ in found for path in
                  [os.path.join(method_dir(root, seed, name), "distillation", "lambda.csv")]
                  if METHODS[name].balanced
                  and os.path.exists(path)}
        if curves:
            lambdas[name] = curves
        curves = [validation_curve(method_dir(root, seed, name), name) for seed, _ in found]
        if all(curves):
            validation[name] = curves
    for seed in seeds:
        directory = seed_dir(root, seed)
        if not os.path.isdir(directory):
            continue
        for stage in sorted(os.listdir(directory)):
            report = read_json(os.path.join(directory, stage, "done.json"))
            if stage.startswith(EVALUATION) and report is not None:
                teachers.setdefault(teacher_name(stage), []).append(report)
    return {"rows": rows, "teachers": {name: aggregate(reports) for name, reports in
                                       teachers.items()},
            "lambda": lambdas, "validation": validation, "train_counts": train_counts,
            "seeds": list(seeds)}


def teacher_name(stage: str) -> str:
    """``evaluation`` -> the multi-resolution teacher; ``evaluation_64px`` -> single."""
    suffix = stage[len(EVALUATION):]
    return "teacher (FP, calibrated" + (f", {suffix[1:]} only)" if suffix else ")")


def cell(summary: dict) -> str:
    if summary["mean"] is None:
        return NO_CLASSES
    text = f"{100 * summary['mean']:.2f}"
    return text if summary["std"] is None else f"{text} ± {100 * summary['std']:.2f}"


def paired_differences(row: dict, other: dict, column: str) -> List[float]:
    """``row`` minus ``other`` in ``column``, seed by seed, over the seeds both finished
    (a seed shares its LT draw and teacher across methods)."""
    mine = dict(zip(row["seeds"], row[column]["values"]))
    theirs = dict(zip(other["seeds"], other[column]["values"]))
    return [mine[seed] - theirs[seed] for seed in mine
            if theirs.get(seed) is not None and mine[seed] is not None]


def chosen_on_validation(rows: dict) -> Optional[str]:
    """Of the CANDLE rows (authors' objective, ablations, variants) run on the most seeds,
    the one with the highest mean validation accuracy.

    >>> chosen_on_validation({"ce": {"seeds": [0, 1], "val_top1": {"mean": 0.9}},
    ...                       "candle": {"seeds": [0, 1], "val_top1": {"mean": 0.5}},
    ...                       "candle_a": {"seeds": [0, 1], "val_top1": {"mean": 0.6}},
    ...                       "candle_b": {"seeds": [0], "val_top1": {"mean": 0.7}}})
    'candle_a'
    """
    candidates = [name for name in rows if not is_baseline(name)]
    most = max((len(rows[name]["seeds"]) for name in candidates), default=0)
    candidates = [name for name in candidates if len(rows[name]["seeds"]) == most]
    return max(candidates, key=lambda name: rows[name]["val_top1"]["mean"], default=None)


def comparison(rows: dict) -> List[str]:
    """CANDLE (the authors' objective, and the CANDLE row chosen on validation) against the
    best baseline (by mean) of each test column, paired by seed."""
    baselines = [name for name in rows if is_baseline(name)]
    subjects = [name for name in dict.fromkeys([CANDLE, chosen_on_validation(rows)])
                if name in rows]
    if not baselines:
        return []
    lines = []
    for subject in subjects:
        what = ("the authors' objective" if subject == CANDLE
                else "the CANDLE row with the best validation accuracy")
        lines += ["", f"{subject} ({what}) against the best baseline of each column "
                  "(points; seed by seed):", ""]
        for column, header in zip(COLUMNS[:4], HEADERS[:4]):
            best = max(baselines, key=lambda name: rows[name][column]["mean"])
            differences = paired_differences(rows[subject], rows[best], column)
            if not differences:
                continue
            ahead = sum(difference > 0 for difference in differences)
            per_seed = ", ".join(f"{100 * d:+.2f}" for d in differences)
            lines.append(f"- {header}: {subject} {cell(rows[subject][column])} vs {best} "
                         f"{cell(rows[best][column])}: {100 * np.mean(differences):+.2f} "
                         f"(per seed {per_seed}; ahead in {ahead} of {len(differences)})")
    return lines


def markdown(results: dict, title: str) -> str:
    """The table: one row per method, then the teachers for reference."""
    rows, teachers = results["rows"], results["teachers"]
    lines = [title, "", "| method | " + " | ".join(HEADERS) + " | seeds | minutes / run |",
             "|---" * (len(HEADERS) + 3) + "|"]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(cell(row[c]) for c in COLUMNS)
                     + f" | {len(row['seeds'])} | {row['seconds']['mean'] / 60:.1f} |")
    for name, row in teachers.items():
        lines.append(f"| *{name}* | " + " | ".join(cell(row[c]) for c in COLUMNS)
                     + f" | {len(row['top1']['values'])} | |")
    if rows:
        sizes = next(iter(rows.values()))["group_sizes"]
        lines += ["", "Top-1 (%) on the balanced test split; many / medium / few: mean per-class "
                  f"accuracy over {sizes['many']} / {sizes['medium']} / {sizes['few']} classes "
                  f"(training images per class: {results['train_counts']}). Mean ± sample "
                  "std over seeds; each student kept at the epoch `--select` chose on the validation "
                  "split, nothing selected on the test split. Minutes / run: the run's own "
                  "stages (training and evaluation; a `_posthoc` row: its adjustment and "
                  "evaluation only, its base row's training not counted); the teacher stages "
                  "a seed shares are not counted.", ""]
        lines += [f"- **{name}**: {row['description']}" for name, row in rows.items()]
        lines += comparison(rows)
    return "\n".join(lines)


def write_report(root: str, methods: Sequence[str], seeds: Sequence[int], out_dir: str,
                 title: str) -> dict:
    """Writes results.md, results.json and the PNG plots into ``out_dir``; returns the
    results (``markdown`` included)."""
    results = collect(root, methods, seeds)
    os.makedirs(out_dir, exist_ok=True)
    text = markdown(results, title)
    with open(os.path.join(out_dir, TABLE_FILE), "w") as handle:
        handle.write(text + "\n")
    write_json(os.path.join(out_dir, JSON_FILE),
               {key: value for key, value in results.items() if key != "lambda"})
    if results["rows"]:
        plots.per_class_accuracy(results, os.path.join(out_dir, PLOT_FILES["per_class"]))
        plots.classifier_weight_norms(results, os.path.join(out_dir, PLOT_FILES["norms"]))
    if results["lambda"]:
        plots.lambda_over_training(results["lambda"], os.path.join(out_dir, PLOT_FILES["lambda"]))
    if results["validation"]:
        plots.validation_curves(results["validation"],
                                os.path.join(out_dir, PLOT_FILES["validation"]))
    return {**results, "markdown": text}
