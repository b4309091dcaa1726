import pytest
from pydantic import Field

from dllab.config import ExperimentConfig, parse_override, resolve
from dllab.errors import ConfigError
from dllab.nn.config import TorchTrainConfig


class Demo(ExperimentConfig):
    width: int = Field(4, ge=1)
    name: str = "a"
    train: TorchTrainConfig = TorchTrainConfig(lr=0.5, momentum=0.9)


PRESETS = {"smoke": {"width": 2, "train": {"epochs": 1}}, "cpu": {}, "full": {"width": 64}}


def test_preset_then_file_then_set_then_seed(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("width: 8\nname: fromfile\n")
    cfg = resolve(Demo, PRESETS, "smoke", f, ["name=cli", "train.batch_size=32"], seed=7)
    assert (cfg.width, cfg.name, cfg.seed) == (8, "cli", 7)
    assert cfg.train.batch_size == 32 and cfg.train.epochs == 1


def test_partial_nested_override_keeps_experiment_defaults():
    cfg = resolve(Demo, PRESETS, "smoke")
    # the preset only set train.epochs: lr and momentum keep the experiment's values, not TrainConfig's
    assert cfg.train.lr == 0.5 and cfg.train.momentum == 0.9


def test_override_values_are_typed():
    assert parse_override("a.b=3") == (["a", "b"], 3)
    assert parse_override("x=0.1") == (["x"], 0.1)
    assert parse_override("x=[1, 2]") == (["x"], [1, 2])
    assert parse_override("x=true") == (["x"], True)


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match=r"unknown config key 'widht'.*valid keys: .*width"):
        resolve(Demo, PRESETS, "cpu", overrides=["widht=3"])


def test_unknown_nested_key_is_named():
    with pytest.raises(ConfigError, match=r"unknown config key 'train.learning_rate'"):
        resolve(Demo, PRESETS, "cpu", overrides=["train.learning_rate=3"])


def test_wrong_type_is_named():
    with pytest.raises(ConfigError, match=r"config key 'width' got 'abc'"):
        resolve(Demo, PRESETS, "cpu", overrides=["width=abc"])
    with pytest.raises(ConfigError, match=r"config key 'train.lr'"):
        resolve(Demo, PRESETS, "cpu", overrides=["train.lr=-1"])


def test_bad_override_syntax_and_preset_and_file(tmp_path):
    with pytest.raises(ConfigError, match="key=value"):
        resolve(Demo, PRESETS, "cpu", overrides=["width"])
    with pytest.raises(ConfigError, match="unknown preset"):
        resolve(Demo, PRESETS, "huge")
    with pytest.raises(ConfigError, match="does not exist"):
        resolve(Demo, PRESETS, "cpu", tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("width: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        resolve(Demo, PRESETS, "cpu", bad)


def test_every_config_key_of_every_experiment_says_what_it_means():
    """`dllab show` prints each key's meaning (and unit) beside its value: none may be blank."""
    from dllab import experiments
    from dllab.config import describe_fields

    blank = {name: [r["key"] for r in describe_fields(experiments.get(name).Config()) if not r["description"]]
             for name in experiments.EXPERIMENTS}
    assert not {k: v for k, v in blank.items() if v}
