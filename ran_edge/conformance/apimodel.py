"""The API model of one imported TensorRT Python module, read from the module itself.

Every class of the real ``tensorrt`` bindings is described by what pybind11 exposes: its members
(``dir()``), which of them are methods (with every overload's parameters and return type parsed
from the ``__doc__`` signature line pybind11 writes, ``name(self: tensorrt.X, a: int = 0) -> tensorrt.Y``),
properties (getter return type, whether a setter exists), enum members and nested classes.
Nothing here is a hand-written list of TensorRT names: a rename in a new release shows up by itself.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import Dict, List, Optional, Tuple

_MODULE_PREFIX = re.compile(r"\b(?:tensorrt_bindings|tensorrt_rtx|tensorrt)(?:\.tensorrt)?\.")


class MemberKind(str, enum.Enum):
    """What a class member is."""

    METHOD = "method"
    PROPERTY = "property"
    ENUM_MEMBER = "enum member"
    CLASS = "class"
    OTHER = "other"


@dataclass(frozen=True)
class Param:
    """One parameter of a pybind11 signature."""

    name: str
    type: str
    has_default: bool = False
    variadic: bool = False  # *args / **kwargs


@dataclass(frozen=True)
class Signature:
    """One overload: parameters after ``self`` and the return type (a type string, module prefix removed)."""

    params: Tuple[Param, ...]
    returns: str

    def accepts(self, nargs: int, kwargs: Tuple[str, ...]) -> bool:
        """True if ``nargs`` positional arguments and these keyword names bind to this overload."""
        if any(p.variadic for p in self.params):
            return True
        if nargs > len(self.params):
            return False
        rest = self.params[nargs:]
        names = {p.name for p in rest}
        if any(k not in names for k in kwargs):
            return False
        return all(p.has_default or p.name in kwargs for p in rest)

    def text(self) -> str:
        return "(" + ", ".join(p.name for p in self.params) + ") -> " + self.returns


@dataclass(frozen=True)
class Member:
    """A class member: kind, overloads (methods), getter type and setter (properties)."""

    name: str
    kind: MemberKind
    overloads: Tuple[Signature, ...] = ()
    returns: str = ""
    settable: bool = False


@dataclass
class ClassModel:
    """One class of the module."""

    name: str
    members: Dict[str, Member] = field(default_factory=dict)
    is_enum: bool = False
    buffer: bool = False  # exposes the Python buffer protocol (e.g. IHostMemory)
    bases: Tuple[str, ...] = ()


def _split_top(text: str) -> List[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def clean_type(text: str) -> str:
    """``tensorrt_bindings.tensorrt.Dims`` → ``Dims``; ``List[tensorrt.Dims]`` → ``List[Dims]``."""
    return _MODULE_PREFIX.sub("", text.strip())


def parse_signature_line(line: str, name: str) -> Optional[Tuple[bool, Signature]]:
    """Parse ``name(self: X, a: int = 0) -> Y`` → ``(has_self, Signature)``; None if not a signature of ``name``."""
    m = re.match(r"^\s*(?:\d+\.\s*)?" + re.escape(name) + r"\((.*)\)\s*->\s*(.+?)\s*$", line)
    if not m:
        return None
    params, has_self = [], False
    for i, raw in enumerate(_split_top(m.group(1))):
        if raw.startswith("*"):
            params.append(Param(raw.lstrip("*").split(":")[0].strip(), "", variadic=True))
            continue
        pname, _, rest = raw.partition(":")
        ptype, eq, _ = rest.partition("=")
        if i == 0 and pname.strip() == "self":
            has_self = True
            continue
        params.append(Param(pname.strip(), clean_type(ptype), has_default=bool(eq)))
    return has_self, Signature(tuple(params), clean_type(m.group(2)))


def method_overloads(func: object, name: str) -> Tuple[Signature, ...]:
    """Every overload of a pybind11 function, from its ``__doc__`` (``*args, **kwargs`` when unparseable)."""
    doc = getattr(func, "__doc__", None) or ""
    sigs = []
    for line in doc.splitlines():
        parsed = parse_signature_line(line, name)
        if parsed and not (len(parsed[1].params) == 2 and all(p.variadic for p in parsed[1].params)
                           and "Overloaded" in doc):
            sigs.append(parsed[1])
    if not sigs:  # a plain Python function or an undocumented builtin: accept anything
        sigs.append(Signature((Param("args", "", variadic=True),), ""))
    return tuple(sigs)


def _property_member(name: str, prop: property) -> Member:
    doc = (prop.fget.__doc__ if prop.fget is not None else "") or ""
    m = re.search(r"\)\s*->\s*(.+?)\s*$", doc.splitlines()[0] if doc.strip() else "")
    return Member(name, MemberKind.PROPERTY, returns=clean_type(m.group(1)) if m else "", settable=prop.fset is not None)


def _lookup(cls: type, name: str) -> object:
    for klass in cls.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    return getattr(cls, name)


def class_model(cls: type) -> ClassModel:
    """Describe one class (its MRO included) from ``dir()``, ``__doc__`` and its descriptors."""
    is_enum = hasattr(cls, "__members__")
    model = ClassModel(cls.__name__, is_enum=is_enum, buffer="buffer protocol" in (cls.__doc__ or ""),
                       bases=tuple(b.__name__ for b in cls.__mro__[1:] if b.__module__ and "tensorrt" in b.__module__))
    enum_names = set(getattr(cls, "__members__", {}) or {})
    for name in dir(cls):
        raw = _lookup(cls, name)
        if name in enum_names:
            kind = Member(name, MemberKind.ENUM_MEMBER, returns=cls.__name__)
        elif isinstance(raw, property):
            kind = _property_member(name, raw)
        elif isinstance(raw, type):
            kind = Member(name, MemberKind.CLASS, returns=raw.__name__)
        elif isinstance(raw, (staticmethod, classmethod)):
            kind = Member(name, MemberKind.METHOD, overloads=method_overloads(raw.__func__, name))
        elif callable(raw):
            kind = Member(name, MemberKind.METHOD, overloads=method_overloads(raw, name))
        else:
            kind = Member(name, MemberKind.OTHER, returns=type(raw).__name__)
        model.members[name] = kind
    return model


@dataclass
class ApiModel:
    """All classes and module-level names of one TensorRT version."""

    version: str
    classes: Dict[str, ClassModel]
    functions: Dict[str, Tuple[Signature, ...]]
    names: Tuple[str, ...]

    def return_class(self, type_text: str) -> Optional[str]:
        """The class name a return type string refers to (``Optional[X]`` → ``X``), if it is a module class."""
        m = re.fullmatch(r"(?:Optional\[)?(\w+)\]?", type_text.strip())
        return m.group(1) if m and m.group(1) in self.classes else None


def api_model(module: ModuleType) -> ApiModel:
    """The :class:`ApiModel` of an imported TensorRT module."""
    classes, functions = {}, {}
    for name in dir(module):
        obj = getattr(module, name)
        if isinstance(obj, type) and "tensorrt" in (obj.__module__ or ""):
            classes[name] = class_model(obj)
            for sub_name in dir(obj):  # nested classes such as Logger.Severity
                sub = getattr(obj, sub_name, None)
                if isinstance(sub, type) and sub.__name__ not in classes and "tensorrt" in (sub.__module__ or ""):
                    classes[sub.__name__] = class_model(sub)
        elif callable(obj) and not isinstance(obj, type):
            functions[name] = method_overloads(obj, name)
    return ApiModel(str(getattr(module, "__version__", "?")), classes, functions, tuple(dir(module)))
