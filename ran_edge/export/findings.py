"""Check findings and results, shared by the structure, parity, TensorRT-lint and FP16 checks (torch-free)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ran_edge.errors import RanEdgeError


class Severity(str, enum.Enum):
    ERROR = "error"      # the artifact must not ship / the build must not start
    WARNING = "warning"  # works, but the user should know


@dataclass(frozen=True)
class Finding:
    """One problem: which check found it, where (node name, or "" for the graph), what and how to fix it."""

    check: str
    severity: Severity
    message: str
    node: str = ""
    op_type: str = ""

    def __str__(self) -> str:
        where = f"node '{self.node}' ({self.op_type}): " if self.node else ""
        return f"[{self.check}] {where}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "severity": self.severity.value, "node": self.node,
                "op_type": self.op_type, "message": self.message}


@dataclass(frozen=True)
class CheckResult:
    """Findings plus measured figures (``parity`` etc.) of a set of checks."""

    findings: tuple[Finding, ...] = ()
    figures: Mapping[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if self.ok:
            return f"ok ({len(self.findings)} warnings)"
        first = self.errors[0]
        more = f" (+{len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        return f"{first}{more}"

    def merged(self, other: "CheckResult") -> "CheckResult":
        return CheckResult(self.findings + other.findings, {**self.figures, **other.figures})

    def raise_if_failed(self, what: str) -> None:
        """Raise a one-line :class:`RanEdgeError` naming the first error."""
        if not self.ok:
            raise RanEdgeError(f"{what} failed its checks: {self.summary()}")

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.figures)
        out["findings"] = [f.to_dict() for f in self.findings]
        out["ok"] = self.ok
        return out


def result_of(findings: Sequence[Finding], **figures: Any) -> CheckResult:
    return CheckResult(tuple(findings), figures)
