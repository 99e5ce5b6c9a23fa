"""Decodes OTLP/HTTP protobuf request bodies (files named on the command line)
with the official generated classes (PyPI opentelemetry-proto) and prints one
JSON object per log record."""
import json
import sys

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest


def value(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


for path in sys.argv[1:]:
    with open(path, "rb") as f:
        req = ExportLogsServiceRequest.FromString(f.read())
    for rl in req.resource_logs:
        resource = {kv.key: value(kv.value) for kv in rl.resource.attributes}
        for sl in rl.scope_logs:
            for r in sl.log_records:
                print(json.dumps({
                    "resource": resource,
                    "scope": sl.scope.name,
                    "time_unix_nano": r.time_unix_nano,
                    "severity_number": r.severity_number,
                    "severity_text": r.severity_text,
                    "body": value(r.body),
                    "attributes": {kv.key: value(kv.value) for kv in r.attributes},
                    "trace_id": r.trace_id.hex(),
                    "span_id": r.span_id.hex(),
                    "event_name": getattr(r, "event_name", None),
                }))
