"""What AWX does with a custom credential type, for tests: validate it, and inject a credential.

AWX (awx/main/fields.py, awx/main/models/credential.py) is not installable here, so its rules
are restated from its documented behaviour:

- ``inputs`` and ``injectors`` must match AWX's JSON schemas; field ids are unique, not
  ``tower``; ``choices``/``multiline``/``format``/``secret`` only on strings; a ``default``
  has its field's type.
- Injector env names match ``^[a-zA-Z_]+[a-zA-Z0-9_]*$``, are not ``ANSIBLE_*`` nor in AWX's
  block list; every template renders in a sandbox with ``StrictUndefined`` against the defined
  fields (and ``tower.filename`` / ``tower.filename.<name>`` for file injectors).
- At job start, only inputs with a value are in the template namespace (an empty field renders
  as an empty string), each ``file`` template is written to ``<private_data_dir>/env/tmp*``
  with mode 0600, and the ``env`` templates become the job's environment variables.
"""

import os
import stat
import tempfile

import jsonschema
from jinja2 import StrictUndefined, sandbox
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError

ENV_BLOCKLIST = frozenset((
    'VIRTUAL_ENV', 'PATH', 'PYTHONPATH', 'JOB_ID', 'INVENTORY_ID', 'INVENTORY_SOURCE_ID',
    'INVENTORY_UPDATE_ID', 'AD_HOC_COMMAND_ID', 'REST_API_URL', 'REST_API_TOKEN', 'MAX_EVENT_RES',
    'CALLBACK_QUEUE', 'CALLBACK_CONNECTION', 'CACHE', 'JOB_CALLBACK_DEBUG', 'INVENTORY_HOSTVARS',
    'AWX_HOST', 'PROJECT_REVISION', 'SUPERVISOR_CONFIG_PATH',
))
KINDS = ('ssh', 'vault', 'net', 'scm', 'cloud', 'insights')

INPUTS_SCHEMA = {
    'type': 'object',
    'additionalProperties': False,
    'properties': {
        'required': {'type': 'array', 'items': {'type': 'string'}},
        'fields': {
            'type': 'array',
            'items': {
                'type': 'object',
                'properties': {
                    'type': {'enum': ['string', 'boolean']},
                    'format': {'enum': ['ssh_private_key', 'url']},
                    'choices': {'type': 'array', 'minItems': 1, 'items': {'type': 'string'}, 'uniqueItems': True},
                    'id': {'type': 'string', 'pattern': '^[a-zA-Z_]+[a-zA-Z0-9_]*$'},
                    'label': {'type': 'string'},
                    'help_text': {'type': 'string'},
                    'multiline': {'type': 'boolean'},
                    'secret': {'type': 'boolean'},
                    'ask_at_runtime': {'type': 'boolean'},
                    'default': {},
                },
                'additionalProperties': False,
                'required': ['id', 'label'],
            },
        },
    },
}
INJECTORS_SCHEMA = {
    'type': 'object',
    'additionalProperties': False,
    'properties': {
        'file': {
            'type': 'object',
            'patternProperties': {r'^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$': {'type': 'string'}},
            'additionalProperties': False,
        },
        'env': {
            'type': 'object',
            'patternProperties': {'^[a-zA-Z_]+[a-zA-Z0-9_]*$': {'type': 'string', 'pattern': '^[\x00-\x7F]*$'}},
            'additionalProperties': False,
        },
        'extra_vars': {
            'type': 'object',
            'patternProperties': {r'^[a-zA-Z_\{\}]+[a-zA-Z0-9_\{\}]*$': {}},
            'additionalProperties': False,
        },
    },
}


class _Namespace(object):
    pass


def fields(credential_type):
    return credential_type.get('inputs', {}).get('fields', [])


def secret_fields(credential_type):
    return set(f['id'] for f in fields(credential_type) if f.get('secret'))


def validation_problems(credential_type):
    """Everything AWX would refuse in this credential type (an empty list when it is valid)."""
    problems = []
    for key in ('name', 'kind', 'inputs', 'injectors'):
        if key not in credential_type:
            problems.append('missing %s' % key)
    if credential_type.get('kind') not in KINDS:
        problems.append('kind %r is not one of %s' % (credential_type.get('kind'), ', '.join(KINDS)))
    inputs, injectors = credential_type.get('inputs', {}), credential_type.get('injectors', {})
    for what, schema, value in (('inputs', INPUTS_SCHEMA, inputs), ('injectors', INJECTORS_SCHEMA, injectors)):
        for error in jsonschema.Draft4Validator(schema).iter_errors(value):
            problems.append('%s: %s at %s' % (what, error.message, '/'.join(str(p) for p in error.path)))
    if problems:
        return problems
    seen = set()
    for field in fields(credential_type):
        fid, ftype = field['id'], field.get('type', 'string')
        if fid == 'tower':
            problems.append('"tower" is a reserved field name')
        if fid in seen:
            problems.append('field IDs must be unique (%s)' % fid)
        seen.add(fid)
        if 'default' in field and not isinstance(field['default'], {'string': str, 'boolean': bool}[ftype]):
            problems.append('%s: default %r is not a %s' % (fid, field['default'], ftype))
        for key in ('choices', 'multiline', 'format', 'secret'):
            if key in field and ftype != 'string':
                problems.append('%s: %s not allowed for %s type' % (fid, key, ftype))
        if 'choices' in field and 'default' in field and field['default'] not in field['choices']:
            problems.append('%s: default %r is not one of its choices' % (fid, field['default']))
    for name in inputs.get('required', []):
        if name not in seen:
            problems.append('required names an undefined field %r' % name)
    for env_var in injectors.get('env', {}):
        if env_var.startswith('ANSIBLE_'):
            problems.append('env %s may affect Ansible configuration: not allowed in credentials' % env_var)
        if env_var in ENV_BLOCKLIST:
            problems.append('env %s is not allowed in credentials' % env_var)
    # Render every template as AWX validates it: StrictUndefined, every field defined.
    namespace = dict((fid, 'EXAMPLE') for fid in seen)
    tower = _Namespace()
    templates = list(injectors.get('file', {}))
    if 'template' in templates:
        tower.filename = 'EXAMPLE_FILENAME'
        if len(templates) > 1:
            problems.append('must use multi-file syntax when injecting multiple files')
    elif templates:
        tower.filename = _Namespace()
        for label in templates:
            setattr(tower.filename, label.split('.', 1)[1], 'EXAMPLE_FILENAME')
    namespace['tower'] = tower
    jinja = sandbox.ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    for kind in ('file', 'env'):
        for key, template in injectors.get(kind, {}).items():
            try:
                jinja.from_string(template).render(namespace)
            except (UndefinedError, SecurityError, TemplateSyntaxError) as exc:
                problems.append('%s %s: %s' % (kind, key, exc))
    return problems


def inject(credential_type, inputs, private_data_dir):
    """The environment a job gets from a credential of this type with these inputs; file
    injectors are written under ``<private_data_dir>/env`` (0600), as AWX does."""
    namespace = {}
    defined = dict((f['id'], f) for f in fields(credential_type))
    for fid, field in defined.items():
        value = inputs.get(fid, field.get('default'))
        if isinstance(value, bool):
            namespace[fid] = value
        elif value:
            namespace[fid] = value
    tower = _Namespace()
    namespace['tower'] = tower
    jinja = sandbox.ImmutableSandboxedEnvironment()
    env_dir = os.path.join(str(private_data_dir), 'env')
    os.makedirs(env_dir, exist_ok=True)
    for label, template in credential_type['injectors'].get('file', {}).items():
        handle, path = tempfile.mkstemp(dir=env_dir)
        with os.fdopen(handle, 'w') as out:
            out.write(jinja.from_string(template).render(**namespace))
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        if '.' not in label:
            tower.filename = path
        else:
            if not hasattr(tower, 'filename'):
                tower.filename = _Namespace()
            setattr(tower.filename, label.split('.', 1)[1], path)
    return dict((name, jinja.from_string(template).render(**namespace))
                for name, template in credential_type['injectors'].get('env', {}).items())
