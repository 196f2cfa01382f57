"""libyaml's node loader without tag resolution, for alureg/loading.py's fast path.

A module of its own because it subclasses a class of PyYAML's C extension: mypyc,
which compiles alureg/loading.py (alureg/native.py), cannot compile such a subclass."""

from __future__ import annotations

from typing import Any

import yaml


class NodeLoader(getattr(yaml, "CBaseLoader", object)):  # type: ignore[misc]
    """libyaml's parser and composer without tag resolution: we type scalars ourselves
    from their style, so the per-node call back into Python's resolver is skipped."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        return ""

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass
