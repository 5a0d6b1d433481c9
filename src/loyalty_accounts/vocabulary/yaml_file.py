"""The YAML the data files are written in, read exactly.

Shared by the chart of accounts and the rules file: floats become ``Decimal``
from their text (``0.01`` stays 0.01), a duplicate key is an error, and the
composed node tree lets a validation error name the line of the offending
field. Every problem is a :class:`~loyalty_accounts.errors.ChartError` (exit 2).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Sequence

import yaml
from pydantic import ValidationError

from ..errors import ChartError


class _Loader(yaml.SafeLoader):
    """Safe YAML where floats become Decimal (from their text) and duplicate keys fail."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not a decimal number", node.start_mark
        ) from None


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_Loader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml_mapping(text: str, *, source: str, what: str) -> tuple[dict[str, Any], yaml.Node | None]:
    """A YAML document read with exact decimals and duplicate-key checks, plus its node tree.

    The node tree lets validation errors name the line of the offending field
    (see :func:`yaml_location`). Shared by the chart and the rules file.
    """

    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ChartError(f"{source}: malformed YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ChartError(f"{source}: {what} must be a YAML mapping at the top level")
    return data, node


def invalid_document(title: str, source: str, node: yaml.Node | None, exc: ValidationError) -> ChartError:
    """One ChartError listing every validation failure with its field path and line."""

    lines = [f"{yaml_location(source, node, err['loc'])}: {err['msg']}" for err in exc.errors()]
    return ChartError(f"{title}:\n  " + "\n  ".join(lines), details=exc.errors())


def _line_of(root: yaml.Node | None, path: Sequence[str | int]) -> int | None:
    """1-based line of the deepest node the path reaches in the composed YAML."""

    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                    node = value_node
                    line = key_node.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def yaml_location(source: str, root: yaml.Node | None, path: Sequence[str | int]) -> str:
    dotted = ".".join(str(p) for p in path) or "(top level)"
    line = _line_of(root, path)
    return f"{source}: {dotted}" + (f" (line {line})" if line else "")


def read_data_file(path: Path, what: str) -> str:
    """The text of a data file (chart, rules, a Numscript template): UTF-8, or one ChartError naming the file."""

    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ChartError(f"{path}: cannot read {what} ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ChartError(f"{path}: {what} is not UTF-8 text (byte {exc.start})") from None
