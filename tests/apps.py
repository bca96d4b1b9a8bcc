"""Running an app (``candle_tf.train``, ``tune``, ``experiments``, ``export``) in this
process, as its command line would, with flags of its own."""

from absl import flags

from candle_tf import app_flags


def flag_values(app, *argv) -> flags.FlagValues:
    """The app's flags, parsed from ``argv`` as its command line would be."""
    values = flags.FlagValues()
    app.define_flags(values)
    values(["prog", *argv])
    return values


def call(app, *argv):
    """(exit code, what the app's work returned): ``python -m <app> argv`` in-process; a
    user error is printed to stderr, as the app prints it, with exit code 1."""
    values = flag_values(app, *argv)
    returned = []
    code = app_flags.run_main(["prog"], lambda: returned.append(app.work(values)))
    return code, returned[0] if returned else None
