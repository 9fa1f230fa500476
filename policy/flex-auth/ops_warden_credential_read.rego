# flex-auth policy package for gated credential reads (netkingdom.warden credential lanes).
#
#   policy id   ops-warden.credential-lane.read
#   input       a POST /v1/check body with action "read" on a resource of type credential-lane
#   data        data.registry: the registry snapshot (the credential-lane resource manifest)
#   output      decision: {"effect": "allow", "reason": "credential_read_allowed"}, or
#               {"effect": "deny", "reason": <first denial>, "rule": <the rule that failed>}
#
# Shipped with netkingdom.warden (policy/flex-auth/). The embedded gate implements these rules in
# the same order (plugins/module_utils/gate.py, CREDENTIAL_RULES). Rule -> reason:
# docs/policy-gate.md.
package flexauth.ops_warden.credential_read

import rego.v1

default_tenant := "tenant:platform"

tenant := object.get(input, "tenant", default_tenant)

context := object.get(input, "context", {})

registry_tenants contains t.id if {
	some t in data.registry.tenants
}

lanes[r.id] := r if {
	some manifest in data.registry.resource_manifests
	some r in manifest.resources
	r.type == "credential-lane"
}

lane := lanes[input.resource.id]

default valid_action := false

default valid_system := false

default valid_tenant := false

default lane_exists := false

default context_matches_lane := false

default subject_allowed := false

valid_action if input.action == "read"

valid_system if input.resource.system == "ops-warden"

valid_tenant if {
	tenant in registry_tenants
	not lane_in_another_tenant
}

lane_in_another_tenant if lane.metadata.tenant != tenant

lane_exists if lane

context_matches_lane if {
	every key in ["need_id", "lane", "owner_repo"] {
		context[key] == lane.metadata[key]
	}
}

subject_allowed if input.subject.id in lane.metadata.allowed_subjects

checks := [
	{"rule": "valid_action", "reason": "action_not_allowed", "ok": valid_action},
	{"rule": "valid_system", "reason": "system_mismatch", "ok": valid_system},
	{"rule": "valid_tenant", "reason": "tenant_mismatch", "ok": valid_tenant},
	{"rule": "lane_exists", "reason": "unknown_credential_lane", "ok": lane_exists},
	{"rule": "context_matches_lane", "reason": "credential_context_mismatch", "ok": context_matches_lane},
	{"rule": "subject_allowed", "reason": "subject_not_allowed", "ok": subject_allowed},
]

# Indexes of the checks that fail, in the order of `checks` (an array comprehension keeps it).
failed := [i |
	some i
	checks[i].ok == false
]

first_denial := checks[failed[0]]

decision := {"effect": "deny", "reason": first_denial.reason, "rule": first_denial.rule} if first_denial

decision := {"effect": "allow", "reason": "credential_read_allowed"} if not first_denial
