"""Which Autobahn cases `just autobahn [SELECTION]` runs: the selection as the fuzzing server's
case patterns.

A selection is a comma-separated list of items, each one of:
- `all` (or nothing, or `*`): every case;
- a group `N` or a range of groups `N-M` (`1-10`: groups 1 to 10, i.e. `1.*` … `10.*`);
- a case id or an Autobahn pattern (`9.1.6`, `12.1.*`, `6.4.*`), passed on as it is.

The fuzzing server itself matches the patterns (and refuses case ids it does not have), so the
cases run and their order are the suite's own. Pure: used by scripts/autobahn/run and unit-tested in
test_autobahn.py.
"""

import re

GROUP = re.compile(r"^(\d+)$")
GROUP_RANGE = re.compile(r"^(\d+)-(\d+)$")
PATTERN = re.compile(r"^(\d+|\*)(\.(\d+|\*))*$")


class SelectionError(ValueError):
    """A selection item that is neither a group, a range of groups nor a case pattern."""


def case_patterns(selection):
    """The server's case patterns for `selection` (see the module's doc), in the order given,
    without repeats."""
    patterns = []
    for raw in (selection or "").split(","):
        item = raw.strip()
        if not item:
            continue
        if item in ("all", "*"):
            patterns.append("*")
        elif match := GROUP.match(item):
            patterns.append(f"{int(match.group(1))}.*")
        elif match := GROUP_RANGE.match(item):
            first, last = int(match.group(1)), int(match.group(2))
            if first > last:
                raise SelectionError(f"`{item}`: the range runs backwards (write {last}-{first})")
            patterns.extend(f"{group}.*" for group in range(first, last + 1))
        elif PATTERN.match(item):
            patterns.append(item)
        else:
            raise SelectionError(
                f"`{item}` is not a group (`9`), a range of groups (`1-10`) or a case id or "
                "pattern (`9.1.6`, `12.1.*`)"
            )
    unique = []
    for pattern in patterns:
        if pattern not in unique:
            unique.append(pattern)
    return unique or ["*"]
