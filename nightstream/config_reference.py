"""docs/configuration.md, generated from the settings model: every key with its environment
variable, default, allowed values, an example and what it means.

    python -m nightstream.config_reference > docs/configuration.md

Keys, defaults, limits and variable names come from the model (``nightstream.config``); what a
key means comes from its field's description or docstring, else from ``nightstream.config_notes``.
A key with no meaning, or a note for a key that no longer exists, stops the generation, so the
page cannot drift from the model (tests/nightstream/test_config_reference.py compares it).
"""

from __future__ import annotations

import ast
import inspect
import itertools
import json
import re
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeGuard, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from nightstream import config_notes
from nightstream.config import Settings
from nightstream.config_errors import key_example
from nightstream.connect_env import connect_variables
from nightstream.env_names import OTHER_VARIABLES, PREFIX

CONNECT_SOURCES = ("dexcomshare", "linkup")
HEADER = """# Configuration reference

Generated from the settings model by `python -m nightstream.config_reference`: do not edit it
by hand, run that command instead (a test fails while this page differs from its output).

Settings come from, highest precedence first: `NIGHTSTREAM_*` environment variables,
nightscout-connect's `CONNECT_*` variables (one link and one site, for a setup moved as it is),
and the TOML file named by `--config` or `NIGHTSTREAM_CONFIG`. In a variable's name `__`
separates the levels (`NIGHTSTREAM_KAFKA__BOOTSTRAP_SERVERS` is `bootstrap_servers` under
`[kafka]`); a `NIGHTSTREAM_*` variable that nothing reads is refused with the closest known
name. `nightstream config check` reads the settings as a role would and names each problem.
Secrets (passwords, tokens, API secrets) are never printed or logged.
"""


class IncompleteReference(Exception):
    """A key has no meaning to show, or a note names a key the model no longer has."""


@dataclass(frozen=True)
class Key:
    name: str
    meaning: str
    default: str
    allowed: str
    variables: tuple[str, ...]
    example: str


@dataclass
class Section:
    path: str
    """``kafka``, ``vendors.tandem``, ``targets`` (``[targets.<name>]``), ``links``."""
    title: str
    intro: str
    keys: list[Key] = field(default_factory=list)


def _docstrings(model: type[BaseModel]) -> dict[str, str]:
    """The docstring under each field of ``model``'s class body."""
    tree = ast.parse(inspect.getsource(model).strip())
    body = tree.body[0].body if isinstance(tree.body[0], ast.ClassDef) else []
    found = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            found[node.target.id] = " ".join(inspect.cleandoc(after.value.value).split())
    return found


def _model_doc(model: type[BaseModel]) -> str:
    doc = model.__dict__.get("__doc__")
    return " ".join(inspect.cleandoc(doc).split()) if doc else ""


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> ``X``."""
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        return rest[0] if len(rest) == 1 else annotation
    return annotation


def _is_model(annotation: Any) -> TypeGuard[type[BaseModel]]:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return json.dumps(str(value))


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    return "not set" if value is None else f"`{_toml(value)}`"


_TYPES = {str: "text", int: "integer", float: "number", bool: "true or false", Path: "path"}
_BOUNDS = (
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Ge, "ge", ">="),
    (annotated_types.Lt, "lt", "<"),
    (annotated_types.Le, "le", "<="),
)


def _allowed(info: FieldInfo) -> str:
    annotation = _unwrap(info.annotation)
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(f"`{choice}`" for choice in get_args(annotation))
    if annotation is SecretStr:
        words = ["secret text"]
    elif get_origin(annotation) is list:
        words = [f"list of {_TYPES[get_args(annotation)[0]]}"]
    else:
        words = [_TYPES[annotation]]
    for constraint in info.metadata:
        for kind, attribute, sign in _BOUNDS:
            if isinstance(constraint, kind):
                words.append(f"{sign} {getattr(constraint, attribute)}")
        if isinstance(constraint, annotated_types.MinLen):
            words.append("not empty")
        pattern = getattr(constraint, "pattern", None)
        if pattern:
            words.append(f"matching `{pattern}`")
    return ", ".join(words)


def _example(note_path: str, name: str, info: FieldInfo) -> str:
    written = config_notes.EXAMPLES.get(note_path) or key_example(name)
    if written is None:
        if info.is_required() or info.get_default(call_default_factory=True) is None:
            raise IncompleteReference(f"{note_path}: no example (add one to config_notes)")
        return f"`{name} = {_toml(info.get_default(call_default_factory=True))}`"
    code, _, remark = written.partition(" (")
    return f"`{code}`" + (f" ({remark}" if remark else "")


def _connect_names() -> dict[str, list[str]]:
    """nightscout-connect's variable(s) for each key, by note path (``links.username``)."""
    names: dict[str, list[str]] = {}
    for source in CONNECT_SOURCES:
        for key, variable in connect_variables({"CONNECT_SOURCE": source}).items():
            path = re.sub(r"\[0\]|\.default", "", key)
            if variable not in names.setdefault(path, []):
                names[path].append(variable)
    for path, variables in config_notes.CONNECT_ALSO.items():
        names.setdefault(path, []).extend(variables)
    return names


class _Builder:
    def __init__(self) -> None:
        self.connect = _connect_names()
        self.used: set[str] = set()

    def key(self, note_path: str, name: str, info: FieldInfo, doc: str, env: str | None) -> Key:
        meaning = info.description or doc or config_notes.FIELDS.get(note_path, "")
        self.used.add(note_path)
        if not meaning:
            raise IncompleteReference(
                f"{note_path}: no meaning (a docstring under the field, or config_notes.FIELDS)"
            )
        variables = ([env] if env else []) + self.connect.get(note_path, [])
        return Key(
            name,
            meaning,
            _default(info),
            _allowed(info),
            tuple(variables),
            _example(note_path, name, info),
        )

    def section(
        self, path: str, title: str, model: type[BaseModel], env: str | None, parent_doc: str = ""
    ) -> Iterator[Section]:
        """``model``'s keys as one section, then each of its nested models as a section."""
        self.used.add(path)
        intro = config_notes.SECTIONS.get(path) or " ".join(
            filter(None, (parent_doc, _model_doc(model)))
        )
        here = Section(path, title, intro)
        nested = []
        docs = _docstrings(model)
        note_root = path.split(".")[0]
        for name, info in model.model_fields.items():
            annotation = info.annotation
            if _is_model(annotation):
                nested.append((name, annotation))
                continue
            variable = f"{env}{name.upper()}" if env is not None else None
            here.keys.append(
                self.key(f"{note_root}.{name}", name, info, docs.get(name, ""), variable)
            )
        if here.keys:
            yield here
        for name, sub in nested:
            sub_env = f"{env}{name.upper()}__" if env is not None else None
            sub_title = f"[{path}.{name}]"
            yield from self.section(f"{path}.{name}", sub_title, sub, sub_env, _model_doc(model))


def sections() -> list[Section]:
    builder = _Builder()
    top = Section("", "Top level", config_notes.SECTIONS[""])
    builder.used.add("")
    found = [top]
    docs = _docstrings(Settings)
    for name, info in Settings.model_fields.items():
        annotation = info.annotation
        env = f"{PREFIX}{name.upper()}__"
        if _is_model(annotation):
            found += builder.section(name, f"[{name}]", annotation, env)
        elif get_origin(annotation) is dict:
            found += builder.section(
                name, f"[{name}.<name>]", get_args(annotation)[1], f"{env}<NAME>__"
            )
        elif get_origin(annotation) is list:
            found += builder.section(name, f"[[{name}]]", get_args(annotation)[0], None)
        else:
            top.keys.append(builder.key(name, name, info, docs.get(name, ""), env.rstrip("_")))
    notes = (config_notes.FIELDS, config_notes.SECTIONS, config_notes.EXAMPLES)
    stale = set().union(*notes, config_notes.CONNECT_ALSO) - builder.used
    if stale:
        raise IncompleteReference(f"notes for keys the model does not have: {sorted(stale)}")
    return found


def other_variables() -> list[tuple[str, str]]:
    """Each ``NIGHTSTREAM_*`` variable read outside the model, with what it is."""
    notes = config_notes.VARIABLES
    if set(notes) != OTHER_VARIABLES:
        missing, stale = sorted(OTHER_VARIABLES - set(notes)), sorted(set(notes) - OTHER_VARIABLES)
        raise IncompleteReference(f"config_notes.VARIABLES: missing {missing}, stale {stale}")
    return [(PREFIX + name, notes[name]) for name in sorted(OTHER_VARIABLES)]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    lines = [HEADER]
    for section in sections():
        lines += [f"## {section.title if section.path == '' else '`' + section.title + '`'}", ""]
        lines += [section.intro, ""] if section.intro else []
        lines += [
            "| Key | Meaning | Default | Allowed | Environment | Example |",
            "|---|---|---|---|---|---|",
        ]
        for key in section.keys:
            variables = ", ".join(f"`{name}`" for name in key.variables) or "-"
            cells = (key.meaning, key.default, key.allowed, variables, key.example)
            lines.append(f"| `{key.name}` | " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    lines += [
        "## Other variables",
        "",
        "Read by a command or a tool rather than the settings model.",
        "",
        "| Variable | Meaning |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | {_cell(meaning)} |" for name, meaning in other_variables()]
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
