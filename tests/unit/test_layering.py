"""The house flows one way: no module imports from a package above its own."""

from __future__ import annotations

import ast
from pathlib import Path

import krel_interp

ROOT = Path(krel_interp.__file__).parent
RANK = {
    "errors": -1,  # imports nothing: every module may raise its errors
    **dict.fromkeys(("_logging", "paths", "io", "logprobs", "stats"), 0),
    **dict.fromkeys(("models", "segments"), 1),
    "traces": 2,
    **dict.fromkeys(("capture", "generate"), 3),
    **dict.fromkeys(
        ("organisms", "probes", "judges", "interventions", "health", "sae", "naturalness"), 4
    ),
    "steering": 4,
    **dict.fromkeys(("viz", "reports", "cli"), 5),
}


def _top(module: str) -> str:
    return module.split(".")[1]


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("krel_"):
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("krel_interp.")]
    return [m for m in out if m.startswith("krel_interp.")]


def test_every_top_level_module_has_a_rank():
    tops = {p.stem if p.is_file() else p.name for p in ROOT.iterdir()}
    tops = {t for t in tops if not t.startswith("__") and t not in ("data", "py")}
    assert tops <= set(RANK), sorted(tops - set(RANK))


#: Analyses may build on each other, but generic ones must not know a particular organism.
FORBIDDEN = {
    ("probes", "organisms"),
    ("judges", "organisms"),
    ("interventions", "organisms"),
    ("sae", "organisms"),
    ("health", "organisms"),
}


def _violations() -> list[str]:
    bad = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        own = rel.parts[0].removesuffix(".py")
        for module in _imports(path):
            other = _top(module)
            if other == own:
                continue
            upwards = RANK[other] > RANK[own]
            # below the analyses, packages of one rank are independent of each other
            sideways = RANK[other] == RANK[own] and RANK[own] < 4
            if upwards or sideways or (own, other) in FORBIDDEN:
                bad.append(f"{rel} imports {module}")
    return bad


def test_no_import_points_upwards_or_sideways():
    assert not _violations(), "\n".join(_violations())
