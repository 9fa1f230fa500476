"""Gate decisions per second: the embedded gate vs the Rego engine in-process vs the PDP over HTTP.

    scripts/in-netns .venv/bin/python bench/policy_bench.py --collections DIR [--requests 3000]

One invocation, the same requests and registry for all three (the gate case tables of
tests/cases cycled to ``--requests``, against the fixture actors plus credential lanes):

  embedded      gate.evaluate in this process (what policy.mode embedded runs)
  rego          the published policy/flex-auth/*.rego compiled once on regopy (rego-cpp) in this
                process, one query per request (tests/bed/pdp_server.py's RegoPolicy)
  http batch    the test PDP (a separate process evaluating the same Rego) over loopback HTTP,
                POST /v1/batch-check in batches of ``--batch``
  http single   the same PDP, one POST /v1/check per request (a reused keep-alive connection)

Best of ``--repeats``; ratios are against the embedded figure of the same run. `make bench` runs
it as its ``policy`` section (bench/warden_bench.py); docs/performance.md has the figures.
"""

import argparse
import json
import os
import runpy
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))


def best(values):
    return min(values) if values else None


def bench_policy(requests=3000, repeats=3, batch=100, singles=500, workdir=None):
    """The figures as a dict (decisions per second and ratios to the embedded gate)."""
    from tests.bed.collection_path import ensure_on_path  # pylint: disable=import-outside-toplevel
    ensure_on_path()
    # pylint: disable=import-outside-toplevel
    from ansible_collections.netkingdom.warden.plugins.module_utils._gate import rules as gate
    from ansible_collections.netkingdom.warden.plugins.module_utils._registry import snapshot as registry
    from tests.bed import credential_cases, gate_cases
    from tests.bed.pdp import PdpProcess

    snapshot = credential_cases.fixture_snapshot()
    table = [b for dummy, b in gate_cases.decision_cases()] + [b for dummy, b in credential_cases.decision_cases()]
    bodies = [json.loads(json.dumps(table[i % len(table)])) for i in range(requests)]
    index = registry.RegistryIndex(snapshot)
    pdp_module = runpy.run_path(str(ROOT / 'tests' / 'bed' / 'pdp_server.py'), run_name='pdp_server')
    rego = pdp_module['RegoPolicy'](pdp_module['read_policies'](str(ROOT / 'policy' / 'flex-auth')), snapshot)

    def timed(func):
        times = []
        for dummy in range(repeats):
            start = time.perf_counter()
            func()
            times.append(time.perf_counter() - start)
        return best(times)

    embedded_s = timed(lambda: [gate.evaluate(b, index) for b in bodies])
    rego_s = timed(lambda: [rego.decide(b) for b in bodies])
    agree = sum(1 for b in bodies[:len(table)]
                if (gate.evaluate(b, index)['reason'], gate.evaluate(b, index).get('rule'))
                == (rego.decide(b)['reason'], rego.decide(b).get('rule')))

    work = Path(workdir or tempfile.mkdtemp(prefix='warden-policy-bench-'))
    work.mkdir(parents=True, exist_ok=True)
    path = work / 'registry.json'
    path.write_text(registry.to_text(snapshot))
    with PdpProcess(path, work / 'pdp') as pdp:
        with pdp.client(timeout=120) as http:
            def batches():
                for start in range(0, len(bodies), batch):
                    response = http.post('/v1/batch-check', json={'requests': bodies[start:start + batch]})
                    response.raise_for_status()

            def single():
                for body in bodies[:singles]:
                    http.post('/v1/check', json=body).raise_for_status()

            http_batch_s = timed(batches)
            http_single_s = timed(single)

    def rate(count, seconds):
        return round(count / seconds) if seconds else None

    embedded = rate(requests, embedded_s)
    result = {
        'requests': requests, 'repeats': repeats, 'batch': batch, 'singles': singles,
        'table_agreement': '%d/%d' % (agree, len(table)),
        'embedded_per_s': embedded,
        'rego_in_process_per_s': rate(requests, rego_s),
        'http_batch_per_s': rate(requests, http_batch_s),
        'http_single_per_s': rate(singles, http_single_s),
    }
    for key in ('rego_in_process_per_s', 'http_batch_per_s', 'http_single_per_s'):
        result[key.replace('_per_s', '_ratio')] = round(embedded / result[key], 1) if result[key] else None
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--collections', default=os.environ.get('WARDEN_TEST_COLLECTIONS')
                        or str(ROOT / 'build' / 'collections'))
    parser.add_argument('--requests', type=int, default=3000)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--batch', type=int, default=100)
    parser.add_argument('--singles', type=int, default=500)
    opts = parser.parse_args(argv)
    os.environ['WARDEN_TEST_COLLECTIONS'] = os.path.abspath(opts.collections)
    print(json.dumps(bench_policy(opts.requests, opts.repeats, opts.batch, opts.singles), indent=2, sort_keys=True))
    return 0


if __name__ == '__main__':
    sys.exit(main())
