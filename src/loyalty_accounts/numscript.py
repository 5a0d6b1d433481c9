"""The Numscript catalogue: one template per operation, loaded by name from ``numscript/``.

A template is Numscript plus two small extensions for the places where one
transaction needs a variable number of similar things. Both are expanded by
:meth:`Template.render` before the script leaves Python; what the ledger
receives is plain Numscript that the server's default runtime (``machine``)
and the new interpreter both accept.

**List variables.** In the ``vars`` block, ``TYPE... $name`` declares a list::

    account... $buckets          →  account $buckets_0
                                    account $buckets_1

**Splice.** A line holding only ``$name...`` (a list variable) becomes one
line per element, which is how an ordered source lists the customer's
buckets, one source per line as the machine runtime requires::

    source = {                       source = {
      $buckets...             →        $buckets_0
      $shortfall allowing ...          $buckets_1
    }                                  $shortfall allowing ...
                                     }

**Repeated block.** Lines between ``#each $a $b ...`` and ``#end`` are written
once per element of the named lists (which must have equal lengths); inside
the block ``$a`` stands for the current element ``$a_0``, ``$a_1``, ...::

    #each $moved $from_bucket         send $moved_0 (
    send $moved (                       source = $from_bucket_0 ...
      source = $from_bucket    →      )
      ...                             send $moved_1 (
    )                                   source = $from_bucket_1 ...
    #end                              )

Lists may be empty (a splice or block then renders nothing). Values are never
written into the text: the rendered script depends only on the list lengths,
so the ledger's compiled-script cache sees a handful of distinct texts, and
every value travels as a variable. Lines starting with ``//`` document the
template and are dropped, as are blank runs (the machine grammar is
line-sensitive).

Checked when a template is loaded (:class:`~loyalty_accounts.errors.ChartError`
otherwise): every variable used is declared and every declared one used; list
variables appear only in splices and ``#each`` blocks; expanded names cannot
collide. Checked when it is bound to values: the names given are exactly the
names declared, lists get sequences and scalars strings, and an ordered source
never ends up empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Mapping, Sequence

from .errors import ChartError, InvalidCommand
from .settings import load_settings
from .vocabulary.amounts import ASSET_RE, Asset, to_minor
from .vocabulary.yaml_file import read_data_file

_RENDERED_PER_TEMPLATE = 64
"""Renders kept per template (a list template renders once per list length in use)."""

VAR_TYPES = frozenset({"account", "monetary", "number", "portion", "asset", "string"})
_NAME = r"[a-z_][a-z0-9_]*"
_REF = re.compile(r"\$(" + _NAME + r")\b(?!\.\.\.)")
_DECL = re.compile(r"^\s*(" + "|".join(sorted(VAR_TYPES)) + r")(\.\.\.)?\s+\$(" + _NAME + r")\s*$")
_SPLICE = re.compile(r"^(\s*)\$(" + _NAME + r")\.\.\.\s*$")
_EACH = re.compile(r"^\s*#each((?:\s+\$" + _NAME + r")+)\s*$")
_END = re.compile(r"^\s*#end\s*$")
# Bounded overdrafts count too: an account a script may take below zero at all
# must be one the chart says may go negative.
_OVERDRAFT = re.compile(r"\$(" + _NAME + r")\s+allowing\s+(?:unbounded\s+)?overdraft")
_EMPTY_SOURCE = re.compile(r"\{\s*\n\s*\}")

VarValue = str | Sequence[str]


def monetary(asset: Asset, amount: int) -> str:
    """A monetary variable as Formance takes it: ``"PTS 100"``, ``"USD/2 1250"``."""

    if not ASSET_RE.match(asset):
        raise InvalidCommand(f"invalid asset {asset!r}")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise InvalidCommand(f"monetary amount must be a non-negative integer, got {amount!r}")
    return f"{asset} {amount}"


def money(asset: Asset, amount: Decimal) -> str:
    """A Decimal sum of money as a monetary variable in minor units: ``USD/2`` 12.50 → ``"USD/2 1250"``."""

    return monetary(asset, to_minor(amount, asset))


def number(value: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidCommand(f"number must be an integer, got {value!r}")
    return str(value)


@dataclass(frozen=True)
class VarDecl:
    name: str
    type: str
    is_list: bool


@dataclass(frozen=True)
class BoundScript:
    """A rendered script and its flat string variables, ready for a TransactionPlan."""

    script: str
    vars: Mapping[str, str]


@dataclass(frozen=True)
class _Line:
    text: str
    kind: str  # "text", "splice", "each", "end"
    names: tuple[str, ...] = ()
    indent: str = ""


@dataclass(frozen=True)
class Template:
    """A parsed template. Build it with :meth:`parse`."""

    name: str
    source: str
    description: str
    vars: tuple[VarDecl, ...]
    body: tuple[_Line, ...]
    overdraft_vars: frozenset[str]
    # Scripts already rendered, by list lengths: a template renders the same text for the same
    # lengths, and an operation's hot path renders one or two per post.
    _rendered: dict[tuple[tuple[str, int], ...], str] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def var_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.vars)

    @cached_property
    def _declared(self) -> frozenset[str]:
        return frozenset(self.var_names)

    @property
    def list_vars(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.vars if v.is_list)

    def decl(self, name: str) -> VarDecl:
        for v in self.vars:
            if v.name == name:
                return v
        raise KeyError(name)

    # -- parsing ----------------------------------------------------------

    @classmethod
    def parse(cls, name: str, text: str, *, source: str = "<template>") -> "Template":
        def fail(lineno: int | None, message: str) -> ChartError:
            where = f"{source}:{lineno}" if lineno else source
            return ChartError(f"numscript template {name!r} ({where}): {message}")

        lines = text.splitlines()
        description: list[str] = []
        numbered: list[tuple[int, str]] = []
        in_header = True
        for i, line in enumerate(lines, start=1):
            stripped = line.strip()
            if stripped.startswith("//"):
                if in_header:
                    description.append(stripped[2:].strip())
                continue
            if stripped:
                in_header = False
            if "//" in line or "/*" in line:
                raise fail(i, "comments go on lines of their own ('//' at the start of the line)")
            numbered.append((i, line.rstrip()))

        content = [(i, line) for i, line in numbered if line.strip()]
        if not content or content[0][1].strip() != "vars {":
            raise fail(content[0][0] if content else None, "a template starts with a 'vars {' block")
        decls: list[VarDecl] = []
        pos = 1
        while pos < len(content) and content[pos][1].strip() != "}":
            lineno, line = content[pos]
            m = _DECL.match(line)
            if not m:
                raise fail(lineno, f"expected 'TYPE $name' or 'TYPE... $name' in the vars block, got {line.strip()!r}")
            decl = VarDecl(name=m.group(3), type=m.group(1), is_list=bool(m.group(2)))
            if any(d.name == decl.name for d in decls):
                raise fail(lineno, f"${decl.name} is declared twice")
            decls.append(decl)
            pos += 1
        if pos >= len(content):
            raise fail(None, "the vars block is not closed")
        if not decls:
            raise fail(content[0][0], "the vars block declares nothing")
        declared = {d.name: d for d in decls}
        for d in decls:
            if d.is_list:
                for other in declared:
                    if other != d.name and re.fullmatch(re.escape(d.name) + r"_[0-9]+", other):
                        raise fail(None, f"${other} collides with the expansion of list ${d.name}")

        body_start = content[pos][0]
        body: list[_Line] = []
        used: set[str] = set()
        block: tuple[str, ...] | None = None
        block_line = 0
        for lineno, line in numbered:
            if lineno <= body_start:
                continue
            if m := _EACH.match(line):
                if block is not None:
                    raise fail(lineno, "#each blocks do not nest")
                names = tuple(n.lstrip("$") for n in m.group(1).split())
                for n in names:
                    if n not in declared or not declared[n].is_list:
                        raise fail(lineno, f"#each takes list variables; ${n} is not one")
                used.update(names)
                block, block_line = names, lineno
                body.append(_Line(line, "each", names))
                continue
            if _END.match(line):
                if block is None:
                    raise fail(lineno, "#end without #each")
                block = None
                body.append(_Line(line, "end"))
                continue
            if line.lstrip().startswith("#"):
                raise fail(lineno, f"unknown directive {line.strip()!r}")
            if m := _SPLICE.match(line):
                n = m.group(2)
                if n not in declared or not declared[n].is_list:
                    raise fail(lineno, f"'${n}...' splices a list variable; ${n} is not one")
                if block is not None:
                    raise fail(lineno, "a splice cannot sit inside an #each block")
                used.add(n)
                body.append(_Line(line, "splice", (n,), m.group(1)))
                continue
            if "..." in line:
                raise fail(lineno, "'$name...' must stand alone on its line")
            for n in _REF.findall(line):
                if n not in declared:
                    raise fail(lineno, f"${n} is not declared")
                if declared[n].is_list and (block is None or n not in block):
                    raise fail(lineno, f"list ${n} is used outside a splice or an #each block naming it")
                used.add(n)
            body.append(_Line(line, "text"))
        if block is not None:
            raise fail(block_line, "#each is not closed by #end")
        unused = [d.name for d in decls if d.name not in used]
        if unused:
            raise fail(None, f"declared but never used: {', '.join('$' + n for n in unused)}")
        overdraft = frozenset(n for line in body for n in _OVERDRAFT.findall(line.text))
        return cls(
            name=name,
            source=source,
            description=" ".join(description).strip(),
            vars=tuple(decls),
            body=tuple(body),
            overdraft_vars=overdraft,
        )

    # -- rendering --------------------------------------------------------

    def _check_lengths(self, lengths: Mapping[str, int]) -> None:
        lists = set(self.list_vars)
        if set(lengths) != lists:
            raise ChartError(
                f"template {self.name!r}: list lengths given for {sorted(lengths)}, lists are {sorted(lists)}"
            )
        for n, count in lengths.items():
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ChartError(f"template {self.name!r}: length of ${n} must be a non-negative integer")
        for line in self.body:
            if line.kind == "each":
                counts = {lengths[n] for n in line.names}
                if len(counts) > 1:
                    detail = ", ".join(f"${n}={lengths[n]}" for n in line.names)
                    raise ChartError(f"template {self.name!r}: #each lists must have equal lengths ({detail})")

    def expanded_names(self, lengths: Mapping[str, int]) -> tuple[str, ...]:
        """The flat variable names the rendered script declares."""

        self._check_lengths(lengths)
        out: list[str] = []
        for v in self.vars:
            if v.is_list:
                out.extend(f"{v.name}_{k}" for k in range(lengths[v.name]))
            else:
                out.append(v.name)
        return tuple(out)

    def render(self, lengths: Mapping[str, int]) -> str:
        """Plain Numscript for these list lengths (and nothing else); ChartError when they do not fit
        the template's lists."""

        key = tuple(sorted(lengths.items()))
        text = self._rendered.get(key)
        if text is None:
            text = self._render(lengths)
            if len(self._rendered) < _RENDERED_PER_TEMPLATE:
                self._rendered[key] = text
        return text

    def _render(self, lengths: Mapping[str, int]) -> str:
        self._check_lengths(lengths)
        out: list[str] = ["vars {"]
        for v in self.vars:
            if v.is_list:
                out.extend(f"  {v.type} ${v.name}_{k}" for k in range(lengths[v.name]))
            else:
                out.append(f"  {v.type} ${v.name}")
        out.append("}")
        out.append("")
        block: list[_Line] | None = None
        block_names: tuple[str, ...] = ()
        for line in self.body:
            if line.kind == "each":
                block, block_names = [], line.names
            elif line.kind == "end":
                assert block is not None
                for k in range(lengths[block_names[0]]):
                    for inner in block:
                        out.append(
                            _REF.sub(
                                lambda m, k=k: f"${m.group(1)}_{k}" if m.group(1) in block_names else m.group(0),
                                inner.text,
                            )
                        )
                    out.append("")
                block = None
            elif block is not None:
                block.append(line)
            elif line.kind == "splice":
                n = line.names[0]
                out.extend(f"{line.indent}${n}_{k}" for k in range(lengths[n]))
            else:
                out.append(line.text)
        text = re.sub(r"\n{2,}", "\n\n", "\n".join(l.rstrip() for l in out)).strip("\n") + "\n"
        if _EMPTY_SOURCE.search(text):
            raise ChartError(f"template {self.name!r}: an ordered source or destination would be empty with {dict(lengths)}")
        return text

    def bind(self, values: Mapping[str, VarValue]) -> BoundScript:
        """Render for the given values and flatten them into Formance's string variables.

        ``values`` must name exactly the declared variables: a string per
        scalar, a sequence of strings per list.
        """

        declared = self._declared
        if values.keys() != declared:
            missing = sorted(declared - values.keys())
            extra = sorted(values.keys() - declared)
            raise ChartError(f"template {self.name!r}: missing vars {missing}, unexpected vars {extra}")
        lengths: dict[str, int] = {}
        flat: dict[str, str] = {}
        for v in self.vars:
            value = values[v.name]
            if v.is_list:
                if isinstance(value, str) or not isinstance(value, Sequence):
                    raise ChartError(f"template {self.name!r}: ${v.name} is a list and needs a sequence of strings")
                items = list(value)
                if not all(isinstance(x, str) for x in items):
                    raise ChartError(f"template {self.name!r}: ${v.name} takes strings only")
                lengths[v.name] = len(items)
                flat.update({f"{v.name}_{k}": x for k, x in enumerate(items)})
            else:
                if not isinstance(value, str):
                    raise ChartError(f"template {self.name!r}: ${v.name} takes a string, got {type(value).__name__}")
                flat[v.name] = value
        return BoundScript(script=self.render(lengths), vars=flat)


def combine(*parts: BoundScript) -> BoundScript:
    """One script doing what ``parts`` do, in order: their ``vars`` blocks merged, then their bodies.

    Used to append the executor's guard legs to an operation's script. The
    parts must declare distinct variable names (ChartError otherwise).
    """

    flat: dict[str, str] = {}
    for part in parts:
        clash = sorted(set(flat) & set(part.vars))
        if clash:
            raise ChartError(f"scripts combined declare the same variables: {', '.join(clash)}")
        flat.update(part.vars)
    return BoundScript(script=_combined(tuple(part.script for part in parts)), vars=flat)


@lru_cache(maxsize=256)
def _combined(scripts: tuple[str, ...]) -> str:
    """The script of :func:`combine`: the ``vars`` blocks of ``scripts`` merged, then their bodies (the same
    few pairs of scripts come back on every post, so the text is kept)."""

    declarations: list[str] = []
    bodies: list[str] = []
    for script in scripts:
        head, sep, body = script.partition("\n}\n")
        if not head.startswith("vars {") or not sep:
            raise ChartError("a rendered script starts with its vars block")
        declarations.extend(line for line in head.splitlines()[1:] if line.strip())
        bodies.append(body.strip("\n"))
    return "vars {\n" + "\n".join(declarations) + "\n}\n\n" + "\n\n".join(b for b in bodies if b) + "\n"


def default_template_dir() -> Path:
    """Settings ``numscript_dir``: ``$LOYALTY_NUMSCRIPT_DIR``, else ``numscript/`` at the root of this checkout."""

    return load_settings().numscript_dir


class Catalogue:
    """Every ``*.num`` template of a folder, parsed once and looked up by name."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_template_dir()
        if not self.directory.is_dir():
            raise ChartError(f"numscript template folder {self.directory} does not exist")
        templates: dict[str, Template] = {}
        for path in sorted(self.directory.glob("*.num")):
            if not re.fullmatch(r"[a-z][a-z0-9_]*", path.stem):
                raise ChartError(f"{path}: template names are lower-case identifiers")
            templates[path.stem] = Template.parse(path.stem, read_data_file(path, "the template"), source=str(path))
        self._templates = templates

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._templates))

    def __contains__(self, name: object) -> bool:
        return name in self._templates

    def get(self, name: str) -> Template:
        try:
            return self._templates[name]
        except KeyError:
            raise ChartError(f"no numscript template {name!r} in {self.directory}") from None

    def render(self, name: str, lengths: Mapping[str, int] | None = None) -> str:
        return self.get(name).render(lengths or {})

    def bind(self, name: str, values: Mapping[str, VarValue]) -> BoundScript:
        return self.get(name).bind(values)
