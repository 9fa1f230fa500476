# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a file the controller is given (inventory, registry snapshot, routing catalog) as UTF-8
text, with an error that names the file and the field it came from."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError


def read_text_file(path, label, what, field=None):
    """The UTF-8 text of ``path``; ValidationError on ``field`` (default: the path) saying ``label``
    cannot be read or is not UTF-8 text."""
    field = path if field is None else field
    try:
        with open(path, 'rb') as handle:
            raw = handle.read()
    except (IOError, OSError) as exc:
        raise ValidationError([(field, 'cannot read %s: %s' % (label, exc.strerror or exc))], what=what)
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError:
        raise ValidationError([(field, '%s is not UTF-8 text' % label)], what=what)
