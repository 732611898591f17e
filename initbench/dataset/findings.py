"""Findings: one problem found in a copy of the release, with a stable rule id and a location.

The rule table below is the single list of everything initbench checks. Rule ids are stable:
tools may filter on them, so a rule is never renamed, only added.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    summary: str


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule("malformed-record", ERROR, "a line the annotation format does not allow"),
        Rule("non-numeric-value", ERROR, "a number field that does not parse as a number"),
        Rule("non-finite-value", ERROR, "a box coordinate that is NaN or infinite"),
        Rule("box-count-mismatch", ERROR, "the box-count line disagrees with the box lines"),
        Rule("unknown-class", ERROR, "a class id other than 1 (car), 2 (speed limit sign), 3 (person)"),
        Rule("degenerate-box", ERROR, "x2 <= x1 or y2 <= y1"),
        Rule("box-outside-image", ERROR, "a box extends beyond the image by more than the tolerance"),
        Rule("duplicate-box", ERROR, "the same box twice in one record"),
        Rule("duplicate-record", ERROR, "two records for one image"),
        Rule("cross-domain-duplicate", ERROR, "one image annotated in two domains"),
        Rule("small-box", WARNING, "a box below the minimum size"),
        Rule("size-mismatch", ERROR, "the size line disagrees with the PNG header"),
        Rule("image-missing", ERROR, "an annotated image file does not exist"),
        Rule("image-unreadable", ERROR, "an image file is not a readable, complete PNG"),
        Rule("image-unannotated", WARNING, "an image on disk that no annotation file names"),
        Rule("annotation-unreadable", ERROR, "an annotation file cannot be read as text"),
        Rule("hash-mismatch", ERROR, "a file's sha256 differs from the manifest"),
        Rule("manifest-missing-file", ERROR, "a manifest row names a file that does not exist"),
        Rule("manifest-extra-file", ERROR, "an image on disk that the manifest does not list"),
        Rule("manifest-size-mismatch", ERROR, "a file's byte size differs from the manifest"),
    )
}


@dataclass(frozen=True)
class Finding:
    """One problem: ``rule`` is a key of :data:`RULES`; ``line`` is 1-based or None."""

    rule: str
    path: str
    line: int | None
    message: str

    @property
    def severity(self) -> str:
        return RULES[self.rule].severity

    def to_dict(self) -> dict:
        d = asdict(self)
        d["severity"] = self.severity
        return d

    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line is not None else self.path


def make_finding(rule: str, path: str, line: int | None, message: str) -> Finding:
    if rule not in RULES:
        raise KeyError(f"unknown rule id {rule!r}; known: {', '.join(RULES)}")
    return Finding(rule=rule, path=str(path), line=line, message=message)
