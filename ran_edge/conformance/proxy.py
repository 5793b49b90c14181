"""Recording proxies typed by the real TensorRT classes of one version.

:func:`install` puts a stand-in ``tensorrt`` module into ``sys.modules``. Every name read from it is
checked against the real module; classes come back as proxy classes whose instances check each
attribute read, attribute write, method call (arity and keyword names against every pybind11
overload) and special method (``len``, ``iter``, ``with``, ``bytes``) against the real class's
:class:`~ran_edge.conformance.apimodel.ClassModel`. A call returns a value of its declared return
type: a proxy of the declared class, the real enum member, or a scenario's scripted value (checked to
be an instance of the declared real class). Nothing runs TensorRT: the walk proves names and
arities, not behaviour.

A name that does not exist raises :class:`MissingName` (an ``AttributeError``, as the real module
would) and is recorded as pending; it becomes a violation only if the error escapes the scenario
(a guarded probe such as ``getattr(builder, "platform_has_fast_fp16", None)`` is legitimate).
A wrong arity, an unknown keyword, an enum member or TensorRT object of the wrong class or a write to a read-only or unknown
property is a violation at once.
"""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from ran_edge.conformance.apimodel import ApiModel, ClassModel, MemberKind, Signature

_HERE = str(Path(__file__).resolve().parent)
NOTSET = object()

#: A scenario's scripted return values: ``(class name, member, args, kwargs) -> value or NOTSET``.
Script = Callable[[str, str, Tuple[Any, ...], Dict[str, Any]], Any]


@dataclass(frozen=True)
class Violation:
    """A name or call that the real API of ``version`` does not have, and where our code made it."""

    version: str
    file: str
    line: int
    name: str
    problem: str
    scenario: str = ""

    def text(self) -> str:
        return f"{self.file}:{self.line}: TensorRT {self.version}: {self.name}: {self.problem}" + \
               (f" [{self.scenario}]" if self.scenario else "")


class MissingName(AttributeError):
    """A name the real TensorRT module/class does not have (see module docstring)."""

    def __init__(self, violation: Violation):
        super().__init__(f"{violation.name}: {violation.problem} (TensorRT {violation.version})")
        self.violation = violation
        self.origin = "?"


class ArityError(TypeError):
    """A call that matches no overload of the real method."""


def call_site() -> Tuple[str, int]:
    """File and line of the innermost frame outside this package (the code that touched TensorRT)."""
    for frame in reversed(traceback.extract_stack()[:-1]):
        if not frame.filename.startswith(_HERE):
            return frame.filename, frame.lineno or 0
    return "?", 0


def _origin() -> str:
    """Top-level package of the innermost caller outside this package ("ran_edge", "polygraphy", ...)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_HERE):
        frame = frame.f_back
    if frame is None:
        return "?"
    name = frame.f_globals.get("__name__", "?")
    return name.split(".")[0]


class Recorder:
    """Violations, pending misses and every TensorRT name touched, for one version."""

    def __init__(self, model: ApiModel, real: ModuleType, script: Optional[Script] = None):
        self.model, self.real, self.script = model, real, script
        self.scenario = ""
        self.violations: List[Violation] = []
        self.pending: List[MissingName] = []
        self.probes: Dict[str, Set[str]] = {}  # origin -> names probed, absent and handled
        self.touched: Dict[str, Set[str]] = {}  # origin ("ran_edge", "polygraphy", ...) -> names
        self.errors: List[str] = []
        self._proxies: Dict[str, type] = {}

    def touch(self, name: str) -> None:
        """Note that ``name`` was used, under the package of the code that used it."""
        self.touched.setdefault(_origin(), set()).add(name)

    def violation(self, name: str, problem: str) -> Violation:
        file, line = call_site()
        return Violation(self.model.version, file, line, name, problem, self.scenario)

    def fail(self, name: str, problem: str, exc_type: type = ArityError) -> None:
        v = self.violation(name, problem)
        self.violations.append(v)
        raise exc_type(f"{name}: {problem} (TensorRT {v.version})")

    def miss(self, name: str, problem: str) -> MissingName:
        exc = MissingName(self.violation(name, problem))
        exc.origin = _origin()
        self.pending.append(exc)
        return exc

    def settle(self, error: Optional[BaseException]) -> None:
        """End of a scenario: a pending miss in ``error``'s chain is a violation, the rest were guarded probes."""
        chain: List[int] = []
        while error is not None:
            chain.append(id(error))
            error = error.__cause__ or error.__context__
        for exc in self.pending:
            if id(exc) in chain:
                self.violations.append(exc.violation)
            else:
                self.probes.setdefault(exc.origin, set()).add(exc.violation.name)
        self.pending.clear()

    # values ---------------------------------------------------------------------------------------
    def proxy_class(self, name: str) -> type:
        if name not in self._proxies:
            cm = self.model.classes[name]
            real = _real_class(self.real, name)
            bases = (InstanceProxy, bytes) if cm.buffer else (InstanceProxy,)
            self._proxies[name] = ProxyMeta(name, bases, {"_cx_model": cm, "_cx_real": real, "_cx_rec": self,
                                                            "__module__": "tensorrt"})
        return self._proxies[name]

    def value_of(self, type_text: str) -> Any:
        """A value of a declared return type (see module docstring)."""
        t = type_text.strip()
        cls = self.model.return_class(t)
        if cls is not None:
            cm = self.model.classes[cls]
            if cm.is_enum:
                return next(iter(_real_class(self.real, cls).__members__.values()))
            return new_instance(self.proxy_class(cls))
        if t.startswith("List[") or t.startswith("Tuple["):
            inner = t[t.index("[") + 1:-1].split(",")[0]
            return [self.value_of(inner)]
        return {"int": 1, "bool": True, "str": "t", "float": 1.0, "None": None, "buffer": b""}.get(t)

    def returned(self, cls: str, member: str, declared: str, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        value = self.script(cls, member, args, kwargs) if self.script else NOTSET
        if value is NOTSET:
            return self.value_of(declared)
        want = self.model.return_class(declared)
        if want and not isinstance(value, (self.proxy_class(want), _real_class(self.real, want))) and value is not None:
            raise TypeError(f"scenario script for {cls}.{member} returned {type(value).__name__}, declared {declared}")
        return value

    def check_args(self, qual: str, overloads: Tuple[Signature, ...], args: Tuple[Any, ...],
                   kwargs: Dict[str, Any]) -> Signature:
        """The first overload these arguments bind to; a violation (and TypeError) when none does."""
        ok = [s for s in overloads if s.accepts(len(args), tuple(kwargs))]
        if not ok:
            shown = " | ".join(s.text() for s in overloads)
            self.fail(qual, f"called with {len(args)} positional argument(s)"
                            f"{' and ' + ', '.join(kwargs) if kwargs else ''}; the real overloads are {shown}")
        for sig in ok:
            if all(_arg_fits(self, p.type, a) for p, a in zip(sig.params, args)):
                return sig
        self.fail(qual, "an argument of the wrong TensorRT type: " +
                  ", ".join(f"{type(a).__name__} for {p.name}: {p.type}" for p, a in zip(ok[0].params, args)
                            if not _arg_fits(self, p.type, a)))
        return ok[0]


def _real_class(real: ModuleType, name: str) -> type:
    if hasattr(real, name):
        return getattr(real, name)
    for obj in vars(real).values():  # nested, e.g. Logger.Severity
        if isinstance(obj, type) and isinstance(getattr(obj, name, None), type):
            return getattr(obj, name)
    raise KeyError(name)


def _arg_fits(rec: Recorder, param_type: str, arg: Any) -> bool:
    """An enum member of another enum, or a proxy of an unrelated class, does not fit a parameter of a real class."""
    cm = rec.model.classes.get(param_type)
    if cm is None:
        return True
    if isinstance(arg, InstanceProxy):
        mine = type(arg)._cx_model
        return param_type == mine.name or param_type in mine.bases
    if cm.is_enum and hasattr(type(arg), "__members__"):
        return type(arg).__name__ == param_type
    return True


def new_instance(cls: type) -> "InstanceProxy":
    obj = bytes.__new__(cls, b"ran-edge-conformance") if issubclass(cls, bytes) else object.__new__(cls)
    object.__setattr__(obj, "_cx_values", {})
    return obj


class ProxyMeta(type):
    """Metaclass of the proxy classes: class-level names, construction, isinstance."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("_cx_"):
            raise AttributeError(name)
        cm: ClassModel = cls._cx_model
        rec: Recorder = cls._cx_rec
        if name.startswith("__"):
            return getattr(cls._cx_real, name)
        member = cm.members.get(name)
        if member is None:
            raise rec.miss(f"{cm.name}.{name}", f"no such attribute on class {cm.name}")
        rec.touch(f"{cm.name}.{name}")
        if member.kind in (MemberKind.ENUM_MEMBER, MemberKind.OTHER, MemberKind.PROPERTY):
            return getattr(cls._cx_real, name)
        if member.kind is MemberKind.CLASS:
            return rec.proxy_class(member.returns) if member.returns in rec.model.classes else getattr(cls._cx_real, name)
        return _Method(rec, cm.name, name, None)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        cm: ClassModel = cls._cx_model
        if cm.is_enum:
            return cls._cx_real(*args, **kwargs)
        if "_cx_model" not in vars(cls):  # a subclass written in Python (a logger, a calibrator): its own __init__
            obj = new_instance(cls)
            cls.__init__(obj, *args, **kwargs)
            return obj
        init = cm.members.get("__init__")
        cls._cx_rec.touch(f"{cm.name}.__init__")
        if init is not None:
            cls._cx_rec.check_args(f"{cm.name}.__init__", init.overloads, args, kwargs)
        return new_instance(cls)

    def __instancecheck__(cls, obj: Any) -> bool:
        real = vars(cls).get("_cx_real")
        if isinstance(obj, InstanceProxy):
            mine = type(obj)._cx_model
            return cls._cx_model.name == mine.name or cls._cx_model.name in mine.bases
        return real is not None and isinstance(obj, real)


class _Method:
    """A bound (or class-level) method of a real class: checks the call, returns a typed value."""

    def __init__(self, rec: Recorder, cls: str, name: str, owner: Optional["InstanceProxy"]):
        self.rec, self.cls, self.name, self.owner = rec, cls, name, owner

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        member = self.rec.model.classes[self.cls].members[self.name]
        if self.owner is None and args and isinstance(args[0], InstanceProxy):
            args = args[1:]  # Class.method(instance, ...)
        sig = self.rec.check_args(f"{self.cls}.{self.name}", member.overloads, args, kwargs)
        return self.rec.returned(self.cls, self.name, sig.returns, args, kwargs)


class InstanceProxy:
    """An object of a real TensorRT class (see module docstring)."""

    _cx_model: ClassModel
    _cx_rec: Recorder

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # a Python subclass calling Base.__init__(self)
        cls = type(self)
        base = next(c for c in cls.__mro__ if "_cx_model" in vars(c))
        init = base._cx_model.members.get("__init__")
        if init is not None:
            self._cx_rec.check_args(f"{base._cx_model.name}.__init__", init.overloads, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_cx_"):
            raise AttributeError(name)
        cm, rec = self._cx_model, self._cx_rec
        member = cm.members.get(name)
        if member is None:
            raise rec.miss(f"{cm.name}.{name}", f"no such attribute on {cm.name}")
        rec.touch(f"{cm.name}.{name}")
        if member.kind is MemberKind.METHOD:
            return _Method(rec, cm.name, name, self)
        if member.kind is MemberKind.PROPERTY:
            values = object.__getattribute__(self, "_cx_values")
            if name in values:
                return values[name]
            return rec.returned(cm.name, name, member.returns, (), {})
        return getattr(self._cx_real, name)

    def __setattr__(self, name: str, value: Any) -> None:
        cm, rec = self._cx_model, self._cx_rec
        member = cm.members.get(name)
        if member is None and "_cx_model" not in vars(type(self)):
            object.__setattr__(self, name, value)  # an attribute of a Python subclass
            return
        rec.touch(f"{cm.name}.{name}")
        if member is None:
            raise rec.miss(f"{cm.name}.{name}", f"no such property on {cm.name} (cannot be set)")
        if member.kind is not MemberKind.PROPERTY or not member.settable:
            rec.fail(f"{cm.name}.{name}", f"is a read-only {member.kind.value} on {cm.name}", AttributeError)
        object.__getattribute__(self, "_cx_values")[name] = value

    def _cx_special(self, name: str) -> Any:
        cm = self._cx_model
        self._cx_rec.touch(f"{cm.name}.{name}")
        if name not in cm.members:
            self._cx_rec.fail(f"{cm.name}.{name}", f"{cm.name} does not support {name}", TypeError)
        return cm.members[name]

    def __bool__(self) -> bool:
        return True

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: Any) -> bool:
        return self is other

    def __len__(self) -> int:
        self._cx_special("__len__")
        return 1

    def __getitem__(self, key: Any) -> Any:
        member = self._cx_special("__getitem__")
        return self._cx_rec.value_of(member.overloads[0].returns)

    def __iter__(self) -> Any:
        if "__iter__" not in self._cx_model.members:
            self._cx_special("__getitem__")
        return iter([self[0]])

    def __enter__(self) -> Any:
        self._cx_special("__enter__")
        return self

    def __exit__(self, *exc: Any) -> None:
        self._cx_special("__exit__")

    def __repr__(self) -> str:
        return f"<conformance proxy of tensorrt.{self._cx_model.name}>"


class TrtModuleProxy(ModuleType):
    """The stand-in ``tensorrt`` module (see module docstring)."""

    def __init__(self, rec: Recorder):
        super().__init__("tensorrt")
        object.__setattr__(self, "_cx_rec", rec)
        self.__version__ = rec.real.__version__

    def __getattr__(self, name: str) -> Any:
        rec: Recorder = object.__getattribute__(self, "_cx_rec")
        if name.startswith("__"):
            return getattr(rec.real, name)
        if name not in rec.model.names:
            raise rec.miss(f"tensorrt.{name}", "not in the tensorrt module")
        rec.touch(f"tensorrt.{name}")
        if name in rec.model.classes and isinstance(getattr(rec.real, name), type):
            return rec.proxy_class(name)
        if name in rec.model.functions and type(getattr(rec.real, name)).__name__ == "builtin_function_or_method":
            return _Function(rec, name)
        return getattr(rec.real, name)  # enum values (float32), Python helpers (nptype)


class _Function:
    def __init__(self, rec: Recorder, name: str):
        self.rec, self.name = rec, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        sig = self.rec.check_args(f"tensorrt.{self.name}", self.rec.model.functions[self.name], args, kwargs)
        return self.rec.returned("tensorrt", self.name, sig.returns, args, kwargs)


def install(rec: Recorder) -> TrtModuleProxy:
    """Make ``import tensorrt`` return the checking stand-in module for ``rec``'s version."""
    module = TrtModuleProxy(rec)
    sys.modules["tensorrt"] = module
    return module
