"""One configuration system for every component.

Layers, lowest first: the component's ``vars/base.yml`` (package data), a user YAML file,
environment variables ``<PREFIX><DOTTED_KEY_WITH_UNDERSCORES>`` and flags. The merged document is
validated once by a pydantic model; any failure becomes a :class:`ConfigError` naming
the key, the bad value and where it came from.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration value is missing, unknown or invalid; the message says which."""


class StrictModel(BaseModel):
    """Base for config sections: unknown keys are errors, so typos are caught."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def leaf_paths(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Yield the dotted path of every leaf field of ``model`` (sections recurse)."""
    for name, field in model.model_fields.items():
        ann = field.annotation
        path = f"{prefix}{name}"
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from leaf_paths(ann, path + ".")
        else:
            yield path


def env_name(prefix: str, path: str) -> str:
    """The variable that sets dotted ``path``: ``udp_echo.port`` → ``P_UDP_ECHO_PORT``."""
    return prefix + path.replace(".", "_").upper()


def _read_yaml(path: Traversable) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping, not {type(data).__name__}")
    return data


def _set_path(doc: dict[str, Any], path: str, value: Any, origin: str) -> None:
    node = doc
    parts = path.split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{'.'.join(parts[:-1])} must be a mapping ({origin})")
        node = child
    node[parts[-1]] = value


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _parse_env_value(raw: str) -> Any:
    # YAML scalars let "true", "5", "1.5" and "[a, b]" mean what they say; anything that
    # does not parse is kept as the plain string and left to the model to judge.
    try:
        return yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError:
        return raw


def _lookup(doc: Mapping[str, Any], loc: tuple[int | str, ...]) -> Any:
    node: Any = doc
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return "<missing>"
    return node


def _origin_of(loc: tuple[int | str, ...], origins: Mapping[str, str]) -> str | None:
    """Where the value at ``loc`` came from, when a variable or flag set it or its parent.

    A variable sets a leaf (``stats.targets``); an error can sit deeper (``stats.targets.0``,
    an item's validator) or at a section holding it (a section's validator).
    """
    parts = [str(p) for p in loc]
    for end in range(len(parts), 0, -1):
        found = origins.get(".".join(parts[:end]))
        if found:
            return found
    key = ".".join(parts)
    below = sorted(v for k, v in origins.items() if not key or k.startswith(key + "."))
    return ", ".join(dict.fromkeys(below)) or None


def load_config(
    model: type[M],
    base_file: Traversable,
    user_file: Path | None = None,
    env_prefix: str = "",
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    foreign_prefixes: tuple[str, ...] = (),
) -> M:
    """Merge the layers and validate them into ``model``; raise ConfigError on any fault.

    Environment variables under ``env_prefix`` that name no key are errors (typos), except
    those under ``foreign_prefixes`` (another component's, or a secret's variable).
    """
    doc = _read_yaml(base_file)
    origins: dict[str, str] = {}
    if user_file is not None:
        doc = _merge(doc, _read_yaml(user_file))
    env = os.environ if environ is None else environ
    if env_prefix:
        for path in leaf_paths(model):
            name = env_name(env_prefix, path)
            if name in env:
                _set_path(doc, path, _parse_env_value(env[name]), f"env {name}")
                origins[path] = f"environment variable {name}"
        known = {env_name(env_prefix, p) for p in leaf_paths(model)}
        unknown = sorted(
            k
            for k in env
            if k.startswith(env_prefix)
            and k not in known
            and not any(k.startswith(f) for f in foreign_prefixes)
        )
        if unknown:
            raise ConfigError(f"unknown configuration variable {unknown[0]} (no such key)")
    for path, value in (overrides or {}).items():
        if value is None:
            continue
        _set_path(doc, path, value, "flag")
        origins[path] = "command-line flag"
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "<root>"
        where = _origin_of(loc, origins) or (str(user_file) if user_file else str(base_file))
        if err["type"] == "extra_forbidden":
            raise ConfigError(f"unknown configuration key {key!r} (in {where})") from None
        value = err.get("input", _lookup(doc, loc))
        raise ConfigError(
            f"invalid configuration: {key} = {value!r} (from {where}): {err['msg']}"
        ) from None
