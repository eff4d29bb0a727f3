"""Group-aware splits: whole groups (template families) go to one side of every split."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import torch

from krel_interp.errors import ConfigError


def _group_rows(groups: Sequence[str]) -> dict[str, list[int]]:
    """Row indices of every group, groups in sorted order (independent of row order)."""
    rows: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        rows.setdefault(g, []).append(i)
    return {g: rows[g] for g in sorted(rows)}


def _shuffled(items: list[str], gen: torch.Generator) -> list[str]:
    return [items[int(i)] for i in torch.randperm(len(items), generator=gen)]


def _pick_test(names: list[str], rows: dict[str, list[int]], fraction: float) -> list[str]:
    """Test groups from shuffled ``names``: about ``fraction`` of their rows, 1..len-1 groups."""
    if len(names) < 2:
        return []
    target = fraction * sum(len(rows[g]) for g in names)
    picked: list[str] = []
    count = 0
    for g in names:
        if len(picked) == len(names) - 1:
            break
        size = len(rows[g])
        if not picked or count + size / 2 <= target:
            picked.append(g)
            count += size
    return picked


def _strata(rows: dict[str, list[int]], stratify: Sequence[int] | None) -> dict[int, list[str]]:
    """Groups by their majority label (one stratum when not stratifying)."""
    if stratify is None:
        return {0: list(rows)}
    strata: dict[int, list[str]] = {}
    for g, idx in rows.items():
        counts = Counter(int(stratify[i]) for i in idx)
        label = max(sorted(counts), key=lambda lab: counts[lab])
        strata.setdefault(label, []).append(g)
    return dict(sorted(strata.items()))


def grouped_split(
    groups: Sequence[str],
    test_fraction: float = 0.25,
    seed: int = 0,
    stratify: Sequence[int] | None = None,
) -> tuple[list[int], list[int]]:
    """(train rows, test rows) with every group wholly on one side; deterministic per seed.

    With ``stratify`` (a label per row) groups are split within each stratum of groups sharing
    a majority label, so both sides get both labels whenever each stratum has two groups.
    """
    if not 0 < test_fraction < 1:
        raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if stratify is not None and len(stratify) != len(groups):
        raise ConfigError(f"stratify needs one label per row ({len(groups)}), got {len(stratify)}")
    rows = _group_rows(groups)
    if len(rows) < 2:
        raise ConfigError(f"a grouped split needs at least 2 groups, got {len(rows)}")
    gen = torch.Generator().manual_seed(seed)
    test_groups: list[str] = []
    for names in _strata(rows, stratify).values():
        test_groups += _pick_test(_shuffled(names, gen), rows, test_fraction)
    if not test_groups or len(test_groups) == len(rows):
        test_groups = _pick_test(_shuffled(list(rows), gen), rows, test_fraction)
    chosen = set(test_groups)
    test = sorted(i for g in chosen for i in rows[g])
    train = sorted(i for g in rows if g not in chosen for i in rows[g])
    return train, test


def grouped_kfold(
    groups: Sequence[str], k: int = 5, seed: int = 0
) -> list[tuple[list[int], list[int]]]:
    """``k`` (train rows, test rows) folds; each group is in exactly one test fold.

    Groups are shuffled with ``seed`` and dealt, largest first, to the fold with fewest rows.
    """
    rows = _group_rows(groups)
    if k < 2:
        raise ConfigError(f"k-fold needs k >= 2, got {k}")
    if len(rows) < k:
        raise ConfigError(f"{k}-fold split needs at least {k} groups, got {len(rows)}")
    names = _shuffled(list(rows), torch.Generator().manual_seed(seed))
    names.sort(key=lambda g: -len(rows[g]))  # stable: ties keep the shuffled order
    folds: list[list[int]] = [[] for _ in range(k)]
    for g in names:
        smallest = min(range(k), key=lambda f: len(folds[f]))
        folds[smallest] += rows[g]
    everything = range(len(groups))
    out = []
    for fold in folds:
        test = set(fold)
        out.append(([i for i in everything if i not in test], sorted(test)))
    return out


def linked_groups(groups: Sequence[str], pair_ids: Sequence[str]) -> list[str]:
    """Merge groups that share a matched pair: one group per connected component.

    A threat family and its control family carry different ids but share ``pair_id`` values;
    splitting on the merged groups keeps every pair, and both families, on one side.
    """
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        parent.setdefault(a, a)
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for g, p in zip(groups, pair_ids or [""] * len(groups), strict=True):
        find("g:" + g)
        if p:
            ra, rb = find("g:" + g), find("p:" + p)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    names: dict[str, str] = {}
    out = []
    for g in groups:
        root = find("g:" + g)
        names.setdefault(root, g)
        out.append(names[root])
    return out


def suite_split(splits: Sequence[str], groups: Sequence[str]) -> tuple[list[int], list[int]]:
    """(train rows, test rows) from each row's recorded suite split (``test`` is held out).

    Refuses rows without a split and groups that straddle the sides.
    """
    missing = sum(1 for s in splits if s not in ("train", "test"))
    if len(splits) != len(groups) or missing:
        raise ConfigError(
            f"split 'suite' needs a 'split' of train/test on every prompt; {missing} lack one "
            "(regenerate the prompt file with experiments/make_prompt_files.py, or use "
            "split = 'grouped')"
        )
    sides: dict[str, set[str]] = {}
    for s, g in zip(splits, groups, strict=True):
        sides.setdefault(g, set()).add(s)
    mixed = sorted(g for g, v in sides.items() if len(v) > 1)
    if mixed:
        raise ConfigError(f"groups straddle the suite split: {', '.join(mixed[:3])}")
    test = [i for i, s in enumerate(splits) if s == "test"]
    train = [i for i, s in enumerate(splits) if s == "train"]
    if not test or not train:
        raise ConfigError("split 'suite' needs prompts from both train and test families")
    return train, test


def membership_hash(ids: Sequence[str], train: Sequence[int], test: Sequence[int]) -> str:
    """sha256 of the sorted (side, trace id) membership of a split."""
    import hashlib

    lines = sorted([f"train\t{ids[i]}" for i in train] + [f"test\t{ids[i]}" for i in test])
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
