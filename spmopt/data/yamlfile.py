"""The one YAML loader of the package: scenarios, plans, stress files and ``--set`` values all go through it.

It is PyYAML's safe loader with two changes, so that a file means what its author wrote:

* **YAML 1.2 scalars.** Only ``true``/``false`` are booleans (``on``, ``no`` or ``off`` stay text: a holder id
  ``NO``, the key ``quota.on``), and numbers have no YAML 1.1 base-60 form (``15:17`` stays the text of a
  ``LOW:HIGH`` bound, not 917). ISO dates (``2026-07-01``) are dates.
* **No duplicate keys.** A key given twice in one mapping is an error naming both lines, instead of the last
  value silently winning (a plan's ``target_incentive`` or a scenario's ``quota.target`` changed without a word).
  YAML merge keys (``<<: *defaults``) may still be overridden by an explicit key, as YAML intends.

Errors are :class:`~spmopt.errors.InputError` subclasses (the caller chooses which) naming the file and line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from spmopt.errors import InputError


class Loader(yaml.SafeLoader):
    """Safe loader with YAML 1.2 booleans and numbers that refuses duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        _refuse_duplicates(self, node)
        return super().construct_mapping(node, deep=deep)


class DuplicateKeyError(yaml.MarkedYAMLError):
    """A mapping gives the same key twice (raised while loading; turned into the caller's InputError)."""


def _refuse_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> None:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            continue   # an unhashable key is refused by PyYAML itself, with its own message
        line = key_node.start_mark.line + 1
        if key in seen:
            raise DuplicateKeyError(None, None, f"duplicate key '{key}' (first given on line {seen[key]}; a key "
                                    "may appear once in each mapping)", key_node.start_mark)
        seen[key] = line


_YAML11 = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag not in _YAML11]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                             list("tTfF"))
Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$|^0x[0-9a-fA-F_]+$"),
                             list("-+0123456789"))
Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$"
               r"|^\.(?:nan|NaN|NAN)$"), list("-+0123456789."))


def yaml_problem(exc: yaml.YAMLError) -> tuple[int | None, str]:
    """(line, problem) of a PyYAML error, for a one-line message."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if not isinstance(exc, DuplicateKeyError):
        problem = f"not valid YAML: {problem}"
    return (mark.line + 1 if mark else None), problem


def load_yaml(text: str, *, source: str | None = None, error: type[InputError] = InputError,
              node: bool = False) -> Any:
    """Parse YAML ``text`` with :class:`Loader`. With ``node``, return ``(data, root node)`` (the node gives the
    line of any key). A syntax error or duplicate key raises ``error`` (an InputError subclass taking
    ``(message, source=...)``) as ``"<source>: line L: <problem>"``."""
    try:
        data = yaml.load(text, Loader=Loader)  # noqa: S506 — a safe loader
        root = yaml.compose(text, Loader=Loader) if node else None
    except yaml.YAMLError as exc:
        line, problem = yaml_problem(exc)
        raise error(f"line {line}: {problem}" if line else problem, source=source) from None
    return (data, root) if node else data


def read_yaml(path: str | os.PathLike, *, what: str = "YAML file", error: type[InputError] = InputError,
              node: bool = False) -> Any:
    """Read and parse a YAML file (UTF-8) as :func:`load_yaml` does; a missing or unreadable file raises
    ``error`` naming it."""
    p = Path(path)
    if not p.is_file():
        raise error(f"{what} not found: {p}" + (" (it is a folder)" if p.is_dir() else ""))
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"cannot read the {what}: not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8",
                    source=str(p)) from None
    except OSError as exc:
        raise error(f"cannot read the {what}: {exc.strerror or exc}", source=str(p)) from None
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise error(f"the {what} is empty", source=str(p))
    return load_yaml(text, source=str(p), error=error, node=node)
