"""Every ```python block of README.md and docs/*.md runs as written (issue 26: docs that run).

Convention (stated in README "Python API"): a snippet runs in a folder holding a model as ``model.pt`` (checkpoint),
``model.onnx`` (faces input) and ``model.regions.onnx`` (regions input), each ONNX with its sidecar; this test builds
them from a tiny random RAN. Each snippet runs in a fresh namespace and prints what it shows. A block that truly
needs a GPU or TensorRT is fenced ```python no-run and carries a ``# no-run: REASON`` comment; they are counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python([^\n]*)\n(.*?)^```", re.M | re.S)
REASON = re.compile(r"^\s*#\s*no-run:\s*\S", re.M)


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    info: str
    code: str

    @property
    def runs(self) -> bool:
        return "no-run" not in self.info.split()


def blocks_of(name: str, text: str) -> list[Block]:
    """The ```python blocks of one Markdown text, with the line each starts on."""
    return [Block(name, text[:m.start()].count("\n") + 1, m.group(1).strip(), m.group(2)) for m in FENCE.finditer(text)]


def missing_reasons(blocks: list[Block]) -> list[str]:
    """``doc:line`` of each no-run block without a ``# no-run: REASON`` line."""
    return [f"{b.doc}:{b.line}" for b in blocks if not b.runs and not REASON.search(b.code)]


BLOCKS = [b for doc in DOCS for b in blocks_of(doc.relative_to(ROOT).as_posix(), doc.read_text())]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from ran_edge.artifact import InputKind
    from ran_edge.export import export_onnx
    from ran_edge.model.checkpoint import save_checkpoint
    from tests.helpers import make_tiny_ran

    d = tmp_path_factory.mktemp("docs")
    model = make_tiny_ran()
    save_checkpoint(d / "model.pt", model)
    export_onnx(model, d / "model.onnx", check=False, checkpoint_path=d / "model.pt", log=lambda _: None)
    export_onnx(model, d / "model.regions.onnx", input_kind=InputKind.REGIONS, check=False, log=lambda _: None)
    return d


def test_the_docs_have_python_snippets():
    assert sum(b.runs for b in BLOCKS) >= 5, [(b.doc, b.line) for b in BLOCKS]


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.runs], ids=lambda b: f"{b.doc}:{b.line}")
def test_snippet_runs_as_written(block, workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("RAN_EDGE_CACHE_DIR", str(workdir / "build-cache"))  # load("model.pt") builds here, not in ~/.cache
    exec(compile(block.code, f"{block.doc}:{block.line}", "exec"), {"__name__": "__docs_snippet__"})
    assert capsys.readouterr().out.strip(), f"{block.doc}:{block.line} printed nothing; a snippet shows its result"


def test_no_run_blocks_are_few_and_say_why():
    no_run = [b for b in BLOCKS if not b.runs]
    missing = missing_reasons(BLOCKS)
    assert not missing, f"```python no-run blocks without a '# no-run: REASON' line: {missing}"
    assert len(no_run) <= sum(b.runs for b in BLOCKS) // 2, [f"{b.doc}:{b.line}" for b in no_run]


def test_the_extraction_tells_no_run_blocks_and_their_reasons():
    text = ("intro\n```python\nprint(1)\n```\n```python no-run\n# no-run: needs a GPU (TensorRT engine)\nx\n```\n"
            "```python no-run\nload('m.engine')\n```\n```bash\nls\n```\n")
    blocks = blocks_of("t.md", text)
    assert [(b.line, b.runs) for b in blocks] == [(2, True), (5, False), (9, False)]
    assert missing_reasons(blocks) == ["t.md:9"]
