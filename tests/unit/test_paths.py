"""Portable path display for artifacts and summaries."""

from __future__ import annotations

from krel_interp.paths import relative_path


def test_relative_path_inside_and_outside_root(tmp_path):
    inside = tmp_path / "a" / "b.jsonl"
    assert relative_path(inside, tmp_path) == "a/b.jsonl"
    assert relative_path(tmp_path / "x.json", tmp_path / "a") == "x.json"  # outside: name only
