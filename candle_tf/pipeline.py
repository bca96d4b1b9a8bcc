"""The CANDLE pipeline: the stage order, the work dir and each stage's typed result.

    run = Run(config)             # checks every setting, loads the data, records run.json
    run.teacher()                 # 0  pretrained FP encoder                  -> EncoderResult
    run.calibrate()               # 1  multi-resolution fusion + head + LWS    -> TeacherResult
    run.distill()                 # 2  binary student                          -> StudentResult
    run.adjust(student)           # 2b its post-hoc logit adjustment (optional) -> StudentResult
    run.evaluate(student)         # 3  test report of teacher and student      -> EvaluationResult
    run.export(student)           # 4  LCE .tflite + TF Serving SavedModel     -> ExportResult
    run.all()                     # 0-4, metrics.json

Each stage runs once under ``<workdir>/<stage>/`` (``done.json`` holds its result), resumes
from its checkpoint when interrupted and is skipped when done; asking for a stage runs
the stages it needs first. The apps (train, tune, experiments, export) are thin mains
over ``Run``; the grid gives several runs one shared ``teacher_dir`` (a seed's teacher).
"""

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Optional

import tensorflow as tf

from candle_tf import builders, distribute
from candle_tf.config import RunConfig, check_settings
from candle_tf.data.dataset import LongTailedDataset
from candle_tf.data.registry import known_dataset, registered_names
from candle_tf.evaluate import format_table
from candle_tf.export import next_version
from candle_tf.models.shipped_weights import shipped_weights
from candle_tf.models.students import check_student
from candle_tf.models.teacher import check_backbone, reference_view
from candle_tf.stages import (adjustment, baseline, calibration, distillation, evaluation,
                              export_stage, teacher)
from candle_tf.workdir import Workdir, check_writable, write_json

TEACHER_STAGES = ("data", "teacher", "calibration")  # the settings a shared teacher depends on


@dataclass(frozen=True, kw_only=True)
class StageResult:
    """What a finished stage recorded in its ``done.json``: the named fields, its seconds
    (over all its invocations) and anything else it recorded (``details``)."""

    seconds: float = 0.0
    details: dict = field(default_factory=dict)

    @classmethod
    def from_record(cls, record: dict) -> "StageResult":
        names = {spec.name for spec in dataclasses.fields(cls)} - {"details"}
        return cls(**{k: v for k, v in record.items() if k in names},
                   details={k: v for k, v in record.items() if k not in names})

    def record(self) -> dict:
        named = {spec.name: getattr(self, spec.name) for spec in dataclasses.fields(self)
                 if spec.name != "details"}
        return {**self.details, **named}


@dataclass(frozen=True, kw_only=True)
class EncoderResult(StageResult):
    encoder: str                        # weights file of the pretrained encoder
    source: str                         # imagenet, shipped, a path, or pretrain


@dataclass(frozen=True, kw_only=True)
class TeacherResult(StageResult):
    teacher: str                        # weights file of the calibrated teacher
    val_accuracy: Optional[float] = None


@dataclass(frozen=True, kw_only=True)
class StudentResult(StageResult):
    student: str                        # weights file of the kept student
    val_accuracy: Optional[float] = None  # of the kept epoch (validation split)
    connector: Optional[str] = None     # distillation only
    final_lambda: Optional[float] = None
    selected_epoch: Optional[int] = None


@dataclass(frozen=True, kw_only=True)
class EvaluationResult(StageResult):
    reports: dict                       # model name -> long-tailed test report


@dataclass(frozen=True, kw_only=True)
class ExportResult(StageResult):
    tflite: str
    parity: dict
    saved_model: dict


def check(config: RunConfig) -> None:
    """Every check of a run's settings, before any data is loaded or model built: the
    declared choices and bounds, then the registries and files the settings name."""
    check_settings(config)
    if not known_dataset(config.dataset):
        raise ValueError(f"Unknown --dataset={config.dataset!r}. Known: "
                         f"{registered_names()}.")
    check_backbone(config.teacher)
    check_student(config.student, config.student_resolution,
                  builders.student_options(config, binary_weights=not config.two_step))
    weights = config.teacher_weights
    if weights == "shipped":
        shipped_weights(config.teacher, config.dataset,
                        config.resolutions[reference_view(config.resolutions)])
    elif weights not in ("imagenet", "pretrain") and not os.path.exists(weights):
        raise FileNotFoundError(f"--teacher_weights={weights!r}: no such file. Use imagenet, "
                                "shipped, pretrain, or the path of a weights file (python -m "
                                "candle_tf.teacher_weights writes one).")
    check_writable(config.workdir)


def load(config: RunConfig, strategy: tf.distribute.Strategy) -> LongTailedDataset:
    """The run's data set, with a one-line summary."""
    data = builders.dataset(config)
    print(f"{data.name}: {len(data.train)} LT training images ({data.train_counts.max()} to "
          f"{data.train_counts.min()} per class), {len(data.val)} validation, "
          f"{len(data.test)} test, {data.num_classes} classes; "
          f"{strategy.num_replicas_in_sync} replica(s) (--strategy={config.strategy})",
          flush=True)
    return data


class Run:
    """One run's stages under ``config.workdir``.

    Args:
      config: the run's settings (checked here, before anything else).
      dataset: the loaded data set, when the caller shares one between runs.
      strategy: the tf.distribute strategy (default: ``--strategy``'s, made here before any
        other TensorFlow work); stages 0-2 build and train inside its scope.
      teacher_dir: where the teacher stages (0, 1) live, when shared between runs (the
        grid's seed folder); default the work dir itself.
      calibration_suffix: appended to the calibration stage's folder (``_64px``: the
        grid's single-resolution teacher beside the multi-resolution one).
    """

    def __init__(self, config: RunConfig, *, dataset: Optional[LongTailedDataset] = None,
                 strategy: Optional[tf.distribute.Strategy] = None,
                 teacher_dir: Optional[str] = None, calibration_suffix: str = "",
                 checked: bool = False):
        if not checked:
            check(config)
        self.strategy = strategy or distribute.make_strategy(config.strategy)
        distribute.check_batch_sizes(config, self.strategy.num_replicas_in_sync)
        self.config = config
        self.workdir = Workdir(distribute.worker_workdir(config.workdir, self.strategy))
        self.teacher_workdir = Workdir(teacher_dir) if teacher_dir else self.workdir
        self.calibration_suffix = calibration_suffix
        tf.keras.utils.set_random_seed(config.seed)
        self.dataset = dataset or load(config, self.strategy)
        self._recorded = False
        self._results = {}

    @classmethod
    def reopen(cls, workdir: str) -> "Run":
        """The run a finished work dir holds, with the settings its run.json records."""
        if not os.path.isdir(workdir):
            raise FileNotFoundError(f"--workdir={workdir}: no such directory. Pass the "
                                    "--workdir of a `python -m candle_tf.train` run.")
        config = Workdir(workdir).recorded_config()
        return cls(config, strategy=tf.distribute.get_strategy(), checked=True)

    def record(self) -> None:
        """Records the settings in run.json (once): the teacher's in a shared teacher dir,
        all of them in the work dir."""
        if self._recorded:
            return
        if self.teacher_workdir is not self.workdir:
            self.teacher_workdir.record_run(self.config, TEACHER_STAGES)
        self.workdir.record_run(self.config)
        self._recorded = True

    def tensorboard_dir(self, stage: str, workdir: Optional[Workdir] = None) -> str:
        """``<workdir>/tensorboard/<stage>`` (default: this run's work dir)."""
        return os.path.join((workdir or self.workdir).path, "tensorboard", stage)

    def _stage(self, workdir: Workdir, number: int, name: str, result_type, work):
        """Runs (or resumes, or skips) one stage and returns its typed result (once per
        Run: asking again returns the same result)."""
        key = os.path.join(workdir.path, name)
        if key not in self._results:
            self.record()  # refuses settings that changed since a stage they change started
            self._results[key] = result_type.from_record(workdir.run_stage(number, name, work))
        return self._results[key]

    # Stages 0-1: the teacher.
    def teacher(self) -> EncoderResult:
        with self.strategy.scope():
            return self._stage(self.teacher_workdir, 0, "teacher", EncoderResult,
                               lambda d: teacher.run(self.config, self.dataset, d,
                                                     self.tensorboard_dir("teacher",
                                                                          self.teacher_workdir)))

    def calibrate(self) -> TeacherResult:
        encoder = self.teacher()
        name = "calibration" + self.calibration_suffix
        with self.strategy.scope():
            return self._stage(self.teacher_workdir, 1, name, TeacherResult,
                               lambda d: calibration.run(
                                   self.config, self.dataset, encoder.encoder, d,
                                   self.tensorboard_dir(name, self.teacher_workdir)))

    def calibrated_teacher(self) -> tf.keras.Model:
        """The frozen calibrated teacher (stage 1's weights), built in the strategy scope."""
        path = self.calibrate().teacher
        with self.strategy.scope():
            return builders.load_calibrated_teacher(self.config, self.dataset, path)

    def evaluate_teacher(self) -> dict:
        """The calibrated teacher's test report, in the teacher dir (the grid's)."""
        path = self.calibrate().teacher
        return self.teacher_workdir.run_stage(
            3, "evaluation" + self.calibration_suffix,
            lambda _: evaluation.teacher_report(self.config, self.dataset, path))

    # Stage 2: the student.
    def distill(self) -> StudentResult:
        path = self.calibrate().teacher
        with self.strategy.scope():
            return self._stage(self.workdir, 2, "distillation", StudentResult,
                               lambda d: distillation.run(self.config, self.dataset, path, d,
                                                          self.tensorboard_dir("distillation")))

    def train_baseline(self, method: str) -> StudentResult:
        """A label-only baseline's student (MiSLAS: then its classifier re-training)."""
        student = self._stage(self.workdir, 2, "student", StudentResult,
                              lambda d: baseline.train_label_student(
                                  method, self.config, self.dataset, d,
                                  self.tensorboard_dir("student")))
        if method != "mislas":
            return student
        return self._stage(self.workdir, 2, "classifier", StudentResult,
                           lambda d: baseline.retrain_classifier(
                               self.config, self.dataset, student.student, d,
                               self.tensorboard_dir("classifier")))

    def adjust(self, student: StudentResult) -> StudentResult:
        """The student with post-hoc logit adjustment (``--posthoc_adjustment``), in
        ``adjustment/``; the student itself when it is ``none``."""
        if self.config.posthoc_adjustment == "none":
            return student
        return self._stage(self.workdir, 3, "adjustment", StudentResult,
                           lambda d: adjustment.run(self.config, self.dataset,
                                                    student.student, d))

    # Stages 3-4: evaluation and export (on a multi-worker cluster: the chief's).
    def evaluate(self, student: StudentResult) -> EvaluationResult:
        """Stage 3: the calibrated teacher's and the student's test reports, in
        ``evaluation/metrics.json``."""
        teacher_path = self.calibrate().teacher

        def work(stage_dir):
            reports = {
                "teacher (calibrated)": evaluation.teacher_report(
                    self.config, self.dataset, teacher_path),
                f"student ({self.config.student})": evaluation.student_report(
                    self.config, self.dataset, student.student)}
            write_json(os.path.join(stage_dir, "metrics.json"), reports)
            return {"reports": reports}
        return self._stage(self.workdir, 3, "evaluation", EvaluationResult, work)

    def evaluate_student(self, student: StudentResult) -> dict:
        """Stage 3 of a grid method: the student's test report alone."""
        return self.workdir.run_stage(3, "evaluation", lambda _: evaluation.student_report(
            self.config, self.dataset, student.student))

    def export(self, student: StudentResult) -> ExportResult:
        """Stage 4: the student as an LCE .tflite and a TF Serving SavedModel."""
        teacher_path = self.calibrate().teacher
        return self._stage(self.workdir, 4, "export", ExportResult,
                           lambda d: export_stage.run(self.config, self.dataset,
                                                      student.student, teacher_path, d))

    def export_again(self, version: Optional[int] = None) -> ExportResult:
        """Stage 4 anew for a finished run: a new TF Serving ``version`` (default one more
        than the newest), the .tflite and the report overwritten; the done marker is left
        as it was."""
        for stage, artefact in (("calibration", "teacher"), ("distillation", "student")):
            if not self.workdir.is_done(stage):
                raise FileNotFoundError(
                    f"{self.workdir.path}: stage {stage!r} has not finished, so there is no "
                    f"{artefact} to export. Finish the run first: python -m candle_tf.train "
                    f"--workdir={self.workdir.path} (same flags).")
        stage_dir = self.workdir.stage_dir("export")
        if version is None:
            version = next_version(os.path.join(stage_dir, export_stage.SERVING_DIR),
                                   self.config.export_model_name)
        return ExportResult.from_record(export_stage.run(
            self.config, self.dataset, self.adjust(self.distill()).student,
            self.calibrate().teacher,
            stage_dir, version))

    def all(self) -> dict:
        """Stages 0-4 (or up to ``--until``); returns (and writes to metrics.json) the
        run's metrics. On a multi-worker cluster only the chief evaluates and exports; the
        other workers return an empty dict after stage 2."""
        until = self.config.until
        if until in ("teacher", "calibration"):
            (self.teacher if until == "teacher" else self.calibrate)()
            print(f"Stopped after stage {until!r} (--until); run again without it to go on.")
            return {}
        distilled = self.distill()
        student = self.adjust(distilled)
        if until == "distillation":
            print("Stopped after stage 'distillation' (--until); run again without it to "
                  "evaluate and export.")
            return {}
        if not distribute.is_chief(self.strategy):
            print("This worker's training is done; the chief evaluates and exports.", flush=True)
            return {}
        evaluated = self.evaluate(student)
        if until == "evaluation":
            print("\nTest accuracy (%), balanced test set:\n" + format_table(evaluated.reports))
            return {}
        exported = self.export(student)
        data = self.dataset
        adjusted = {"adjustment": student.seconds} if student is not distilled else {}
        metrics = {
            "dataset": data.name, "train_counts": data.train_counts.tolist(),
            "skipped_unreadable": data.skipped or {}, "class_names": list(data.class_names),
            "models": evaluated.reports, "final_lambda": distilled.final_lambda,
            "posthoc_tau": student.details.get("tau"),
            "export": exported.record(),
            "stage_seconds": {"teacher": self.teacher().seconds,
                              "calibration": self.calibrate().seconds,
                              "distillation": distilled.seconds, **adjusted,
                              "evaluation": evaluated.seconds, "export": exported.seconds},
        }
        write_json(os.path.join(self.workdir.path, "metrics.json"), metrics)
        print("\nTest accuracy (%), balanced test set:\n"
              + format_table(evaluated.reports))
        print(f"\nmetrics: {os.path.join(self.workdir.path, 'metrics.json')}")
        return metrics
