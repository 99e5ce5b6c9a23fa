"""Validates OCSF events (one JSON per line on stdin) against the derived schema
of their class. Prints one line per invalid event and exits 1 if any."""
import json
import os
import sys

import jsonschema

here = os.path.dirname(os.path.abspath(__file__))
schemas = {}
for uid, name in [(6003, "api_activity"), (3002, "authentication"), (2004, "detection_finding")]:
    with open(os.path.join(here, f"{name}.schema.json")) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    schemas[uid] = jsonschema.Draft202012Validator(schema)

bad = 0
count = {}
for n, line in enumerate(sys.stdin, 1):
    event = json.loads(line)
    uid = event.get("class_uid")
    v = schemas.get(uid)
    if v is None:
        print(f"line {n}: unexpected class_uid {uid}")
        bad += 1
        continue
    count[uid] = count.get(uid, 0) + 1
    for err in v.iter_errors(event):
        print(f"line {n} (class {uid}): {'/'.join(map(str, err.path))}: {err.message}")
        bad += 1
print(json.dumps({"valid": bad == 0, "per_class": {str(k): v for k, v in sorted(count.items())}}))
sys.exit(1 if bad else 0)
