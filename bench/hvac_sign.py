"""Signing baseline for bench/run: N raw hvac sign calls in one Python process.

    BAO_ADDR=... BAO_TOKEN=... python bench/hvac_sign.py KEYS.json

KEYS.json holds {"keys": [public key lines], "role": ..., "principals": [...], "ttl": ...,
"mount": ...}. Prints one JSON line: seconds for `import hvac`, for the client, for the signs
and in all (from before the import to after the last sign), and how many certificates came back.
The token comes from the environment and is never printed.
"""

import json
import os
import sys
import time


def main(path):
    with open(path) as handle:
        spec = json.load(handle)
    t0 = time.perf_counter()
    # Imported here: its import cost is part of the figure.
    import hvac  # pylint: disable=import-outside-toplevel

    t1 = time.perf_counter()
    client = hvac.Client(url=os.environ['BAO_ADDR'], token=os.environ['BAO_TOKEN'])
    t2 = time.perf_counter()
    signed = 0
    for number, key in enumerate(spec['keys']):
        data = client.secrets.ssh.sign_ssh_key(
            name=spec['role'], public_key=key, valid_principals=','.join(spec['principals']),
            ttl=spec['ttl'], cert_type='user', key_id='bench-hvac-%d' % number, mount_point=spec['mount'])
        if data['data']['signed_key'].startswith('ssh-ed25519-cert-v01@openssh.com '):
            signed += 1
    t3 = time.perf_counter()
    print(json.dumps({'import': t1 - t0, 'client': t2 - t1, 'signs': t3 - t2, 'total': t3 - t0,
                      'signed': signed}))
    return 0 if signed == len(spec['keys']) else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
