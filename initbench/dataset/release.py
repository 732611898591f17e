"""The INIT release in one table: domains, categories, expected counts, frame size.

Everything that offers a choice of domain or category (CLI options, error messages) reads
these tables, so a name is spelled one way in the whole package.
"""

from __future__ import annotations

from dataclasses import dataclass

from initbench.errors import UsageError

#: Domain folder names, in the order the paper lists them.
DOMAINS: tuple[str, ...] = ("sunny", "night", "cloudy", "rainy")

#: Category id -> name, as the official annotation files define them (no background id).
CATEGORIES: dict[int, str] = {1: "car", 2: "speed limit sign", 3: "person"}

#: Short column names used in manifests and tables.
CATEGORY_KEYS: dict[int, str] = {1: "car", 2: "sign", 3: "person"}

#: Frame size of the release (height, width).
FRAME_HEIGHT, FRAME_WIDTH = 1208, 1920


@dataclass(frozen=True)
class DomainCounts:
    train: int
    test: int

    @property
    def total(self) -> int:
        return self.train + self.test


#: Paper Table 2: images per domain and the paper's 85 % / 15 % split.
PAPER_COUNTS: dict[str, DomainCounts] = {
    "sunny": DomainCounts(train=49_663, test=8_764),
    "night": DomainCounts(train=24_559, test=4_333),
    "rainy": DomainCounts(train=6_041, test=1_066),
    "cloudy": DomainCounts(train=51_938, test=9_165),
}

#: Total number of images in the release (paper).
PAPER_TOTAL = 155_529

#: The translation tasks of the paper's tables.
PAPER_TASKS: tuple[str, ...] = (
    "sunny2night",
    "night2sunny",
    "sunny2rainy",
    "rainy2sunny",
    "sunny2cloudy",
    "cloudy2sunny",
)


def check_domain(name: str, option: str = "domain") -> str:
    """Return ``name`` if it is a domain of the release, else raise a UsageError naming the choices."""
    if name not in DOMAINS:
        raise UsageError(
            f"{option}: expected one of {', '.join(DOMAINS)}; got {name!r}"
        )
    return name


def parse_task(task: str) -> tuple[str, str]:
    """Split a task name such as ``sunny2night`` into (source, target) domains.

    Any ordered pair of two different domains is a task.
    """
    parts = task.split("2")
    if len(parts) != 2 or parts[0] not in DOMAINS or parts[1] not in DOMAINS or parts[0] == parts[1]:
        raise UsageError(
            "task: expected '<source>2<target>' with two different domains out of "
            f"{', '.join(DOMAINS)} (e.g. sunny2night); got {task!r}"
        )
    return parts[0], parts[1]


def all_tasks() -> list[str]:
    """Every ordered pair of different domains, paper tasks first."""
    rest = [f"{a}2{b}" for a in DOMAINS for b in DOMAINS if a != b and f"{a}2{b}" not in PAPER_TASKS]
    return list(PAPER_TASKS) + rest
