from absl import flags

from candle_tf import app_flags


def fresh_flags(argv):
    values = flags.FlagValues()
    app_flags.define_flags(values)
    values(["prog", *argv])
    return values


def test_preset_fills_unset_flags_and_the_command_line_wins():
    values = fresh_flags(["--dataset=fashion_mnist_lt", "--distill_epochs=3"])
    app_flags.apply_preset(values)
    config = app_flags.config_from_flags(values)
    assert config.distill_epochs == 3                 # command line
    assert config.teacher_weights == "shipped"        # preset
    assert config.resolutions == (64,)                # preset, parsed to ints
    assert config.temperature == 2.0                  # code default (paper)


def test_every_registered_data_set_has_a_valid_preset():
    from candle_tf.data.registry import DATASETS

    for name in DATASETS:
        values = fresh_flags([f"--dataset={name}"])
        app_flags.apply_preset(values)  # raises on an unknown flag or a bad value
        config = app_flags.config_from_flags(values)
        assert config.workdir == f"runs/{name}"
    places = fresh_flags(["--dataset=places_lt"])
    app_flags.apply_preset(places)
    config = app_flags.config_from_flags(places)
    assert (config.smoothing_head, config.smoothing_tail, config.resolutions) == (0.4, 0.1, (224,))
