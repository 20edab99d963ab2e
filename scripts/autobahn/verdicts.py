"""The fuzzing server's verdicts, read back and counted for `just autobahn`.

The server's `reports/clients/index.json` holds, per agent and case id, the case's `behavior` (OK,
NON-STRICT, INFORMATIONAL, UNIMPLEMENTED or FAILED), its closing behaviour and the name of the
case's own JSON report, whose `result` and `resultClose` say why. This file counts behaviours per
group (the first number of the case id: `9.1.6` is in group 9), finds the cases that did not pass
(FAILED, a behaviour the suite does not define, a case with no result at all, and UNIMPLEMENTED
when compression was asked for) and lays both out
as text. Pure apart from `read_index` and `read_reasons`; used by scripts/autobahn/run and
unit-tested in test_autobahn.py. The exit code of `volley run` for a case is not a verdict (a
protocol error is often the expected outcome); only the server's report is.
"""

import json
import os

# The behaviours in the order of the table.
BEHAVIORS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]
# What passes. UNIMPLEMENTED is what the permessage-deflate cases (12.*, 13.*) report when the
# client does not offer deflate: expected with compression off, a failure when it was asked for.
PASSING = {"OK", "NON-STRICT", "INFORMATIONAL"}
PASSING_WITHOUT_COMPRESSION = PASSING | {"UNIMPLEMENTED"}
# A case that was asked for but has no result in the report.
MISSING = "MISSING"


def case_key(case_id):
    """Sort key of a case id: `9.10.1` after `9.2.1`."""
    return tuple(int(part) for part in case_id.split("."))


def group_of(case_id):
    """The group of a case id: its first number."""
    return int(case_id.split(".", 1)[0])


def tally(results, expected_ids):
    """`{group: {behaviour: count}}` over `expected_ids`, with a case that has no entry in
    `results` (`{case_id: {"behavior": …}}`) counted as MISSING."""
    groups = {}
    for case_id in expected_ids:
        behavior = results.get(case_id, {}).get("behavior", MISSING)
        counts = groups.setdefault(group_of(case_id), {})
        counts[behavior] = counts.get(behavior, 0) + 1
    return groups


def not_passing(results, expected_ids, passing):
    """The case ids among `expected_ids` whose behaviour is not in `passing` (FAILED, MISSING, an
    unknown behaviour, or UNIMPLEMENTED when it does not pass), in case order, with it."""
    bad = []
    for case_id in sorted(expected_ids, key=case_key):
        behavior = results.get(case_id, {}).get("behavior", MISSING)
        if behavior not in passing:
            bad.append((case_id, behavior))
    return bad


def columns(groups):
    """The table's behaviour columns: the five of the suite, then any other seen, in name order."""
    seen = {behavior for counts in groups.values() for behavior in counts}
    return BEHAVIORS + sorted(seen - set(BEHAVIORS))


def table(groups):
    """The per-group counts as aligned text lines, with a total line."""
    names = columns(groups)
    widths = [max(len(name), 5) for name in names]
    lines = ["group  cases  " + "  ".join(f"{n:>{w}}" for n, w in zip(names, widths))]
    totals = {}
    for group in sorted(groups):
        counts = groups[group]
        for name, count in counts.items():
            totals[name] = totals.get(name, 0) + count
        lines.append(row(f"{group}.*", counts, names, widths))
    lines.append(row("total", totals, names, widths))
    return lines


def row(label, counts, names, widths):
    """One line of the table: label, number of cases, then one count per column."""
    cells = "  ".join(f"{counts.get(n, 0):>{w}}" for n, w in zip(names, widths))
    return f"{label:<5}  {sum(counts.values()):>5}  {cells}"


def read_index(reports_dir, agent):
    """`{case_id: entry}` for `agent` from `reports_dir/index.json` (empty when the server has no
    result for the agent)."""
    with open(os.path.join(reports_dir, "index.json"), encoding="utf-8") as file:
        return json.load(file).get(agent, {})


def read_reasons(reports_dir, entry):
    """`(result, resultClose)` from the case's own report named in its index `entry`, or a note
    saying why they cannot be read."""
    name = entry.get("reportfile")
    if not name:
        return "no report file named in index.json", ""
    try:
        with open(os.path.join(reports_dir, name), encoding="utf-8") as file:
            case = json.load(file)
    except (OSError, ValueError) as error:
        return f"cannot read {name}: {error}", ""
    return str(case.get("result", "")), str(case.get("resultClose", ""))
