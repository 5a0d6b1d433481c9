"""The programmes an API server serves: each a ledger with its own chart and rules, kept apart.

A programme is named by its ledger (``/v1/programmes/{ledger}/...``; an API key belongs to one). Without
a programmes file the server serves one: the settings' ledger, chart and rules. A programmes file
(YAML; paths relative to the file's folder) names more::

    programmes:
      shop: {}                                  # the settings' chart and rules
      airline: {chart: airline/chart_of_accounts.yaml, rules: airline/rules.yaml}

Each request thread gets its own :class:`~loyalty_accounts.app.App` per programme (its own HTTP client
and caches), built from the server's settings with that programme's ledger, chart and rules.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Mapping

from pydantic import Field, ValidationError

from ..app import App
from ..errors import InvalidCommand, UnknownEntity
from ..settings import Settings
from ..vocabulary.frozen import Frozen
from ..vocabulary.yaml_file import invalid_document, read_data_file, read_yaml_mapping
from .keys import PROGRAMME_NAME

__all__ = ["Programme", "Programmes", "load_programmes"]


class _Entry(Frozen):
    chart: Path | None = None
    rules: Path | None = None


class _File(Frozen):
    programmes: Mapping[str, _Entry] = Field(min_length=1)


class Programme(Frozen):
    """One programme: its name (its ledger's) and where its chart and rules are."""

    name: str
    chart: Path
    rules: Path


def load_programmes(settings: Settings, path: Path | None) -> tuple[Programme, ...]:
    """The programmes to serve: those of the file at ``path``, else the settings' own one.

    Raises InvalidCommand naming the file for a malformed file, a bad name or a chart or rules file missing.
    """

    if path is None:
        return (Programme(name=settings.ledger_name or "loyalty", chart=settings.chart, rules=settings.rules),)
    raw, node = read_yaml_mapping(read_data_file(path, "programmes file"), source=str(path), what="a programmes file")
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as exc:
        raise invalid_document("programmes file", str(path), node, exc) from None
    found = []
    for name, entry in parsed.programmes.items():
        if not PROGRAMME_NAME.match(name):
            raise InvalidCommand(f"programmes file {path}: programme name {name!r}: letters, digits, '_' or '-'")
        chart = (path.parent / entry.chart) if entry.chart is not None else settings.chart
        rules = (path.parent / entry.rules) if entry.rules is not None else settings.rules
        for what, file in (("chart", chart), ("rules", rules)):
            if not Path(file).is_file():
                raise InvalidCommand(f"programmes file {path}: programme {name}: no {what} file {file}")
        found.append(Programme(name=name, chart=chart, rules=rules))
    return tuple(found)


class Programmes:
    """The served programmes, an :class:`App` per programme per thread."""

    def __init__(self, settings: Settings, programmes: tuple[Programme, ...]) -> None:
        self._settings = settings
        self.by_name = {p.name: p for p in programmes}
        self._local = threading.local()
        self._all: list[App] = []
        self._lock = threading.Lock()

    def app(self, name: str) -> App:
        """The calling thread's App of programme ``name``. Raises UnknownEntity for a programme not served."""

        programme = self.by_name.get(name)
        if programme is None:
            raise UnknownEntity(f"no programme {name!r} here")
        apps: dict[str, App] = self._local.__dict__.setdefault("apps", {})
        if name not in apps:
            settings = self._settings.model_copy(update={"ledger_name": name, "chart": programme.chart, "rules": programme.rules})
            apps[name] = App(settings)
            with self._lock:
                self._all.append(apps[name])
        return apps[name]

    def close(self) -> None:
        with self._lock:
            for app in self._all:
                app.close()
            self._all.clear()
