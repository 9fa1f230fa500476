"""The IAM subject binding fixtures of docs/registry-sync.md hold for the embedded evaluator."""

import os

import pytest
import yaml

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory import actors as A
from ansible_collections.netkingdom.warden.plugins.module_utils._gate import rules as G
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import snapshot as R
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import build as RB

HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                    'docs', 'examples', 'registry-sync')
FINGERPRINT = 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU'


def load(name):
    with open(os.path.join(HERE, name)) as handle:
        return yaml.safe_load(handle)


ACTORS = A.load_actors(load('inventory.yml'))[0]
INDEX = R.RegistryIndex(RB.build_snapshot(ACTORS))
CASES = load('subject-binding.yml')['cases']


@pytest.mark.parametrize('case', CASES, ids=[c['name'] for c in CASES])
def test_subject_binding_fixture(case):
    actor = ACTORS.get(case['actor'])
    actor_type = actor['type'] if actor else case['actor'].split('-')[0]
    request = G.build_request(case['actor'], actor_type, actor['principals'] if actor else ['x'],
                              actor['ttl_hours'] if actor else 1, FINGERPRINT, subject=case['subject'])
    envelope = G.evaluate(request, INDEX)
    assert {'effect': envelope['effect'], 'reason': envelope['reason']} == case['expected']
