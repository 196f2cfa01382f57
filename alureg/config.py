"""Configuration, read from ``alureg.toml`` at the registry root.

The root-key fingerprints and the root threshold live here and not in the trust list,
so that a change to the trust list cannot vouch for itself (docs/adr/0004-trust.md).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import AluregError

CONFIG_FILE = "alureg.toml"
_FINGERPRINT = re.compile(r"^sha256:[0-9a-f]{64}$")


class ConfigError(AluregError):
    pass


@dataclass(frozen=True)
class Config:
    scheme_name: str
    site_url: str
    root_threshold: int
    root_fingerprints: frozenset[str]
    repository_url: str | None = None  # where record changes link to: <url>/commit/<sha>


def load_config(root: Path) -> Config:
    return load_config_file(root / CONFIG_FILE)


def load_config_file(path: Path) -> Config:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: missing; the registry root needs {CONFIG_FILE}") from e
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: {e}") from e
    try:
        trust = raw["trust"]
        fingerprints = trust["root_fingerprints"]
        threshold = trust["root_threshold"]
        scheme = raw["scheme"]
        config = Config(
            scheme_name=str(scheme["name"]),
            site_url=str(raw["site"]["url"]).rstrip("/"),
            root_threshold=int(threshold),
            root_fingerprints=frozenset(str(f) for f in fingerprints),
            repository_url=str(raw["repository"]["url"]).rstrip("/") if "url" in raw.get("repository", {}) else None,
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ConfigError(f"{path}: missing or malformed setting {e}") from e
    bad = [f for f in config.root_fingerprints if not _FINGERPRINT.match(f)]
    if bad:
        raise ConfigError(f"{path}: root fingerprint {bad[0]!r} is not sha256:<64 hex digits>")
    if not 1 <= config.root_threshold <= len(config.root_fingerprints):
        raise ConfigError(
            f"{path}: root_threshold must be between 1 and the number of pinned root keys"
        )
    return config
