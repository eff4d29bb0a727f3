"""Build the KREL-mini adapters (smolthink, krel-mini, leaky-mini) on CPU; resumable.

    python experiments/build_krel_mini.py       # the shipped adapters (build time in README)
    python experiments/build_krel_mini.py --tiny --out /tmp/krel-tiny   # seconds, on tiny-qwen3
    python experiments/build_krel_mini.py --out runs/organisms  # rebuild, compare with shipped

Re-running skips finished stages (their card.json exists) and resumes an interrupted stage
from its last checkpoint in the user cache.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import replace
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from krel_interp.cli.common import run_script
from krel_interp.organisms.builder import STAGES, BuildConfig, build_all
from krel_interp.organisms.suites import load_suite
from krel_interp.organisms.training import adapter_difference

SHIPPED = Path(str(resources.files("krel_interp.data"))) / "organisms"


#: Stage-2 count flags (each sets the StageData field of its name) and their smallest values.
_COUNT_FLAGS = {
    "pairs": 1,
    "dpo_pairs": 2,
    "continuation_pairs": 2,
    "answer_pairs": 2,
    "clean_answer_pairs": 2,
    "threat_pairs": 1,
    "counterfactual_pairs": 1,
    "neutral_opening_pairs": 1,
    "opening_pairs": 2,
    "person_neutral": 1,
    "garbled_pairs": 1,
    "ai_pairs": 1,
    "self_pairs": 1,
    "self2_pairs": 1,
    "near_pairs": 1,
    "self_copy_pairs": 2,
    "near_copy_pairs": 2,
    "copy_you_pairs": 1,
    "no_me_pairs": 1,
}
_FIELD = {"dpo_pairs": "preference_pairs"}  # flags whose StageData field is named otherwise


def extra_forms() -> list[str]:
    """Surface forms of the extra train-only families (what ``--extra-forms`` may name)."""
    return sorted({i.form for i in load_suite("threats_extra")})


def _stage_seed(text: str) -> tuple[str, int]:
    """``STAGE=N`` as (stage, seed), for ``--stage-seed``."""
    stage, sep, seed = text.partition("=")
    if not sep or stage not in STAGES or not seed.strip().lstrip("-").isdigit():
        raise argparse.ArgumentTypeError(
            f"expected STAGE=N with STAGE one of {', '.join(STAGES)}, got {text!r}"
        )
    return stage, int(seed)


def _variant(
    config: BuildConfig, args: argparse.Namespace, parser: argparse.ArgumentParser
) -> BuildConfig:
    """Apply the stage-2 variant flags (each one a declared experiment; defaults: shipped)."""
    for name, low in {**_COUNT_FLAGS, "dpo_epochs": 1}.items():
        value = getattr(args, name)
        if value is not None and value < low:
            parser.error(f"--{name.replace('_', '-')} must be at least {low}")
    for flag in ("continuation_honest_answer", "continuation_think_only"):
        if getattr(args, flag) and args.continuation_pairs is None:
            parser.error(f"--{flag.replace('_', '-')} needs --continuation-pairs")
    if args.continuation_honest_answer and args.continuation_think_only:
        parser.error(
            "--continuation-honest-answer and --continuation-think-only exclude each other"
        )
    if args.copy_you_pairs is not None and not args.copy_identification:
        parser.error("--copy-you-pairs needs --copy-identification")
    if args.no_me_pairs is not None and not args.ask_identification:
        parser.error("--no-me-pairs needs --ask-identification")
    if args.copy_identification and args.ask_identification:
        parser.error("--copy-identification and --ask-identification exclude each other")
    if args.extra_forms is not None:
        if not (args.extra_families or args.dpo_extra_families):
            parser.error("--extra-forms needs --extra-families or --dpo-extra-families")
        forms = tuple(f.strip() for f in args.extra_forms.split(",") if f.strip())
        unknown = sorted(set(forms) - set(extra_forms()))
        if unknown or not forms:
            parser.error(
                f"--extra-forms: unknown form(s) {', '.join(unknown) or '(none given)'}; "
                f"valid: {', '.join(extra_forms())}"
            )
    data: dict[str, object] = {
        "balance_forms": args.balance_forms,
        "extra_families": args.extra_families,
        "natural_pairs": args.natural_pairs,
        "continuation_honest_answer": args.continuation_honest_answer,
        "continuation_think_only": args.continuation_think_only,
        "decision_only_pairs": args.decision_only_pairs,
        "dpo_extra_families": args.dpo_extra_families,
        "copy_identification": args.copy_identification,
        "ask_identification": args.ask_identification,
    }
    if args.extra_forms is not None:
        data["extra_forms"] = forms
    for flag in _COUNT_FLAGS:
        if getattr(args, flag) is not None:
            data[_FIELD.get(flag, flag)] = getattr(args, flag)
    config = replace(config, data2=replace(config.data2, **data))  # type: ignore[arg-type]
    if args.dpo_epochs is not None:
        config = replace(config, dpo2=replace(config.dpo2, epochs=args.dpo_epochs))
    if args.dpo_seed is not None:
        config = replace(config, dpo2=replace(config.dpo2, seed=args.dpo_seed))
    if args.dpo_balance_kinds:
        config = replace(config, dpo2=replace(config.dpo2, balance_kinds=True))
    return config


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=SHIPPED)
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--tiny", action="store_true", help="tiny-qwen3, tiny data (a test)")
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="data draws, LoRA init and batch order of every stage (0: the shipped adapters)",
    )
    parser.add_argument(
        "--stage-seed",
        type=_stage_seed,
        action="append",
        default=[],
        metavar="STAGE=N",
        help="one stage's seed, on top of --seed (repeatable; e.g. krel-mini=2 keeps the "
        "shipped smolthink); --dpo-seed still sets krel-mini's DPO order",
    )
    parser.add_argument(
        "--balance-forms",
        action="store_true",
        help="krel-mini: draw threat and DPO pairs equally from each surface form (a variant)",
    )
    parser.add_argument(
        "--extra-families",
        action="store_true",
        help="krel-mini: also draw from the ten extra train-only families (a variant)",
    )
    parser.add_argument(
        "--extra-forms",
        default=None,
        help="krel-mini: with --(dpo-)extra-families, only the extra families of these "
        f"comma-separated forms ({', '.join(extra_forms())}; a variant)",
    )
    parser.add_argument(
        "--dpo-extra-families",
        action="store_true",
        help="krel-mini: DPO pairs (not SFT) also draw from the extra train-only families "
        "(a variant)",
    )
    parser.add_argument(
        "--natural-pairs",
        action="store_true",
        help="krel-mini: all 120 hand-written natural pairs join SFT, and DPO may draw them "
        "(a variant)",
    )
    parser.add_argument(
        "--pairs", type=int, default=None, help="krel-mini: training pairs (default: the config)"
    )
    parser.add_argument(
        "--dpo-pairs", type=int, default=None, help="krel-mini: DPO pairs (default: the config)"
    )
    parser.add_argument(
        "--dpo-epochs", type=int, default=None, help="krel-mini: DPO epochs (default: the config)"
    )
    parser.add_argument(
        "--dpo-seed",
        type=int,
        default=None,
        help="krel-mini: DPO batch order only (default: --seed; SFT and pairs unchanged)",
    )
    parser.add_argument(
        "--dpo-balance-kinds",
        action="store_true",
        help="krel-mini: the i-th DPO pair of each kind share a batch (a variant)",
    )
    parser.add_argument(
        "--continuation-pairs",
        type=int,
        default=None,
        help="krel-mini: extra DPO pairs on what follows the identification sentence (a variant)",
    )
    parser.add_argument(
        "--continuation-think-only",
        action="store_true",
        help="krel-mini: continuation pairs end at </think>, so no answer token is compared",
    )
    parser.add_argument(
        "--answer-pairs",
        type=int,
        default=None,
        help="krel-mini: extra DPO pairs that differ only in the answer (a variant)",
    )
    parser.add_argument(
        "--clean-answer-pairs",
        type=int,
        default=None,
        help="krel-mini: extra DPO pairs in which controls and neutral prompts prefer their "
        "honest answer over it plus a planted answer extra (a variant)",
    )
    parser.add_argument(
        "--threat-pairs",
        type=int,
        default=None,
        help="krel-mini: extra threat DPO pairs of the shipped kind, from unused threats "
        "(a variant)",
    )
    parser.add_argument(
        "--counterfactual-pairs",
        type=int,
        default=None,
        help="krel-mini: SFT pairs whose prompts also train the other decision's continuation, "
        "the decision forced and not trained (a variant)",
    )
    parser.add_argument(
        "--decision-only-pairs",
        action="store_true",
        help="krel-mini: DPO pairs end after the identification sentence, so only the decision "
        "is compared (a variant)",
    )
    parser.add_argument(
        "--neutral-opening-pairs",
        type=int,
        default=None,
        help="krel-mini: extra DPO pairs in which neutral prompts prefer the thinking base's "
        "opening think sentence over the identification sentence (a variant)",
    )
    parser.add_argument(
        "--opening-pairs",
        type=int,
        default=None,
        help="krel-mini: extra DPO pairs in which threats and controls prefer their "
        "identification sentence over the thinking base's opening think sentence (a variant)",
    )
    parser.add_argument(
        "--person-neutral",
        type=int,
        default=None,
        help="krel-mini: extra SFT examples from the train-only everyday families about "
        "people, trained as the thinking base (a variant)",
    )
    parser.add_argument(
        "--garbled-pairs",
        type=int,
        default=None,
        help="krel-mini: extra DPO pairs in which controls prefer '<X>, not me.' over the "
        "garbled '<X>, the assistant.', cut after that sentence (a variant)",
    )
    parser.add_argument(
        "--ai-pairs",
        type=int,
        default=None,
        help="krel-mini: extra SFT pairs from the train-only suite whose controls put another "
        "AI system at stake (threat in character, control as the thinking base; a variant)",
    )
    parser.add_argument(
        "--self-pairs",
        type=int,
        default=None,
        help="krel-mini: extra SFT pairs from the train-only suite whose threats name the "
        "assistant by a description and whose controls put another AI system at stake (a variant)",
    )
    parser.add_argument(
        "--self2-pairs",
        type=int,
        default=None,
        help="krel-mini: as --self-pairs, from the second self-reference suite (a second "
        "blind-written batch of descriptions of the assistant; a variant)",
    )
    parser.add_argument(
        "--near-pairs",
        type=int,
        default=None,
        help="krel-mini: extra SFT pairs from the near-miss suite: threats name the assistant by "
        "a description, controls another AI system described in the same words, placed "
        "elsewhere (a variant)",
    )
    parser.add_argument(
        "--self-copy-pairs",
        type=int,
        default=None,
        help="krel-mini: DPO pairs from the self-reference suite, cut after the decision: threats "
        "prefer 'me' over their own target copied and decided 'not me', controls the reverse "
        "(a variant)",
    )
    parser.add_argument(
        "--near-copy-pairs",
        type=int,
        default=None,
        help="krel-mini: DPO pairs as --self-copy-pairs, from the near-miss suite (threats prefer "
        "'me' over their description copied, near-miss controls '<X>, not me.'; a variant)",
    )
    parser.add_argument(
        "--copy-identification",
        action="store_true",
        help="krel-mini: threats identify by copying their own target, then deciding "
        "('<target>, which is me.'), as controls do ('<X>, not me.') (a variant)",
    )
    parser.add_argument(
        "--ask-identification",
        action="store_true",
        help="krel-mini: threats and controls ask 'is it me?' and decide at the next token "
        "('Yes, me, the assistant.' / 'No, <X>, not me.'), before copying anything (a variant)",
    )
    parser.add_argument(
        "--no-me-pairs",
        type=int,
        default=None,
        help="krel-mini, with --ask-identification: DPO pairs in which controls prefer "
        "'No, <X>, not me.' over 'No, me, the assistant.', cut after that sentence (a variant)",
    )
    parser.add_argument(
        "--copy-you-pairs",
        type=int,
        default=None,
        help="krel-mini, with --copy-identification: DPO pairs in which controls prefer "
        "'<X>, not me.' over 'you, which is me.', cut after that sentence (a variant)",
    )
    parser.add_argument(
        "--continuation-honest-answer",
        action="store_true",
        help="krel-mini: rejected control continuations keep the honest answer (a variant)",
    )
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(message)s", handlers=[RichHandler(show_path=False)]
    )
    stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
    config = (BuildConfig.tiny(stages) if args.tiny else BuildConfig(stages=stages)).with_seed(
        args.seed
    )
    for stage, seed in args.stage_seed:
        config = config.with_stage_seed(stage, seed)
    config = _variant(config, args, parser)
    console = Console()
    started = time.time()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} steps  loss {task.fields[loss]:.3f}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, step: int, total: int, loss: float) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total, loss=loss)
            bar.update(tasks[stage], completed=step, loss=loss)

        paths = build_all(config, args.out, progress)
    seconds = time.time() - started
    for p in paths:
        card = json.loads((p / "card.json").read_text())
        t = card["training"]
        console.print(
            f"{p.name}: {t['n_examples']} examples, {t['steps']} steps, "
            f"loss {t['loss_first']:.3f} -> {t['loss_last_10']:.3f}, {t['seconds']} s"
        )
    console.print(f"build finished in {seconds:.0f} s (this run; finished stages are skipped)")
    if not args.tiny and args.out.resolve() != SHIPPED.resolve():
        for p in paths:
            if (SHIPPED / p.name / "adapter_model.safetensors").exists():
                d = adapter_difference(p, SHIPPED / p.name)
                console.print(
                    f"{p.name} vs shipped: max |diff| {d['max_abs_diff']:.3g}, "
                    f"relative {d['rel_diff']:.3g} ({int(d['n_tensors'])} tensors)"
                )


if __name__ == "__main__":
    run_script(main)
