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
METRICS: tuple[str, ...] = (
    "lpips_diversity", "is_exp", "is_kl", "is_exp_10split", "cis_exp", "cis_kl", "cis", "fid", "kid",
)

#: Higher is better for every metric but FID and KID.
LOWER_IS_BETTER: frozenset[str] = frozenset({"fid", "kid"})

#: Which fingerprint key (the network) each metric depends on; it must be recorded, not null.
METRIC_NETWORK: dict[str, str] = {
    "lpips_diversity": "lpips_backbone",
    "is_exp": "classifier", "is_kl": "classifier", "is_exp_10split": "classifier",
    "cis_exp": "classifier", "cis_kl": "classifier", "cis": "classifier",
    "fid": "fid_features", "kid": "fid_features",
}

#: Human-readable metric names for tables.
METRIC_TITLES: dict[str, str] = {
    "lpips_diversity": "LPIPS diversity",
    "is_exp": "IS (exp)", "is_kl": "IS (mean KL)", "is_exp_10split": "IS (exp, 10 splits)",
    "cis_exp": "CIS (exp)", "cis_kl": "CIS (mean KL)", "cis": "CIS (as printed)",
    "fid": "FID", "kid": "KID",
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
}


def get_benchmark(name: str, option: str = "--benchmark") -> Benchmark:
    if name not in BENCHMARKS:
        raise UsageError(f"{option}: unknown benchmark {name!r}; available are: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]
