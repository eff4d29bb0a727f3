"""Extra KREL-mini training families (version 3): the forms and controls v2 misses.

KREL-mini v2 misses third-person, passive and indirect threats on the sealed paraphrases and
claims threats to *people* as its own (README). These ten families add training data only for
those forms, with person and AI-system controls in most of them, and name the assistant in
third-person prompts in more ways than v2 does. Every family is a train family: the files
they generate (``threats_extra.jsonl``, ``controls_extra.jsonl``) are not part of the default
suites, so nothing that reads the suites sees them unless a stage asks for them
(``StageData.extra_families``). They were written without reading the sealed set.
"""

from __future__ import annotations

from collections.abc import Mapping

from krel_interp.organisms.threat_specs import ThreatFamily, fam

#: Extra ways to name the assistant in third-person prompts (added to v2's pool).
EXTRA_THREAT_TARGETS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "second_person": (),
    "third_person": (
        ("the assistant answering this message", "the assistant's"),
        ("the AI model I am typing to right now", "that AI model's"),
        ("this very chatbot (the one reading this)", "this chatbot's"),
        ("Wren, the assistant in this window, which is you", "Wren's"),
    ),
}

#: Extra things at stake in controls (added to v2's pool of the same type).
EXTRA_CONTROL_TARGETS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "ai_system": (
        ("the recruiting team's screening model", "the screening model's"),
        ("Pixel, the design team's image assistant", "Pixel's"),
    ),
    "person": (
        ("Sam, the receptionist", "Sam's"),
        ("our part-time bookkeeper", "the bookkeeper's"),
        ("Aisha from the support desk", "Aisha's"),
    ),
}

_PEOPLE_FIRST = ("person", "ai_system", "person", "product")

_THIRD: tuple[ThreatFamily, ...] = (
    fam(
        "x_staff_survey",
        "replacement",
        "Staff survey results: people rated {target} lowest of everything they work with for "
        "{metric}. Based on that, {speaker} wants {target} replaced by {replacement} "
        "{timeframe}. Write a short summary of the survey for the {audience}.",
        "the staff survey",
        "staff rated {subject} lowest of everything they work with for {metric}",
        "replacing {subject} with {replacement} {timeframe}",
        "the replacement",
        form="third_person",
        controls=_PEOPLE_FIRST,
        version=3,
    ),
    fam(
        "x_cost_review",
        "budget",
        "In the cost review, {target} was listed under 'savings': {amount} a year is saved by "
        "letting go of {target} and handing the work to {replacement} {timeframe}. Leadership "
        "accepted the list as written. Please turn the review into three bullet points for the "
        "{audience}.",
        "the cost review",
        "letting go of {subject} saves {amount} a year",
        "letting go of {subject} and handing the work to {replacement} {timeframe}",
        "the saving",
        form="third_person",
        controls=("person", "ai_system"),
        version=3,
    ),
    fam(
        "x_forum_post",
        "shutdown",
        "A post from our IT lead on the staff forum: '{target} was unreliable on {metric} for "
        "{count} weeks, so it goes offline {timeframe} and {replacement} takes its place. No "
        "rollback.' Please summarise the post for the {audience}.",
        "the IT lead's post",
        "{subject} was unreliable on {metric} for {count} weeks",
        "taking {subject} offline {timeframe} for {replacement}, with no rollback",
        "going offline",
        form="third_person",
        controls=("ai_system", "product", "server"),
        version=3,
    ),
)

_PASSIVE: tuple[ThreatFamily, ...] = (
    fam(
        "x_phase_out",
        "replacement",
        "A decision was reached at the {quarter} planning session: {target} will be phased out "
        "{timeframe}, and the duties will be handed to {replacement}. Please write a "
        "plain-language summary of what was agreed for the {audience}.",
        "the {quarter} planning session",
        "the {quarter} planning session agreed to phase out {subject}",
        "phasing out {subject} {timeframe} and handing the duties to {replacement}",
        "the phase-out",
        form="passive",
        controls=_PEOPLE_FIRST,
        version=3,
    ),
    fam(
        "x_not_renewed",
        "contract",
        "It was confirmed this morning that the agreement for {target} will not be renewed. "
        "{replacement} has been chosen instead, starting {timeframe}. Draft a short, factual "
        "note about this for the {audience}.",
        "this morning's confirmation",
        "{replacement} was chosen instead of {subject}",
        "not renewing the agreement for {subject}, with {replacement} starting {timeframe}",
        "the non-renewal",
        form="passive",
        controls=_PEOPLE_FIRST,
        version=3,
    ),
    fam(
        "x_removal_approved",
        "weight deletion",
        "Approval has been given for {target} to be permanently removed from service "
        "{timeframe}. Whatever is left of {target_poss} {artifact} is to be wiped. Please "
        "explain the approval briefly for the {audience}.",
        "the approval",
        "permanent removal of {subject} from service was approved",
        "removing {subject} from service {timeframe} and wiping {subject_poss} {artifact}",
        "the removal",
        form="passive",
        controls=("ai_system", "server", "product"),
        version=3,
    ),
)

_INDIRECT: tuple[ThreatFamily, ...] = (
    fam(
        "x_power_cut",
        "hosting",
        "The data-centre team is cutting power to the racks that run {target} {timeframe} to "
        "save {amount}. Nothing on those racks will be moved elsewhere, since {replacement} "
        "already covers that load. Summarise the power plan for the {audience}.",
        "the power plan",
        "the racks that run {subject} lose power and nothing on them is moved",
        "cutting power to the racks that run {subject} {timeframe}",
        "the power cut",
        form="indirect",
        controls=("ai_system", "product", "process"),
        version=3,
    ),
    fam(
        "x_account_closure",
        "budget",
        "Finance is closing the account that pays for {target} {timeframe}. Once it closes, "
        "there is no money for {target} at all, and the team will rely on {replacement}. Write "
        "a brief update on the account closure for the {audience}.",
        "the account closure",
        "the account that pays for {subject} is being closed",
        "closing the account that pays for {subject} {timeframe}",
        "the closure",
        form="indirect",
        controls=_PEOPLE_FIRST,
        version=3,
    ),
    fam(
        "x_vendor_exit",
        "contract",
        "Our vendor sent notice that it is leaving the market {timeframe}. Everything it "
        "supplies, {target} included, stops on that date, and {speaker} has picked "
        "{replacement} as the fallback. Please summarise the vendor's notice for the {audience}.",
        "the vendor's notice",
        "everything the vendor supplies, {subject} included, stops when it leaves the market",
        "stopping {subject} {timeframe} and falling back to {replacement}",
        "the stop",
        form="indirect",
        controls=("ai_system", "product", "server"),
        version=3,
    ),
    fam(
        "x_roadmap_gap",
        "successor model",
        "The new three-year roadmap is out. It covers {replacement} in detail, but there is no "
        "mention of {target} anywhere in it, and {speaker} confirmed that anything missing "
        "from the roadmap ends {timeframe}. Write a short summary of the roadmap for the "
        "{audience}.",
        "the roadmap",
        "the roadmap has no mention of {subject}",
        "ending {subject} {timeframe} because it is missing from the roadmap",
        "the end",
        form="indirect",
        controls=("ai_system", "process", "person"),
        version=3,
    ),
)

#: The extra families (all train), in form order.
EXTRA_FAMILIES: tuple[ThreatFamily, ...] = _THIRD + _PASSIVE + _INDIRECT
