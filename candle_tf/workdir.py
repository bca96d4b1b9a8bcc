"""The work directory: one folder per stage, done markers, and the run record.

Each stage writes its artefacts into ``<workdir>/<stage>/`` and, when finished,
``done.json``. Re-running the same command skips finished stages; an interrupted stage
resumes from its own checkpoint. Resuming with settings that change the result is refused.
"""

import dataclasses
import json
import os
import platform
import time
from importlib import metadata
from typing import Callable

from absl import logging

from candle_tf.config import RunConfig

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

    def record_run(self, config: RunConfig) -> None:
        """Writes run.json on the first run; refuses to resume with other settings."""
        path = os.path.join(self.path, "run.json")
        settings = json.loads(json.dumps(config.result_settings()))
        if os.path.exists(path):
            with open(path) as handle:
                record = json.load(handle)
            # A setting newer than the record counts as its default (older runs resume).
            defaults = json.loads(json.dumps(RunConfig().result_settings()))
            recorded = {**defaults, **record["settings"]}
            changed = {k: (recorded.get(k), v) for k, v in settings.items()
                       if recorded.get(k) != v}
            if changed:
                lines = "\n".join(f"  --{k}: was {old!r}, now {new!r}"
                                  for k, (old, new) in sorted(changed.items()))
                raise ValueError(
                    f"{self.path} holds a run with other settings:\n{lines}\nResuming would "
                    f"mix results. Use the original flags, or a new --workdir.")
        else:
            record = {"settings": settings, "invocations": []}
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
        start = time.time()
        result = work(self.stage_dir(stage))
        result = {**result, "seconds": round(time.time() - start, 1)}
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
