"""Every error message the collection can print is explained in docs/troubleshooting.md.

The messages are found by reading the code (an AST walk over plugins/**/*.py), not by a hand-kept
list, so a new error message fails this test until it is documented:

- the message of each ``(field, message)`` problem tuple (``ValidationError([...])``,
  ``problems.append((field, message))``, ``errors.append(...)``);
- the first text argument of ``WardenError`` and every subclass of it defined in plugins/,
  ``AnsibleError`` / ``AnsibleLookupError`` / ``AnsibleActionFail`` / ..., and of any call that is
  raised directly (``raise bad('...')``, ``raise self._fail('...')``, ``raise ValueError('...')``),
  and of the module helpers ``fail('...')`` / ``_fail('...')``;
- ``msg=`` of ``module.fail_json(...)`` and of failed results (``result.update(failed=True, msg=...)``,
  ``dict(failed=True, msg=...)``, ``{'failed': True, 'msg': ...}``);
- ``msg`` of ``ansible.builtin.fail`` and ``fail_msg`` of ``ansible.builtin.assert`` tasks in
  roles/*/tasks/ and playbooks/ (the text before the first ``{{``);
- the texts returned or built in functions that compose the message of one of the above: a function
  of the same file whose result is passed to it (``raise self._refuse(self._no_token(route))``), and
  any function named ``*refus*``, ``message`` or ``_message`` (``_sign_refused``, ``Decision.message``).

A message is a template (``'cannot reach OpenBao at %s: %s'``); its key is the literal text before
the first placeholder (``%s``, ``%(name)s``, ``{}``, or a value joined in), or, when that is too
short to tell messages apart, the longest literal part. Keys shorter than MIN_KEY characters are
generic (``is empty``) and left out. The doc must contain each key; whitespace runs are compared as
one space, so the doc may wrap lines, and ``\\|`` in a table counts as ``|``.
"""

from __future__ import absolute_import, division, print_function

import ast
import functools
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PLUGINS = os.path.join(ROOT, 'plugins')
TASK_DIRS = [os.path.join(ROOT, 'playbooks'), os.path.join(ROOT, 'roles')]
DOC = os.path.join(ROOT, 'docs', 'troubleshooting.md')

MIN_KEY = 14      # shorter literal parts are generic ("is required", "must be a string")
MAX_KEY = 72      # a longer key is cut at a word boundary: the doc quotes at least this much

HOLE = '\x00'     # stands for a value joined into a message at run time

ANSIBLE_ERRORS = {
    'AnsibleError', 'AnsibleLookupError', 'AnsibleActionFail', 'AnsibleFilterError',
    'AnsibleOptionsError', 'AnsibleParserError', 'AnsibleModuleError', 'AnsibleRuntimeError',
}
BASE_ERRORS = {'WardenError'}
FAIL_HELPERS = {'fail', '_fail'}   # local helpers that end in fail_json(msg=...) or return an error

PLACEHOLDER = re.compile(
    r'%(?:\([^)]*\))?[-#0 +]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[sdrifuxXeEgGcaoj]'   # printf style
    r'|\{[^{}]*\}'                                                          # str.format style
    r'|\{\{.*?\}\}|\{%.*?%\}'                                                # Jinja
    r'|' + HOLE, re.S)


def _callee(node):
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _templates(node):
    """The message templates an expression can produce (a list; empty when not text)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value.replace(HOLE, '')]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _templates(node.left)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left = _templates(node.left) or [HOLE]
        right = _templates(node.right) or [HOLE]
        if left == [HOLE] and right == [HOLE]:
            return []
        return [a + b for a in left for b in right]
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                parts.append(value.value)
            else:
                parts.append(HOLE)
        return [''.join(parts)]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == 'format':
        return _templates(node.func.value)
    if isinstance(node, ast.IfExp):
        return _templates(node.body) + _templates(node.orelse)
    return []


def _is_true(node):
    return isinstance(node, ast.Constant) and node.value is True


def _error_classes(trees):
    """WardenError and every class in plugins/ derived from it (or from an Ansible error)."""
    known = set(BASE_ERRORS) | set(ANSIBLE_ERRORS)
    grew = True
    while grew:
        grew = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in known:
                    bases = {b.id if isinstance(b, ast.Name) else getattr(b, 'attr', None) for b in node.bases}
                    if bases & known:
                        known.add(node.name)
                        grew = True
    return known


def _problem_tuples(node):
    """Messages of (field, message) tuples inside an expression (a list of problems)."""
    found = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Tuple) and len(sub.elts) == 2:
            found.extend(_templates(sub.elts[1]))
    return found


COMPOSERS = re.compile(r'refus|^_?message$')


def _composed(func):
    """Texts a refusal/message composer returns or builds."""
    found = []
    for node in ast.walk(func):
        if isinstance(node, (ast.Return, ast.Assign, ast.AugAssign)) and node.value is not None:
            found.extend(_templates(node.value))
    return found


def _messages_in(tree, error_classes):
    found = []
    raised = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            raised.add(id(node.exc))
    composers = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (_callee(node) in error_classes or id(node) in raised):
            for arg in node.args:
                if isinstance(arg, ast.Call) and _callee(arg):
                    composers.add(_callee(arg))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                COMPOSERS.search(node.name) or node.name in composers):
            found.extend(_composed(node))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _callee(node)
            keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
            if name == 'ValidationError':
                for arg in node.args[:1]:
                    found.extend(_problem_tuples(arg))
            elif name in error_classes or name in FAIL_HELPERS or id(node) in raised:
                texts = []
                for arg in node.args:
                    texts = _templates(arg)
                    if texts:
                        break
                found.extend(texts)
                if 'msg' in keywords:
                    found.extend(_templates(keywords['msg']))
            if name == 'append' and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, 'attr', '')
                if 'problem' in owner_name or 'error' in owner_name:
                    for arg in node.args:
                        if isinstance(arg, ast.Tuple):
                            found.extend(_problem_tuples(arg))
            if name == 'fail_json' and 'msg' in keywords:
                found.extend(_templates(keywords['msg']))
            if name in ('update', 'dict') and 'msg' in keywords and _is_true(keywords.get('failed')):
                found.extend(_templates(keywords['msg']))
        elif isinstance(node, ast.Dict):
            pairs = {}
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    pairs[key.value] = value
            if 'msg' in pairs and _is_true(pairs.get('failed')):
                found.extend(_templates(pairs['msg']))
    return found


def _normalize(text):
    return re.sub(r'\s+', ' ', text.replace('\\|', '|')).strip()


def message_key(template):
    """The part of a message template the doc must quote, or None for a generic one."""
    parts = [_normalize(part) for part in PLACEHOLDER.split(template.replace('%%', '%'))]
    parts = [part for part in parts if part]
    if not parts:
        return None
    first = _normalize(PLACEHOLDER.split(template.replace('%%', '%'))[0])
    key = first if len(first) >= MIN_KEY else max(parts, key=len)
    if len(key) < MIN_KEY:
        return None
    if len(key) > MAX_KEY:
        cut = key.rfind(' ', 0, MAX_KEY)
        key = key[:cut if cut >= MIN_KEY else MAX_KEY]
    return key


@functools.lru_cache(maxsize=None)
def collect_messages(root=PLUGINS):
    """{key: sorted list of 'path:template'} for every error message template under plugins/."""
    trees = {}
    for folder, dummy, files in os.walk(root):
        for name in sorted(files):
            if name.endswith('.py'):
                path = os.path.join(folder, name)
                with open(path, encoding='utf-8') as handle:
                    trees[os.path.relpath(path, ROOT)] = ast.parse(handle.read(), filename=path)
    error_classes = _error_classes(trees)
    keys = {}
    for path, tree in sorted(trees.items()):
        for template in _messages_in(tree, error_classes):
            key = message_key(template)
            if key:
                keys.setdefault(key, set()).add('%s: %r' % (path, template.replace(HOLE, '<value>')))
    return dict((key, sorted(where)) for key, where in keys.items())


def _task_messages(node):
    """fail msg / assert fail_msg texts in a parsed playbook or task file (blocks included)."""
    found = []
    if isinstance(node, list):
        for item in node:
            found.extend(_task_messages(item))
    elif isinstance(node, dict):
        for module, key in (('fail', 'msg'), ('assert', 'fail_msg')):
            for name in (module, 'ansible.builtin.' + module, 'ansible.legacy.' + module):
                args = node.get(name)
                if isinstance(args, dict) and isinstance(args.get(key), str):
                    found.append(args[key])
        for key in ('tasks', 'pre_tasks', 'post_tasks', 'handlers', 'block', 'rescue', 'always'):
            found.extend(_task_messages(node.get(key)))
    return found


def collect_task_messages():
    """{key: sorted list of 'path: template'} for fail/assert messages of roles and playbooks."""
    keys = {}
    for top in TASK_DIRS:
        for folder, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d not in ('molecule', 'tests', 'files', 'templates'))
            for name in sorted(files):
                if not name.endswith(('.yml', '.yaml')):
                    continue
                path = os.path.join(folder, name)
                with open(path, encoding='utf-8') as handle:
                    try:
                        data = yaml.safe_load(handle)
                    except yaml.YAMLError:
                        continue
                for template in _task_messages(data):
                    key = message_key(template)
                    if key:
                        keys.setdefault(key, set()).add('%s: %r' % (os.path.relpath(path, ROOT), template.strip()))
    return dict((key, sorted(where)) for key, where in keys.items())


def test_the_extractor_finds_the_kinds_of_message_it_promises():
    messages = collect_messages()
    assert len(messages) > 100
    # one of each kind: a problem tuple, a WardenError subclass, a raised helper, fail_json,
    # an action result, an AnsibleLookupError
    for expected in ('(rejected, never clamped)', 'cannot reach OpenBao at', 'is not in the actor inventory',
                     'policy denied signing for', 'no OpenBao token of your own',
                     'is not an OpenSSH certificate', 'probe login could not run:'):
        assert any(expected in key for key in messages), expected


def test_message_key():
    assert message_key('cannot reach OpenBao at %s: %s') == 'cannot reach OpenBao at'
    assert message_key('%s is in the future (today is %s)') == 'is in the future (today is'
    assert message_key('is required') is None
    assert message_key('the %(what)s is %d%% full') is None
    assert message_key('host_principals rolled back on {{ inventory_hostname }}: x') == 'host_principals rolled back on'


def test_the_extractor_reads_role_failures():
    assert any(key.startswith('host_principals rolled back on') for key in collect_task_messages())


def test_every_error_message_is_in_troubleshooting_md():
    with open(DOC, encoding='utf-8') as handle:
        doc = _normalize(handle.read())
    messages = dict(collect_messages())
    for key, where in collect_task_messages().items():
        messages[key] = messages.get(key, []) + where
    missing = dict((key, where) for key, where in messages.items() if key not in doc)
    if missing:
        lines = ['%d error message(s) are not explained in docs/troubleshooting.md.' % len(missing),
                 'Quote each text below (placeholders as <name>) under its group, with what it means and the fix:']
        for key in sorted(missing):
            lines.append('- %r   from %s' % (key, '; '.join(missing[key])))
        pytest.fail('\n'.join(lines), pytrace=False)
