"""The apps' command-line flags, derived from RunConfig's declarations, and presets.

One absl flag per RunConfig field: its default, its help (with the allowed values or
bounds appended), a parser for its type. ``--dataset=NAME`` loads the preset flagfile
``flags/NAME.cfg`` (the paper's hyper-parameters for that benchmark, or the CPU-sized
default for fashion_mnist_lt); flags given on the command line win over the preset.
"""

import os
import sys
import typing
from typing import Callable

from absl import app, flags

from candle_tf.config import RunConfig, Setting, check_settings, settings

FLAGFILE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "flags")


class IntTupleParser(flags.ArgumentParser):
    """Parses ``64,32`` into ``(64, 32)``, naming what is wrong otherwise."""

    syntactic_help = "comma-separated whole numbers"

    def parse(self, argument):
        if isinstance(argument, (tuple, list)):
            return tuple(int(v) for v in argument)
        parts = [part.strip() for part in str(argument).split(",") if part.strip()]
        if not parts or not all(part.isdigit() for part in parts):
            raise ValueError(f"{argument!r} is not a list of whole numbers: give e.g. 64,32")
        return tuple(int(part) for part in parts)

    def flag_type(self):
        return "int tuple"


def flag_help(declared: Setting) -> str:
    """The declared help, with the bounds (absl shows an enum's choices itself)."""
    if declared.low is not None or declared.high is not None:
        return f"{declared.help} [{declared.bounds_text()}]"
    return declared.help


def define_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """Defines one absl flag per RunConfig field, with the RunConfig default."""
    for name, (spec, declared) in settings().items():
        kind, default, text = spec.type, spec.default, flag_help(declared)
        if kind is bool:
            flags.DEFINE_bool(name, default, text, flag_values=flag_values)
        elif kind is int:
            flags.DEFINE_integer(name, default, text, flag_values=flag_values)
        elif kind is float or kind == typing.Optional[float]:
            flags.DEFINE_float(name, default, text, flag_values=flag_values)
        elif declared.choices:
            flags.DEFINE_enum(name, default, list(declared.choices), text,
                              flag_values=flag_values)
        elif kind is str:
            flags.DEFINE_string(name, default, text, flag_values=flag_values)
        else:  # Tuple[int, ...]
            flags.DEFINE(IntTupleParser(), name, default, text, flag_values=flag_values,
                         serializer=flags.CsvListSerializer(","))
    flags.DEFINE_alias("data_root", "data_dir", flag_values=flag_values)


def preset_path(dataset: str) -> str:
    return os.path.join(FLAGFILE_DIR, f"{dataset}.cfg")


def read_flagfile(path: str) -> dict:
    """``--name=value`` lines of a flagfile (comments and blank lines skipped)."""
    values = {}
    with open(path) as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not line.startswith("--") or "=" not in line:
                raise ValueError(f"{path}:{number}: expected --name=value, got {line!r}.")
            name, value = line[2:].split("=", 1)
            values[name] = value
    return values


# Errors caused by the user's input: printed as one line, exit code 1, no traceback.
USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, RuntimeError, PermissionError,
               NotADirectoryError, IsADirectoryError)


def run_main(argv, work: Callable[[], object]) -> int:
    """The apps' ``main``: refuses stray arguments, runs ``work`` and turns a user error
    into its message on stderr and exit code 1."""
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    try:
        work()
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def run_app(define: Callable[[], None], work: Callable[[], object]) -> None:
    """An app's ``if __name__ == "__main__"``: defines its flags, parses the command line
    and runs ``work`` through ``run_main``."""
    define()
    app.run(lambda argv: run_main(argv, work))


def config_from_command_line(flag_values: flags.FlagValues) -> RunConfig:
    """Applies the data set's preset, then returns the (checked) RunConfig of the flags."""
    apply_preset(flag_values)
    config = config_from_flags(flag_values)
    check_settings(config)
    return config


def apply_preset(flag_values: flags.FlagValues, only_defined: bool = False) -> None:
    """Fills flags not given on the command line from ``flags/<dataset>.cfg``, if any.
    A preset's flag that ``flag_values`` does not define is an error, or, with
    ``only_defined`` (an app that has some of the training flags), skipped."""
    path = preset_path(flag_values.dataset)
    if not os.path.exists(path):
        return
    for name, value in read_flagfile(path).items():
        if name not in flag_values:
            if only_defined:
                continue
            raise ValueError(f"{path}: unknown flag --{name}; fix or remove that line.")
        if not flag_values[name].present:
            flag_values[name].value = flag_values[name].parser.parse(value)


def config_from_flags(flag_values: flags.FlagValues) -> RunConfig:
    """The RunConfig the (preset-applied) flags describe."""
    return RunConfig(**{name: flag_values[name].value for name in settings()})


def flagfile_lines(config: RunConfig) -> list:
    """``--name=value`` lines from which the flags give back ``config`` (``--flagfile``).

    Fields that are None are left out: no flag value says None, and their flags default
    to None.
    """
    lines = []
    for name in settings():
        value = getattr(config, name)
        if value is None:
            continue
        if isinstance(value, bool):
            value = str(value).lower()
        elif isinstance(value, tuple):
            value = ",".join(str(v) for v in value)
        lines.append(f"--{name}={value}")
    return lines
