# -*- coding: utf-8 -*-
"""The Autobahn|Testsuite fuzzing server for `just autobahn`, on 127.0.0.1 only (Python 2).

`wstest -m fuzzingserver` listens on 0.0.0.0 whatever its spec's url says, and starts a web UI on
0.0.0.0:8080; this starts the same FuzzingServerFactory bound to 127.0.0.1 and without the web UI.
Run by scripts/autobahn/run with the virtualenv's python, in the run's own folder (the reports go
to ./reports/clients there):

    python server.py --port PORT --cases '1.*,9.1.1' [--exclude '12.*,13.*']

PORT 0 picks a free port. It writes the selected case ids, in the order `runCase?case=N` numbers
them, to ./cases.json; when it listens, it prints one line `listening on 127.0.0.1:PORT`, so the
caller learns the port without racing for it. A selector that names no case of the suite (a typo)
is refused before listening, with exit code 2.
"""

import argparse
import json
import sys

# Must come first: it installs the best Twisted reactor (the suite's own rule).
import autobahntestsuite.choosereactor  # noqa: F401
from autobahntestsuite.fuzzing import FuzzingServerFactory
from autobahn.twisted.websocket import listenWS
from twisted.internet import reactor


def split_patterns(text):
    """'1.*, 9.1.1' -> ['1.*', '9.1.1'] (empty items dropped)."""
    return [item.strip() for item in text.split(',') if item.strip()]


def unknown_ids(factory, patterns):
    """The patterns without a wildcard that name no case of the suite."""
    known = factory.CaseSet.CasesIndices
    return [p for p in patterns if '*' not in p and p not in known]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--cases', default='*', help="comma-separated case ids or patterns")
    parser.add_argument('--exclude', default='', help="comma-separated case ids or patterns")
    args = parser.parse_args()

    cases = split_patterns(args.cases)
    exclude = split_patterns(args.exclude)
    spec = {
        # Placeholder port: the one bound is set on the factory below (port 0 picks it).
        'url': 'ws://127.0.0.1:9001',
        'outdir': './reports/clients',
        'options': {'failByDrop': False},
        'cases': cases,
        'exclude-cases': exclude,
        'exclude-agent-cases': {},
    }
    factory = FuzzingServerFactory(spec)
    unknown = unknown_ids(factory, cases + exclude)
    if unknown:
        sys.stderr.write('autobahn: no such case: %s\n' % ', '.join(unknown))
        sys.exit(2)
    if not factory.specCases:
        sys.stderr.write('autobahn: the selection %s matches no case\n' % json.dumps(cases))
        sys.exit(2)
    # The case ids in the order runCase?case=N numbers them (N from 1), for the caller.
    with open('cases.json', 'w') as cases_file:
        json.dump(factory.specCases, cases_file)
    factory.port = args.port
    listener = listenWS(factory, interface='127.0.0.1')
    port = listener.getHost().port
    # The server refuses a Host header whose port is not its externalPort (set from the url).
    factory.port = port
    factory.externalPort = port
    print('listening on 127.0.0.1:%d' % port)
    sys.stdout.flush()
    reactor.run()


if __name__ == '__main__':
    main()
