"""Machine-checkable leaderboard entries.

* :mod:`.entry` + ``entry.schema.json``: the entry format (kinds ``measured`` and ``reported``),
  statistics (mean, unbiased std), hashing, atomic writes;
* :mod:`.benchmarks`: ``init-v1`` and ``mini-init`` (split, protocol, tasks, fingerprint rules);
* :mod:`.results`: evaluator results -> a measured entry; metrics recomputed from per-input values;
* :mod:`.validate`: every check, each problem one :class:`~.entry.Problem` (file, JSON path, message);
* :mod:`.store`: ``leaderboards/<benchmark>/<task>/<method>-<hash8>.json``, submission;
* :mod:`.render`: comparable groups, ranked tables, Markdown and HTML.
"""
