"""Only comparable results are compared: the transfer results of one task are split by the
settings that fix their test jets (`--test-seed`, `--max-per-class`, `--data`, and the number
of test jets they got). Each group is a table, figure and headline of its own; a task with
more than one group gets a warning line, so a report over a big study still appears when one
run used other jets, and no number is ranked against one measured on other jets."""
from __future__ import annotations

from .collect import TransferResult, short_names

__all__ = ["by_test_set"]


def by_test_set(results: list[TransferResult]) -> tuple[dict[str, list], list[str]]:
    """({group name: results}, [warning line per task with more than one test set]); the group
    name is the task, followed by the settings that tell its test set from the others'."""
    tasks: dict[str, dict[tuple, list]] = {}
    for r in results:
        tasks.setdefault(r.task, {}).setdefault(r.test_set, []).append(r)
    groups, warnings = {}, []
    for task in sorted(tasks):
        sets = tasks[task]
        if len(sets) == 1:
            groups[task] = next(iter(sets.values()))
            continue
        keys = sorted(sets, key=lambda k: (-len(sets[k]), str(k)))   # the largest group first
        differ = [i for i in range(len(keys[0]))
                  if len({k[i][1] for k in keys}) > 1]
        if len(differ) > 1:   # the number of test jets only where nothing else explains it
            differ = [i for i in differ if keys[0][i][0] != "test jets"]
        labels = _labels(keys, differ)
        for key, label in zip(keys, labels):
            groups[f"{task} ({label})"] = sets[key]
        a, b = sets[keys[0]][0], sets[keys[1]][0]
        what = ", ".join(keys[0][i][0] for i in differ)
        verb = "differs" if len(differ) == 1 else "differ"
        eg = "e.g. " if len(keys) > 2 else ""
        warnings.append(
            f"task {task!r}: results on {len(keys)} different test sets ({what} {verb}: "
            f"{eg}{a.path} has {labels[0]}, {b.path} has {labels[1]}); each test set is shown "
            "as a group of its own, not ranked against the others")
    return groups, warnings


def _labels(keys: list[tuple], differ: list[int]) -> list[str]:
    """"--test-seed 7; --data a.parquet+b.parquet" per test set (unique)."""
    files = sorted({f for k in keys for i in differ if k[i][0] == "--data"
                    and isinstance(k[i][1], tuple) for f in k[i][1]})
    short = dict(zip(files, short_names(files)))
    labels = []
    for k in keys:
        parts = []
        for i in differ:
            name, value = k[i]
            if name == "--data" and isinstance(value, tuple):
                shown = [short[f] for f in value]
                value = "+".join(shown) if len(shown) <= 3 else \
                    f"{shown[0]} and {len(shown) - 1} more files"
            parts.append(f"{value} {name}" if name == "test jets" else f"{name} {value}")
        labels.append("; ".join(parts))
    counts = {label: labels.count(label) for label in labels}
    seen: dict[str, int] = {}
    for j, label in enumerate(labels):   # two data lists shortened alike: number them
        seen[label] = seen.get(label, 0) + 1
        if counts[label] > 1:
            labels[j] = f"{label} #{seen[label]}"
    return labels
