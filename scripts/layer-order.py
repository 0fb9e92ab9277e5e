#!/usr/bin/env python3
"""The layer order of src/ (docs/ARCHITECTURE.md): a folder includes only its own headers and
those of the folders below it, the same folders its meson library depends on. Prints every
include that runs against the order and exits 1 when there is one. Run by `meson test`
(test layer_order) so a new upward include fails the suite; /work/shared/tools/layers.py
reports circles and mutual pairs, this adds the direction."""
import os
import re
import sys

BELOW = {
    'core': set(),
    'fetch': {'core'},
    'jose': {'core'},
    'verify': {'core', 'jose'},
    'scim': {'core'},
    'policy': {'core', 'jose'},
    'store': {'core', 'scim'},
    'keys': {'core', 'jose', 'scim', 'store'},
    'proto': {'verify', 'core', 'jose', 'scim', 'store', 'keys'},
    'creds': {'verify', 'core', 'jose', 'scim', 'store', 'keys', 'proto'},
    'oauth': {'verify', 'core', 'jose', 'scim', 'store', 'keys', 'proto', 'creds', 'policy'},
    'federation': {'verify', 'core', 'jose', 'scim', 'store', 'policy', 'fetch'},
    'ui': {'core'},
    'http': {'core'},
}
BELOW['handle'] = set(BELOW) - {'handle'}
BELOW['server'] = BELOW['handle'] | {'handle'}
BELOW['cli'] = BELOW['server'] | {'server'}

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', 'src')
bad = 0
for folder in sorted(os.listdir(root)):
    top = os.path.join(root, folder)
    if not os.path.isdir(top):
        continue
    if folder not in BELOW:
        print(f'{top}: folder missing from the layer table in {__file__}')
        bad += 1
        continue
    for dirpath, _, files in os.walk(top):
        for f in sorted(files):
            if not f.endswith(('.c', '.h')):
                continue
            path = os.path.join(dirpath, f)
            with open(path, encoding='utf-8') as fh:
                for i, line in enumerate(fh, 1):
                    m = re.match(r'\s*#\s*include\s+"([a-z_]+)/', line)
                    if m and m.group(1) != folder and m.group(1) not in BELOW[folder]:
                        print(f'{path}:{i}: {folder} includes {m.group(1)}, a layer above it')
                        bad += 1
print(f'layer order: {bad} includes against it')
sys.exit(1 if bad else 0)
