"""The benchmarks an entry can belong to: split, protocol, tasks, and the metric fingerprint rules.

A benchmark pins what makes numbers comparable. An entry whose split, protocol or fingerprint
breaks its benchmark's rules fails validation; entries that pass but differ among themselves
(two pretrained classifiers, say) are shown in separate groups and never ranked together.

Fingerprint rules, per key of an evaluator result's ``fingerprint`` (``lpips_backbone``,
``lpips_linear``, ``classifier``, ``classifier_arch``, ``fid_features``, ...):

* ``"pretrained"``: a sha256 (never ``random``, never null);
* ``"any"``: whatever was recorded (groups still separate different values);
* anything else: exactly that value (a sha256, or an architecture name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from initbench.dataset.release import PAPER_TASKS, all_tasks
from initbench.errors import UsageError

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

#: The metric keys of evaluation protocol v1 (contract 6), plus ``cis`` for reported entries
#: whose publication does not say whether exp() was applied.
V1_METRICS: tuple[str, ...] = (
    "lpips_diversity", "is_exp", "is_kl", "is_exp_10split", "cis_exp", "cis_kl", "cis", "fid", "kid",
)

#: The metric keys of protocol paired-v1 besides ``lpips_diversity`` (``initbench.evaluation.paired.METRIC_KEYS``;
#: written out here so that the leaderboard does not import the evaluator; a test keeps the two equal).
_PAIRED_L1 = ("l1_gt_frame", "l1_gt_background", "l1_gt_objects")
_PAIRED_LPIPS = ("lpips_gt_frame", "lpips_gt_objects")
PAIRED_METRICS: tuple[str, ...] = (
    *_PAIRED_L1, *(k + "_best" for k in _PAIRED_L1), *_PAIRED_LPIPS, *(k + "_best" for k in _PAIRED_LPIPS),
    "l1_gt_car", "l1_gt_sign", "l1_gt_person", "domain_accuracy", "object_domain_accuracy",
    "l1_gt_frame_guided", "l1_gt_objects_guided", "lpips_gt_frame_guided",
)

#: Every metric an entry may hold, in table order.
METRICS: tuple[str, ...] = V1_METRICS + PAIRED_METRICS

#: Higher is better for the v1 metrics but FID and KID, and for the paired domain accuracies; every
#: paired error to the ground truth (L1, LPIPS) is lower-is-better.
LOWER_IS_BETTER: frozenset[str] = frozenset({"fid", "kid"}) | frozenset(
    k for k in PAIRED_METRICS if k.startswith(("l1_", "lpips_gt_")))

#: Which fingerprint key (the network) each metric depends on; it must be recorded, not null.
#: None: the metric needs no network (L1 to the ground truth).
METRIC_NETWORK: dict[str, str | None] = {
    "lpips_diversity": "lpips_backbone",
    "is_exp": "classifier", "is_kl": "classifier", "is_exp_10split": "classifier",
    "cis_exp": "classifier", "cis_kl": "classifier", "cis": "classifier",
    "fid": "fid_features", "kid": "fid_features",
    **{k: ("lpips_backbone" if k.startswith("lpips_") else None) for k in PAIRED_METRICS},
    "domain_accuracy": "classifier", "object_domain_accuracy": "object_classifier",
}

#: Human-readable metric names for tables.
METRIC_TITLES: dict[str, str] = {
    "lpips_diversity": "LPIPS diversity",
    "is_exp": "IS (exp)", "is_kl": "IS (mean KL)", "is_exp_10split": "IS (exp, 10 splits)",
    "cis_exp": "CIS (exp)", "cis_kl": "CIS (mean KL)", "cis": "CIS (as printed)",
    "fid": "FID", "kid": "KID",
    **{k: (k.replace("l1_gt_", "L1 to truth, ").replace("lpips_gt_", "LPIPS to truth, ")
           .replace("_best", " (best of K)").replace("_guided", " (guided)")) for k in PAIRED_METRICS},
    "domain_accuracy": "domain accuracy", "object_domain_accuracy": "object domain accuracy",
}


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    split: str
    protocol: str
    tasks: tuple[str, ...]
    #: fingerprint key -> rule (see the module docstring).
    fingerprint: dict[str, str] = field(default_factory=dict)
    #: Whether results may change protocol fields (fewer inputs or samples for a quick run).
    allow_protocol_overrides: bool = False
    #: Whether measured entries must be conformant (the evaluator's verdict, with its reasons).
    require_conformant: bool = False

    def check_fingerprint(self, key: str, value) -> str | None:
        """None when ``value`` satisfies this benchmark's rule for ``key``, else the expectation."""
        rule = self.fingerprint.get(key)
        if rule is None or rule == "any":
            return None
        if rule == "pretrained":
            ok = isinstance(value, str) and SHA256_RE.match(value)
            return None if ok else "the sha256 of a pretrained network (not 'random', not null)"
        return None if value == rule else repr(rule)


BENCHMARKS: dict[str, Benchmark] = {
    "init-v1": Benchmark(
        name="init-v1",
        description="The INIT release, split v1 (leak-free temporal blocks), evaluation protocol v1.",
        split="v1",
        protocol="v1",
        tasks=PAPER_TASKS,
        fingerprint={"lpips_backbone": "pretrained", "lpips_linear": "pretrained", "classifier": "pretrained",
                     "classifier_arch": "inception_v3", "fid_features": "any"},
        require_conformant=True,
    ),
    "mini-init": Benchmark(
        name="mini-init",
        description="The synthetic mini-INIT of `initbench synth` / `initbench quickstart` (a smoke benchmark, "
        "not comparable with init-v1); split v1 rule applied to the synthetic tree, protocol v1, possibly "
        "with fewer inputs and samples (recorded as overrides); random LPIPS backbone allowed (recorded).",
        split="v1",
        protocol="v1",
        tasks=tuple(all_tasks()),
        fingerprint={},
        allow_protocol_overrides=True,
    ),
    "mini-init-v2": Benchmark(
        name="mini-init-v2",
        description="The synthetic mini-INIT v2 with paired ground truth (`initbench synth --paired`), split drives, "
        "protocol paired-v1: errors to the ground truth (L1, LPIPS; mean and best of K; guided), domain accuracies, "
        "LPIPS diversity. Floors identity and colour-transfer, and the ground truth's own row (unranked). Random "
        "LPIPS backbone and a small classifier allowed (recorded; then not conformant).",
        split="drives",
        protocol="paired-v1",
        tasks=tuple(all_tasks()),
        fingerprint={},
        allow_protocol_overrides=True,
    ),
}


def get_benchmark(name: str, option: str = "--benchmark") -> Benchmark:
    if name not in BENCHMARKS:
        raise UsageError(f"{option}: unknown benchmark {name!r}; available are: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]
