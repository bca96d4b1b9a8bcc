"""The work directory: one folder per stage, done markers, and the run record.

Each stage writes its artefacts into ``<workdir>/<stage>/`` and, when finished,
``done.json``. Re-running the same command skips finished stages; an interrupted stage
resumes from its own checkpoint. Resuming with settings that change the result is refused.
"""

import dataclasses
import json
import os
import platform
import tempfile
import time
from importlib import metadata
from typing import Callable, Sequence

from absl import logging

from candle_tf.config import STAGES, RunConfig, setting_of

# A stage folder's name (before any "_<suffix>") -> the config stage whose settings it uses.
STAGE_OF_FOLDER = {"teacher": "teacher", "calibration": "calibration", "distillation": "student",
                   "student": "student", "classifier": "student", "adjustment": "evaluation",
                   "evaluation": "evaluation", "export": "export"}

PACKAGES = ("tensorflow", "keras", "larq", "larq-zoo", "larq-compute-engine", "keras-tuner",
            "tensorflow-datasets", "absl-py")


def package_versions() -> dict:
    """Installed versions of the stack's packages."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


class Workdir:
    """Stage folders and markers under one run directory."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        os.makedirs(self.path, exist_ok=True)

    def stage_dir(self, stage: str) -> str:
        path = os.path.join(self.path, stage)
        os.makedirs(path, exist_ok=True)
        return path

    def _marker(self, stage: str) -> str:
        return os.path.join(self.path, stage, "done.json")

    def is_done(self, stage: str) -> bool:
        return os.path.exists(self._marker(stage))

    def result(self, stage: str) -> dict:
        with open(self._marker(stage)) as handle:
            return json.load(handle)

    def mark_done(self, stage: str, result: dict) -> None:
        write_json(self._marker(stage), result)

    def started_stages(self) -> list:
        """The config stages (``candle_tf.config.STAGES``) whose artefacts this work dir
        holds: a stage folder with a done marker, an epoch's record or a checkpoint."""
        started = set()
        for name in os.listdir(self.path):
            folder = os.path.join(self.path, name)
            if any(os.path.exists(os.path.join(folder, marker))
                   for marker in ("done.json", "history.csv", "backup")):
                started.add(STAGE_OF_FOLDER.get(name.split("_")[0], "student"))
        return sorted(started, key=STAGES.index)

    def record_run(self, config: RunConfig, stages: Sequence[str] = STAGES) -> None:
        """Records the run's settings (of ``stages``) in run.json; refuses to resume with a
        changed setting once a stage that depends on it has started.

        A setting of stage S is locked once S or a later stage has left artefacts in the
        work dir (data settings: once any stage has); until then a retry may change it,
        e.g. after a failed first attempt. A setting newer than the record counts as its
        default (older runs resume).
        """
        path = os.path.join(self.path, "run.json")
        settings = json.loads(json.dumps(config.result_settings(stages)))
        record = {"settings": settings, "invocations": []}
        if os.path.exists(path):
            with open(path) as handle:
                record = json.load(handle)
            started = self.started_stages()
            locked_up_to = max((STAGES.index(s) for s in started), default=-1)
            defaults = json.loads(json.dumps(RunConfig().result_settings(stages)))
            recorded = {**defaults, **record["settings"]}
            changed = {k: (recorded.get(k), v) for k, v in settings.items()
                       if recorded.get(k) != v
                       and STAGES.index(setting_of(k).stage) <= locked_up_to}
            if changed:
                lines = "\n".join(f"  --{k}: was {old!r}, now {new!r}"
                                   for k, (old, new) in sorted(changed.items()))
                raise ValueError(
                    f"{self.path} holds a run whose stages {', '.join(started)} started with "
                    f"other settings:\n{lines}\nResuming would mix results. Use the original "
                    f"flags, or a new --workdir.")
            record["settings"] = settings
        record["invocations"].append({"time": time.strftime("%Y-%m-%d %H:%M:%S"),
                                      "versions": package_versions()})
        write_json(path, record)

    def recorded_config(self) -> RunConfig:
        """The RunConfig that run.json records (a setting newer than the record takes its
        default, as when resuming), with ``workdir`` set to this directory."""
        path = os.path.join(self.path, "run.json")
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"{path} not found: {self.path} holds no run. Pass the --workdir of a "
                "`python -m candle_tf.train` run.")
        with open(path) as handle:
            settings = json.load(handle)["settings"]
        known = {spec.name for spec in dataclasses.fields(RunConfig)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ValueError(f"{path} records settings this candle_tf does not know "
                             f"({', '.join(unknown)}); use the version that made the run.")
        values = {name: tuple(value) if isinstance(value, list) else value
                  for name, value in settings.items()}
        return RunConfig(**{**values, "workdir": self.path})

    def run_stage(self, number: int, stage: str, work: Callable[[str], dict]) -> dict:
        """Runs ``work(stage_dir)`` unless the stage is done; prints a banner and the time."""
        if self.is_done(stage):
            logging.info("Stage %d (%s): already done, skipped.", number, stage)
            print(f"== stage {number}: {stage} — already done in {self.stage_dir(stage)}",
                  flush=True)
            return self.result(stage)
        print(f"\n== stage {number}: {stage} " + "=" * 40, flush=True)
        stage_dir = self.stage_dir(stage)
        start_clock(stage_dir)
        result = work(stage_dir)
        result = {**result, "seconds": round(tick_clock(stage_dir), 1)}
        self.mark_done(stage, result)
        print(f"== stage {number}: {stage} done in {result['seconds']:.1f} s", flush=True)
        return result


def write_json(path: str, data) -> None:
    """Writes JSON atomically (a crash never leaves a half-written file); NaN and
    infinity, which JSON does not have, are a ValueError (write None instead)."""
    text = json.dumps(data, indent=2, allow_nan=False)  # before the file: no partial left
    partial = f"{path}.partial"
    with open(partial, "w") as handle:
        handle.write(text)
    os.replace(partial, path)


CLOCK_FILE = "clock.json"


def start_clock(stage_dir: str) -> None:
    """Starts timing an invocation of a stage; the seconds of earlier (interrupted)
    invocations, as last ticked, are kept."""
    path = os.path.join(stage_dir, CLOCK_FILE)
    before = 0.0
    if os.path.exists(path):
        with open(path) as handle:
            before = json.load(handle)["seconds"]
    write_json(path, {"seconds": before, "before": before, "since": time.time()})


def tick_clock(stage_dir: str) -> float:
    """Records and returns the stage's seconds so far, over all its invocations (a stage
    ticks at the end of every epoch and when it finishes; a fit outside a stage starts
    its clock at its first tick)."""
    path = os.path.join(stage_dir, CLOCK_FILE)
    if not os.path.exists(path):
        start_clock(stage_dir)
    with open(path) as handle:
        clock = json.load(handle)
    clock["seconds"] = clock["before"] + time.time() - clock["since"]
    write_json(path, clock)
    return clock["seconds"]


def check_writable(path: str) -> None:
    """Refuses a --workdir that is a file, or where files cannot be written, before any
    work starts (by writing a temporary file into its nearest existing folder)."""
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"--workdir={path}: {existing} is a file, not a folder. Give a "
                         "folder (it is created if missing).")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise ValueError(f"--workdir={path}: cannot write in {existing} ({error.strerror}). "
                         "Give a folder you can write to, e.g. --workdir=$HOME/runs/NAME.") \
            from error
