"""Typed experiment configs: defaults in code, presets, YAML files and ``--set`` overrides.

Resolution order (later wins): the config class's defaults -> the preset -> ``--config FILE`` ->
``--set key=value`` (repeatable, dotted keys for nested fields) -> ``--seed``.
Unknown keys and wrong types raise :class:`ConfigError` naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dllab.errors import ConfigError

PRESETS = ("smoke", "cpu", "full")


class ExperimentConfig(BaseModel):
    """Base of every experiment config. Subclasses add their own typed fields with defaults."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # Fields whose complete value depends on other fields (cifar-fast's ``fast`` numbers come from its recipe): a
    # ``mode="before"`` validator of the subclass completes them from what the layers gave, so :func:`resolve`
    # leaves them out of the defaults it starts from. Once resolved they are written out whole like any field.
    DERIVED: ClassVar[tuple[str, ...]] = ()

    seed: int = Field(0, ge=0, lt=2 ** 63, description="the run seed (0 <= seed < 2^63): every random stream is "
                                                          "derived from it and a name (dllab.seeding)")


def parse_override(item: str) -> tuple[list[str], Any]:
    """Parse ``a.b=value``; the value is read as YAML, so ``3``, ``0.1``, ``true``, ``[1, 2]`` are typed."""
    if "=" not in item:
        raise ConfigError(f"--set expects key=value, got {item!r} (example: --set epochs=3)")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set expects key=value, got {item!r}: the key is empty")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def _set_nested(tree: dict, path: list[str], value: Any) -> None:
    for part in path[:-1]:
        node = tree.get(part)
        if not isinstance(node, dict):
            node = {}
            tree[part] = node
        tree = node
    tree[path[-1]] = value


def apply_dotted(values: dict, changes: dict[str, Any]) -> dict:
    """A deep copy of ``values`` with dotted keys set (``{"train.lr": 0.05}`` sets ``values["train"]["lr"]``)."""
    import copy

    out = copy.deepcopy(values)
    for key, value in changes.items():
        _set_nested(out, key.split("."), value)
    return out


_MISSING = object()


def get_dotted(tree: BaseModel | dict, key: str, default: Any = _MISSING) -> Any:
    """The value of dotted ``key`` in a config or a nested dict (``get_dotted(cfg, "train.lr")``,
    ``get_dotted(summary, "baseline.test_accuracy")``); ``default`` when a part is missing, if given, else a
    ConfigError naming the key."""
    value: Any = tree
    for part in key.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif not isinstance(value, dict) and hasattr(value, part):
            value = getattr(value, part)
        elif default is not _MISSING:
            return default
        else:
            raise ConfigError(f"unknown config key '{key}'")
    return value


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 0.1}}`` -> ``{"train.lr": 0.1}``: nested keys dotted as ``--set`` takes them (lists and
    empty mappings stay values)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text (a binary or damaged file?); give a YAML file "
                          "of key: value lines") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config file {path} is not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of key: value, got {type(data).__name__}")
    return data


def _describe_error(err: dict, cls: type[ExperimentConfig]) -> str:
    key = ".".join(str(p) for p in err["loc"]) or "(root)"
    if err["type"] == "value_error" and not err["loc"]:  # a validator of the whole config: its own sentence
        return str(err.get("ctx", {}).get("error") or err["msg"])
    if err["type"] == "extra_forbidden":
        valid = ", ".join(sorted(cls.model_fields))
        return f"unknown config key '{key}' (valid keys: {valid})"
    value = err.get("input")
    return f"config key '{key}' got {value!r}: {err['msg'].lower()}"


def validate(cls: type[ExperimentConfig], values: dict) -> ExperimentConfig:
    """Build ``cls`` from a plain dict, turning pydantic's report into one clear line."""
    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        errors = exc.errors()
        msg = _describe_error(errors[0], cls)
        if len(errors) > 1:
            msg += f" (and {len(errors) - 1} more problem(s))"
        raise ConfigError(msg) from None


def resolve(
    cls: type[ExperimentConfig],
    presets: dict[str, dict],
    preset: str = "cpu",
    config_file: str | Path | None = None,
    overrides: list[str] | None = None,
    seed: int | None = None,
) -> ExperimentConfig:
    """Resolve a config: defaults -> preset -> YAML file -> ``--set`` overrides -> seed."""
    if preset not in presets:
        raise ConfigError(f"unknown preset {preset!r}; choose one of: {', '.join(presets)}")
    # Start from the full defaults so that a partial nested override (train: {epochs: 2}) keeps the
    # experiment's other nested defaults instead of the nested class's generic ones.
    defaults = {k: v for k, v in cls().model_dump().items() if k not in cls.DERIVED}
    values: dict = _merge(defaults, presets[preset])
    if config_file is not None:
        values = _merge(values, load_yaml(config_file))
    for item in overrides or []:
        path, value = parse_override(item)
        _set_nested(values, path, value)
    if seed is not None:
        values["seed"] = seed
    return validate(cls, values)


def to_yaml(config: BaseModel) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def describe_fields(config: BaseModel, prefix: str = "") -> list[dict]:
    """Every settable key of ``config``, nested ones dotted (``train.lr``): its value, type and description."""
    rows = []
    for name, field in type(config).model_fields.items():
        value = getattr(config, name)
        if isinstance(value, BaseModel):
            rows.extend(describe_fields(value, f"{prefix}{name}."))
            continue
        if get_origin(field.annotation) is Literal:
            kind = " | ".join(map(str, get_args(field.annotation)))
        else:
            kind = getattr(field.annotation, "__name__", None) or str(field.annotation).replace("typing.", "")
        rows.append({"key": prefix + name, "value": value, "type": kind, "description": field.description or ""})
    return rows
