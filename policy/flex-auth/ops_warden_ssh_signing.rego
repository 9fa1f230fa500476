# flex-auth policy package for the ops-warden SSH signing gate.
#
#   policy id   ops-warden.ssh-certificate.sign
#   namespace   ops-warden:ssh-certificate
#   input       the POST /v1/check body ops-warden (and netkingdom.warden) sends
#   data        data.registry: the registry snapshot (resource manifests, subject manifests,
#               tenants), as `flex-auth load-registry --file` takes it
#   output      decision: {"effect": "allow", "reason": "signing_policy_matched"}, or
#               {"effect": "deny", "reason": <first denial>, "rule": <the rule that failed>}
#
# Shipped with netkingdom.warden (policy/flex-auth/). The collection's embedded gate implements
# these rules in the same order (plugins/module_utils/gate.py, SIGN_RULES); the test bed's PDP
# evaluates this file on a Rego engine and the parity tests compare the two. Rule -> reason:
# docs/policy-gate.md.
package flexauth.ops_warden.ssh_signing

import rego.v1

default_tenant := "tenant:platform"

# Longest certificate lifetime by actor type, in hours (adm human, agt agent, atm automation).
max_ttl_by_type := {"adm": 48, "agt": 24, "atm": 8}

tenant := object.get(input, "tenant", default_tenant)

context := object.get(input, "context", {})

registry_tenants contains t.id if {
	some t in data.registry.tenants
}

# The ssh-certificate resources of every resource manifest, by id.
actor_resources[r.id] := r if {
	some manifest in data.registry.resource_manifests
	some r in manifest.resources
	r.type == "ssh-certificate"
}

resource := actor_resources[input.resource.id]

actor := resource.metadata.actor

# The registered actor a subject id names by itself: the actor name, or iam:<actor>.
named_actor := r.metadata.actor if {
	some r in actor_resources
	input.subject.id in {r.metadata.actor, concat("", ["iam:", r.metadata.actor])}
}

# --- the rules: each must hold for an allow -------------------------------------------------
# (each is false unless proven; the decision below names the first one that is not true)

default valid_action := false

default valid_system := false

default valid_resource_type := false

default valid_tenant := false

default actor_resource_exists := false

default valid_actor_type := false

default subject_type_matches_context := false

default actor_type_matches_resource := false

default resource_id_matches_actor := false

default subject_id_allowed := false

default valid_ttl := false

default has_pubkey_fingerprint := false

default principals_present := false

default principals_subset := false

default principals_allowed := false

valid_action if input.action == "sign"

valid_system if input.resource.system == "ops-warden"

valid_resource_type if input.resource.type == "ssh-certificate"

valid_tenant if {
	tenant in registry_tenants
	not resource_in_another_tenant
}

resource_in_another_tenant if resource.metadata.tenant != tenant

actor_resource_exists if resource

valid_actor_type if input.subject.type in {"adm", "agt", "atm"}

subject_type_matches_context if input.subject.type == context.actor_type

actor_type_matches_resource if context.actor_type == resource.metadata.actor_type

# A subject that names an actor (adm-x, iam:adm-x) asks for that actor's certificate only,
# unless the resource lists it as an allowed subject.
resource_id_matches_actor if input.subject.id in resource.metadata.allowed_subjects

resource_id_matches_actor if not named_actor

resource_id_matches_actor if input.resource.id == concat("", ["ssh-cert:actor/", named_actor])

# The subject is the actor, the actor's own IAM subject, or one of its allowed subjects.
subject_id_allowed if input.subject.id == actor

subject_id_allowed if input.subject.id == concat("", ["iam:", actor])

subject_id_allowed if input.subject.id in resource.metadata.allowed_subjects

type_max_ttl := max_ttl_by_type[resource.metadata.actor_type]

ttl_limit := type_max_ttl if type_max_ttl <= resource.metadata.max_ttl_hours

ttl_limit := resource.metadata.max_ttl_hours if resource.metadata.max_ttl_hours < type_max_ttl

# 0 < ttl_hours <= the actor type's maximum (and the registry's cap, never above it).
valid_ttl if {
	is_number(context.ttl_hours)
	context.ttl_hours > 0
	context.ttl_hours <= ttl_limit
}

has_pubkey_fingerprint if {
	is_string(context.pubkey_fingerprint)
	trim(context.pubkey_fingerprint, " \t\r\n") != ""
}

principals_present if {
	is_array(context.principals)
	count(context.principals) > 0
}

principals_subset if {
	every p in context.principals {
		is_string(p)
		p in resource.metadata.principals
	}
}

principals_allowed if {
	principals_present
	principals_subset
}

# --- the decision: the first rule that does not hold ------------------------------------------

checks := [
	{"rule": "valid_action", "reason": "action_not_allowed", "ok": valid_action},
	{"rule": "valid_system", "reason": "system_mismatch", "ok": valid_system},
	{"rule": "valid_resource_type", "reason": "resource_type_mismatch", "ok": valid_resource_type},
	{"rule": "valid_tenant", "reason": "tenant_mismatch", "ok": valid_tenant},
	{"rule": "actor_resource_exists", "reason": "unknown_actor_resource", "ok": actor_resource_exists},
	{"rule": "valid_actor_type", "reason": "actor_type_mismatch", "ok": valid_actor_type},
	{"rule": "subject_type_matches_context", "reason": "actor_type_mismatch", "ok": subject_type_matches_context},
	{"rule": "actor_type_matches_resource", "reason": "actor_type_mismatch", "ok": actor_type_matches_resource},
	{"rule": "resource_id_matches_actor", "reason": "subject_not_allowed", "ok": resource_id_matches_actor},
	{"rule": "subject_id_allowed", "reason": "subject_not_allowed", "ok": subject_id_allowed},
	{"rule": "valid_ttl", "reason": "ttl_out_of_bounds", "ok": valid_ttl},
	{"rule": "has_pubkey_fingerprint", "reason": "pubkey_fingerprint_missing", "ok": has_pubkey_fingerprint},
	{"rule": "principals_allowed", "reason": "principals_empty", "ok": principals_present},
	{"rule": "principals_allowed", "reason": "principals_not_allowed", "ok": principals_subset},
]

# Indexes of the checks that fail, in the order of `checks` (an array comprehension keeps it).
failed := [i |
	some i
	checks[i].ok == false
]

first_denial := checks[failed[0]]

decision := {"effect": "deny", "reason": first_denial.reason, "rule": first_denial.rule} if first_denial

decision := {"effect": "allow", "reason": "signing_policy_matched"} if not first_denial
