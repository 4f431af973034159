# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A small JSON Schema validator for the subset workload profiles use.

Why not the ``jsonschema`` library: the gate runs on the managed node, where the collection
promises nothing beyond the standard library (requirements.txt), and the answers it checks are
short. This covers the keywords the built-in profiles and typical structured-output / tool
schemas use, and ``check_schema`` refuses any other keyword so that a profile never silently
passes an answer a keyword it does not understand would have failed:

    type (string or list), properties, required, additionalProperties (bool or schema), items
    (one schema), enum, const, minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers),
    minLength, maxLength, pattern, minItems, maxItems, description, title, default, $schema.

``pattern`` is searched with Python's ``re`` (JSON Schema asks for ECMA 262 regular expressions; the
character classes, anchors and counted repeats that bound a field are the same in both). A bounded
pattern such as ``^[a-z ]{1,24}$`` is also how a schema keeps guided decoding short: vLLM's xgrammar
backend refuses ``pattern`` together with ``maxLength`` on one string.

The unit tests cross-check it against the ``jsonschema`` library of the test environment.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import re

TYPES = ('object', 'array', 'string', 'integer', 'number', 'boolean', 'null')
KEYWORDS = ('type', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'const', 'minimum',
            'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'pattern', 'minItems',
            'maxItems', 'description', 'title', 'default', '$schema')


def _is_type(value, t):
    if t == 'object':
        return isinstance(value, dict)
    if t == 'array':
        return isinstance(value, list)
    if t == 'string':
        return isinstance(value, str)
    if t == 'integer':
        if isinstance(value, float):
            return value.is_integer()
        return isinstance(value, int) and not isinstance(value, bool)
    if t == 'number':
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == 'boolean':
        return isinstance(value, bool)
    return value is None


def check_schema(schema, where='schema'):
    """Messages for what this validator cannot check (unknown keywords, bad types); [] when fine."""
    errors = []
    if not isinstance(schema, dict):
        return ['%s must be a dict (a JSON schema), got %r' % (where, schema)]
    unknown = sorted(k for k in schema if k not in KEYWORDS)
    if unknown:
        errors.append('%s uses JSON Schema keyword%s %s that the gate does not check; supported: %s'
                      % (where, 's' if len(unknown) > 1 else '', ', '.join(unknown), ', '.join(KEYWORDS)))
    types = schema.get('type')
    for t in (types if isinstance(types, list) else [types] if types is not None else []):
        if t not in TYPES:
            errors.append('%s.type must be one of %s, got %r' % (where, ', '.join(TYPES), t))
    props = schema.get('properties', {})
    if not isinstance(props, dict):
        errors.append('%s.properties must be a dict, got %r' % (where, props))
    else:
        for name, sub in props.items():
            errors.extend(check_schema(sub, '%s.properties.%s' % (where, name)))
    req = schema.get('required', [])
    if not (isinstance(req, list) and all(isinstance(r, str) for r in req)):
        errors.append('%s.required must be a list of property names, got %r' % (where, req))
    if isinstance(schema.get('additionalProperties'), dict):
        errors.extend(check_schema(schema['additionalProperties'], where + '.additionalProperties'))
    if 'items' in schema:
        errors.extend(check_schema(schema['items'], where + '.items'))
    if 'pattern' in schema:
        try:
            re.compile(schema['pattern'])
        except (re.error, TypeError) as exc:
            errors.append('%s.pattern must be a regular expression, got %r (%s)' % (where, schema['pattern'], exc))
    if 'enum' in schema and not (isinstance(schema['enum'], list) and schema['enum']):
        errors.append('%s.enum must be a non-empty list, got %r' % (where, schema['enum']))
    return errors


def validate(instance, schema, where='$'):
    """Messages for every way ``instance`` breaks ``schema`` (the subset above); [] when it is valid."""
    errors = []
    types = schema.get('type')
    if types is not None:
        tl = types if isinstance(types, list) else [types]
        if not any(_is_type(instance, t) for t in tl):
            return ['%s: expected %s, got %s' % (where, ' or '.join(tl), type(instance).__name__)]
    if 'const' in schema and instance != schema['const']:
        errors.append('%s: must be %r, got %r' % (where, schema['const'], instance))
    if 'enum' in schema and instance not in schema['enum']:
        errors.append('%s: must be one of %s, got %r' % (where, ', '.join(repr(e) for e in schema['enum']), instance))
    if isinstance(instance, (int, float)) and not isinstance(instance, bool):
        for key, bad, text in (('minimum', lambda v, m: v < m, '>='), ('maximum', lambda v, m: v > m, '<='),
                               ('exclusiveMinimum', lambda v, m: v <= m, '>'),
                               ('exclusiveMaximum', lambda v, m: v >= m, '<')):
            if key in schema and bad(instance, schema[key]):
                errors.append('%s: must be %s %r, got %r' % (where, text, schema[key], instance))
    if isinstance(instance, str):
        if 'minLength' in schema and len(instance) < schema['minLength']:
            errors.append('%s: shorter than minLength %d' % (where, schema['minLength']))
        if 'maxLength' in schema and len(instance) > schema['maxLength']:
            errors.append('%s: longer than maxLength %d' % (where, schema['maxLength']))
        if 'pattern' in schema and not re.search(schema['pattern'], instance):
            errors.append('%s: does not match pattern %r' % (where, schema['pattern']))
    if isinstance(instance, list):
        if 'minItems' in schema and len(instance) < schema['minItems']:
            errors.append('%s: fewer than minItems %d' % (where, schema['minItems']))
        if 'maxItems' in schema and len(instance) > schema['maxItems']:
            errors.append('%s: more than maxItems %d' % (where, schema['maxItems']))
        if isinstance(schema.get('items'), dict):
            for i, item in enumerate(instance):
                errors.extend(validate(item, schema['items'], '%s[%d]' % (where, i)))
    if isinstance(instance, dict):
        props = schema.get('properties', {})
        for name in schema.get('required', []):
            if name not in instance:
                errors.append('%s: required property %r is missing' % (where, name))
        extra = schema.get('additionalProperties', True)
        for name, value in instance.items():
            if name in props:
                errors.extend(validate(value, props[name], '%s.%s' % (where, name)))
            elif extra is False:
                errors.append('%s: property %r is not allowed (additionalProperties: false)' % (where, name))
            elif isinstance(extra, dict):
                errors.extend(validate(value, extra, '%s.%s' % (where, name)))
    return errors


def _minimal_string(schema):
    """The shortest of a few plain strings that fits minLength and pattern ('a' repeated when none does:
    a placeholder, not a promise; a pattern in general has no cheap smallest match)."""
    size = max(1, schema.get('minLength', 1))
    for text in ('a' * size, 'A' * size, '1' * size, 'a1' * size, 'a' * max(size, 8)):
        if 'pattern' not in schema or re.search(schema['pattern'], text):
            return text
    return 'a' * size


def minimal_instance(schema):
    """The smallest value that validates against ``schema`` (the subset above): required properties
    only, the first enum value, the lower bound of a number; used for placeholder answers."""
    if 'const' in schema:
        return schema['const']
    if 'enum' in schema:
        return schema['enum'][0]
    t = schema.get('type', 'object')
    if isinstance(t, list):
        t = t[0]
    if t == 'object':
        props = schema.get('properties', {})
        return dict((name, minimal_instance(props.get(name, {}))) for name in schema.get('required', []))
    if t == 'array':
        return [minimal_instance(schema.get('items', {})) for _i in range(schema.get('minItems', 0))]
    if t == 'string':
        return _minimal_string(schema)
    if t in ('integer', 'number'):
        if 'minimum' in schema:
            v = schema['minimum']
        elif 'exclusiveMinimum' in schema:
            v = schema['exclusiveMinimum'] + 1
        elif 'maximum' in schema:
            v = min(0, schema['maximum'])
        elif 'exclusiveMaximum' in schema:
            v = min(0, schema['exclusiveMaximum'] - 1)
        else:
            v = 0
        return int(math.ceil(v)) if t == 'integer' else v
    if t == 'boolean':
        return False
    return None
