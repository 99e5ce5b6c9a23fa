"""Derives JSON Schemas (draft 2020-12) for the three OCSF classes portcullis emits.

Source: the OCSF schema repository (github.com/ocsf/ocsf-schema, dev branch,
version.json = 1.9.0-dev), files read by hand and transcribed below:
  events/base_event.json, traits (occurrence, classification), dictionary types,
  events/application/api_activity.json, events/iam/authentication.json,
  events/findings/finding.json, events/findings/detection_finding.json,
  objects/{metadata,product,actor,user,endpoint,api,request,response,
  authorization,policy,finding_info,analytic,attestation,fingerprint,
  ai_agent,message_context,trace,span,service,http_response}.json,
  profiles/{ai_operation,record_integrity,trace}.json.

What the derived schemas check: every attribute the class (with the base event
and the profiles used) requires; object `required` and `at_least_one`
constraints; OCSF data types (timestamp_t and long_t as integers, string_t,
boolean_t); the enums of class_uid, category_uid, activity_id, type_uid,
severity_id and status_id; and, at the top level and for metadata, api, actor
and attestation, that no attribute outside the class, its profiles and the
base event appears (a misspelt attribute fails).

Run `python3 derive.py` to regenerate the *.schema.json files next to it.
"""
import json
import os

S = {"type": "string"}
I = {"type": "integer"}
B = {"type": "boolean"}
O = {"type": "object"}


def obj(props, required=(), at_least_one=(), closed=False):
    s = {"type": "object", "properties": props}
    if required:
        s["required"] = list(required)
    if at_least_one:
        s["anyOf"] = [{"required": [a]} for a in at_least_one]
    if closed:
        s["additionalProperties"] = False
    return s


fingerprint = obj({"algorithm": S, "algorithm_id": {"enum": [0, 1, 2, 3, 4, 5, 6, 7, 8, 99]}, "value": S}, required=["algorithm_id", "value"])
product = obj({"name": S, "vendor_name": S, "version": S, "uid": S}, at_least_one=["name", "uid"])
metadata = obj(
    {
        "version": S, "product": product, "uid": S, "sequence": I, "tenant_uid": S,
        "correlation_uid": S, "log_name": S, "log_provider": S, "profiles": {"type": "array", "items": S},
        "labels": {"type": "array", "items": S}, "original_time": I, "logged_time": I, "processed_time": I,
        "event_code": S, "log_level": S, "log_version": S, "modified_time": I, "extension": O,
    },
    required=["product", "version"], closed=True,
)
org = obj({"uid": S, "name": S}, at_least_one=["uid", "name"])
user = obj({"uid": S, "name": S, "org": org, "type_id": I, "email_addr": S}, at_least_one=["account", "name", "uid"])
policy = obj({"uid": S, "name": S, "version": S, "desc": S, "is_applied": B}, at_least_one=["name", "uid"])
authorization = obj({"decision": S, "policy": policy})
session = obj({"uid": S})
actor = obj(
    {"user": user, "app_uid": S, "app_name": S, "session": session, "process": O, "invoked_by": S,
     "authorizations": {"type": "array", "items": authorization}, "idp": O},
    at_least_one=["process", "user", "invoked_by", "session", "app_name", "app_uid"], closed=True,
)
endpoint = obj({"ip": S, "port": I, "name": S, "hostname": S, "svc_name": S, "uid": S},
               at_least_one=["ip", "uid", "name", "hostname", "svc_name", "instance_uid", "interface_uid", "domain"])
service = obj({"name": S, "uid": S, "version": S}, at_least_one=["name", "uid"])
api = obj(
    {"operation": S, "version": S, "service": service,
     "request": obj({"uid": S, "data": O, "flags": {"type": "array"}}, required=["uid"]),
     "response": obj({"code": I, "error": S, "error_message": S, "message": S, "data": O}),
     "group": O},
    required=["operation"], closed=True,
)
resource = obj({"type": S, "name": S, "uid": S, "data": O}, at_least_one=["name", "uid"])
trace = obj({"uid": S, "span": obj({"uid": S})}, required=["uid"])
prev_event = obj({"uid": S, "type_uid": I, "fingerprint": fingerprint}, required=["fingerprint"])
attestation = obj(
    {"uid": S, "authority_uid": S, "chain_uid": S, "fingerprint": fingerprint, "prev_event": prev_event,
     "signatures": {"type": "array"}},
    at_least_one=["fingerprint", "signatures"], closed=True,
)
ai_agent = obj({"uid": S, "instance_uid": S, "name": S, "type": S, "type_id": {"enum": [0, 1, 2, 3, 4, 99]}, "version": S}, required=["uid"])
message_context = obj(
    {"uid": S, "name": S, "ai_role": S, "ai_role_id": {"enum": [0, 1, 2, 3, 4, 5, 6, 99]},
     "application": obj({"name": S, "uid": S}), "service": service},
    at_least_one=["application", "service"],
)
severity_id = {"enum": [0, 1, 2, 3, 4, 5, 6, 99]}

BASE = {
    "activity_name": S, "category_name": S, "class_name": S, "type_name": S,
    "count": I, "duration": I, "end_time": I, "start_time": I, "time": I, "timezone_offset": I,
    "message": S, "metadata": metadata, "observables": {"type": "array"}, "raw_data": S,
    "severity": S, "severity_id": severity_id, "status": S, "status_code": S, "status_detail": S,
    "status_id": {"enum": [0, 1, 2, 99]}, "unmapped": O, "enrichments": {"type": "array"},
    "attestation": attestation,  # record_integrity profile
}
BASE_REQUIRED = ["activity_id", "category_uid", "class_uid", "metadata", "severity_id", "time", "type_uid"]


def event(title, class_uid, activities, props, required):
    p = dict(BASE)
    p.update(props)
    p["class_uid"] = {"const": class_uid}
    p["category_uid"] = {"const": class_uid // 1000}
    p["activity_id"] = {"enum": activities}
    p["type_uid"] = {"enum": [class_uid * 100 + a for a in activities]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"OCSF 1.9.0-dev {title} ({class_uid}), derived for portcullis",
        "type": "object",
        "properties": p,
        "required": BASE_REQUIRED + required,
        "additionalProperties": False,
    }


api_activity = event(
    "API Activity", 6003, [0, 1, 2, 3, 4, 99],
    {"actor": actor, "api": api, "src_endpoint": endpoint, "dst_endpoint": endpoint,
     "http_request": O, "http_response": obj({"code": I}, required=["code"]),
     "resources": {"type": "array", "items": resource},
     "trace": trace,  # trace profile
     "ai_agent": ai_agent, "ai_model": O, "message_context": message_context, "delegation": O,
     "stop_reason": S, "stop_reason_id": I},  # ai_operation profile
    ["actor", "api", "src_endpoint"],
)
authentication = event(
    "Authentication", 3002, [0, 1, 2, 3, 4, 5, 99],
    {"user": user, "actor": actor, "auth_protocol": S, "auth_protocol_id": {"enum": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 99]},
     "certificate": O, "dst_endpoint": endpoint, "src_endpoint": endpoint, "http_request": O,
     "is_cleartext": B, "is_mfa": B, "is_new_logon": B, "is_remote": B, "logon_process": O,
     "logon_type": S, "logon_type_id": I, "service": service, "session": session},
    ["user"],
)
authentication["anyOf"] = [{"required": ["service"]}, {"required": ["dst_endpoint"]}]
finding_info = obj(
    {"uid": S, "title": S, "desc": S, "types": {"type": "array", "items": S},
     "analytic": obj({"uid": S, "name": S, "type": S, "type_id": {"enum": [0, 1, 2, 3, 4, 5, 6, 99]}}, required=["type_id"]),
     "product": product, "created_time": I, "src_url": S},
    required=["uid"],
)
detection_finding = event(
    "Detection Finding", 2004, [0, 1, 2, 3, 99],
    {"finding_info": finding_info, "status_id": {"enum": [0, 1, 2, 3, 4, 5, 6, 99]},
     "confidence": S, "confidence_id": {"enum": [0, 1, 2, 3, 99]}, "confidence_score": I,
     "evidences": {"type": "array", "items": obj({"data": O})}, "is_alert": B,
     "resources": {"type": "array", "items": resource}, "device": O, "notes": {"type": "array"},
     "impact": S, "impact_id": I, "impact_score": I, "risk_level": S, "risk_level_id": I, "risk_score": I,
     "risk_details": S, "remediation": O, "vulnerabilities": {"type": "array"}, "malware": {"type": "array"},
     "anomaly_analyses": {"type": "array"}, "vendor_attributes": O},
    ["finding_info"],
)

here = os.path.dirname(os.path.abspath(__file__))
for name, schema in [("api_activity", api_activity), ("authentication", authentication), ("detection_finding", detection_finding)]:
    with open(os.path.join(here, f"{name}.schema.json"), "w") as f:
        json.dump(schema, f, indent=1, sort_keys=True)
        f.write("\n")
