# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Workload profiles: the schema, its validation, a seeded workload generator and the answer checks.

A profile is one YAML document / dict describing a kind of work (chat, RAG, agentic, batch, ...):
the API, input and output length distributions, a shared prefix, multi-turn sessions, tools,
structured output, arrival process and default SLOs. ``validate(profile)`` returns it with every
default filled in, or raises ProfileError naming the field and what it accepts. ``session(profile,
seed, index)`` builds one session's requests as plain dicts: the same (profile, seed, index) gives
the same requests on every run and on every host, whatever other sessions were built before.

Not the planner's ``workload`` (online|offline): that sizes vLLM's batching (max-num-seqs,
max-num-batched-tokens). Each profile names the planner workload it is served with.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import random

from ansible_collections.inferops.vllm.plugins.module_utils.lengthdist import LengthDistError, LengthDist, normalize
from ansible_collections.inferops.vllm.plugins.module_utils.loadstats import SLO_BY_NAME, check_slo_names
from ansible_collections.inferops.vllm.plugins.module_utils.plan import WORKLOADS
from ansible_collections.inferops.vllm.plugins.module_utils.prompttext import TextGen
from ansible_collections.inferops.vllm.plugins.module_utils.schemacheck import check_schema, minimal_instance
from ansible_collections.inferops.vllm.plugins.module_utils.schemacheck import validate as schema_validate

APIS = ('chat', 'completions')
KINDS = ('interactive', 'batch')
# Same names as the throughput module's arrival/burstiness: gamma is Poisson arrivals with
# gamma-distributed gaps of shape ``burstiness`` (what the module calls poisson with burstiness != 1).
ARRIVALS = ('constant', 'poisson', 'gamma')
TOOL_CHOICES = ('auto', 'required', 'none')
SESSION_HEADER = 'x-session-id'

# Interactive work is judged on what a user waits for: the first token, then the pace of the
# rest (100 ms per token is 10 tokens/s, faster than people read). Batch work has no latency
# objective: only its throughput counts, so capacity is the highest rate without errors.
DEFAULT_SLOS = {
    'interactive': {'max_ttft_p95_ms': 2000, 'max_tpot_p95_ms': 100},
    'batch': {},
}

FIELDS = ('name', 'description', 'kind', 'workload', 'api', 'input_tokens', 'output_tokens', 'shared_prefix',
          'turns', 'think_time_s', 'tools', 'tool_choice', 'parallel_tool_calls', 'structured_output', 'ignore_eos',
          'arrival', 'burstiness', 'slos')


class ProfileError(ValueError):
    """An invalid profile; the message names the profile, the field path and the accepted values."""


def _err(name, msg):
    return ProfileError("profile '%s': %s" % (name, msg))


def _int_field(name, value, path, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _err(name, '%s must be an integer >= %d, got %r' % (path, minimum, value))
    return value


def _num_field(name, value, path, minimum=0.0, strict=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum or \
            (strict and value <= minimum):
        raise _err(name, '%s must be a number %s %g, got %r' % (path, '>' if strict else '>=', minimum, value))
    return float(value)


def _range(name, value, path, integer, minimum):
    """An int/number, or {min, max}: returned as {'min': a, 'max': b}."""
    check = (lambda v, p: _int_field(name, v, p, minimum)) if integer else \
        (lambda v, p: _num_field(name, v, p, minimum))
    if isinstance(value, dict):
        unknown = sorted(k for k in value if k not in ('min', 'max'))
        if unknown:
            raise _err(name, '%s has unknown field %s; accepted: min, max' % (path, ', '.join(map(str, unknown))))
        lo = check(value.get('min'), path + '.min')
        hi = check(value.get('max', lo), path + '.max')
        if hi < lo:
            raise _err(name, '%s.max (%s) must be >= %s.min (%s)' % (path, hi, path, lo))
        return {'min': lo, 'max': hi}
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)) \
            or value < minimum:
        raise _err(name, '%s must be %s >= %s or {min, max}, got %r'
                   % (path, 'an integer' if integer else 'a number', minimum, value))
    v = value if integer else float(value)
    return {'min': v, 'max': v}


def _dist(name, value, path):
    try:
        return normalize(value, "profile '%s': %s" % (name, path))
    except LengthDistError as exc:
        raise ProfileError(str(exc))


def _tools(name, tools):
    if not isinstance(tools, list):
        raise _err(name, 'tools must be a list of OpenAI tool definitions ({type: function, function: {name, '
                         'description, parameters}}), got %r' % (tools,))
    out = []
    seen = set()
    for i, tool in enumerate(tools):
        path = 'tools[%d]' % i
        if not isinstance(tool, dict) or tool.get('type', 'function') != 'function' or \
                not isinstance(tool.get('function'), dict):
            raise _err(name, '%s must be {type: function, function: {name, description, parameters}}, got %r'
                       % (path, tool))
        fn = tool['function']
        unknown = sorted(k for k in fn if k not in ('name', 'description', 'parameters', 'strict'))
        if unknown:
            raise _err(name, '%s.function has unknown field %s; accepted: name, description, parameters, strict'
                       % (path, ', '.join(map(str, unknown))))
        fname = fn.get('name')
        if not isinstance(fname, str) or not fname:
            raise _err(name, '%s.function.name must be a non-empty string, got %r' % (path, fname))
        if fname in seen:
            raise _err(name, '%s.function.name %r is used by two tools' % (path, fname))
        seen.add(fname)
        params = fn.get('parameters', {'type': 'object', 'properties': {}})
        errors = check_schema(params, '%s.function.parameters' % path)
        if errors:
            raise _err(name, '; '.join(errors))
        clean = {'name': fname, 'parameters': params}
        if fn.get('description'):
            clean['description'] = str(fn['description'])
        out.append({'type': 'function', 'function': clean})
    return out


def _tool_choice(name, choice, tools):
    names = [t['function']['name'] for t in tools]
    if choice is None:
        return 'required' if tools else 'none'
    if isinstance(choice, dict):
        choice = (choice.get('function') or {}).get('name')
    if choice in TOOL_CHOICES:
        if choice != 'none' and not tools:
            raise _err(name, 'tool_choice %r needs tools' % choice)
        return choice
    if choice in names:
        return choice
    raise _err(name, 'tool_choice must be one of %s or the name of a tool (%s), got %r'
               % (', '.join(TOOL_CHOICES), ', '.join(names) or 'none defined', choice))


def _structured(name, spec):
    if spec is None:
        return None
    if not isinstance(spec, dict) or 'schema' not in spec:
        raise _err(name, 'structured_output must be {schema: <JSON schema>, name: <str>}, got %r' % (spec,))
    unknown = sorted(k for k in spec if k not in ('schema', 'name', 'strict'))
    if unknown:
        raise _err(name, 'structured_output has unknown field %s; accepted: schema, name, strict'
                   % ', '.join(map(str, unknown)))
    errors = check_schema(spec['schema'], 'structured_output.schema')
    if errors:
        raise _err(name, '; '.join(errors))
    return {'schema': spec['schema'], 'name': str(spec.get('name') or 'answer'), 'strict': bool(spec.get('strict',
                                                                                                         True))}


def validate(profile, name=None):
    """The profile with defaults filled in (a new dict); raises ProfileError naming the field."""
    if not isinstance(profile, dict):
        raise ProfileError('a profile must be a dict (one YAML document), got %r' % (profile,))
    name = profile.get('name') or name
    if not isinstance(name, str) or not name:
        raise ProfileError('a profile needs a name (a non-empty string), got %r' % (name,))
    unknown = sorted(str(k) for k in profile if k not in FIELDS)
    if unknown:
        plural = 's' if len(unknown) > 1 else ''
        raise _err(name, 'unknown field%s %s; accepted: %s' % (plural, ', '.join(unknown), ', '.join(FIELDS)))
    p = {'name': name, 'description': str(profile.get('description') or '')}
    p['kind'] = profile.get('kind', 'interactive')
    if p['kind'] not in KINDS:
        raise _err(name, 'kind must be one of %s, got %r' % (', '.join(KINDS), p['kind']))
    p['workload'] = profile.get('workload', 'offline' if p['kind'] == 'batch' else 'online')
    if p['workload'] not in WORKLOADS:
        raise _err(name, 'workload (the planner workload it is served with) must be one of %s, got %r'
                   % (', '.join(WORKLOADS), p['workload']))
    p['api'] = profile.get('api', 'chat')
    if p['api'] not in APIS:
        raise _err(name, 'api must be one of %s, got %r' % (', '.join(APIS), p['api']))
    for key in ('input_tokens', 'output_tokens'):
        if key not in profile:
            raise _err(name, '%s is required (a length distribution: an integer or {kind: fixed|uniform|normal|'
                             'lognormal|histogram, ...})' % key)
        p[key] = _dist(name, profile[key], key)
    sp = profile.get('shared_prefix') or {}
    if not isinstance(sp, dict) or any(k not in ('tokens', 'count') for k in sp):
        raise _err(name, 'shared_prefix must be {tokens: <int >= 0>, count: <int >= 1>}, got %r' % (sp,))
    p['shared_prefix'] = {'tokens': _int_field(name, sp.get('tokens', 0), 'shared_prefix.tokens', 0),
                          'count': _int_field(name, sp.get('count', 1), 'shared_prefix.count', 1)}
    p['turns'] = _range(name, profile.get('turns', 1), 'turns', True, 1)
    p['think_time_s'] = _range(name, profile.get('think_time_s', 0), 'think_time_s', False, 0.0)
    p['tools'] = _tools(name, profile.get('tools') or [])
    p['tool_choice'] = _tool_choice(name, profile.get('tool_choice'), p['tools'])
    # One tool call per turn (false), as an agent loop that reads each tool's result before the next
    # call; vLLM then holds a required tool call to one item (maxItems 1), without which a model may
    # keep adding calls until max_tokens. null: the API's default (parallel calls allowed), not sent.
    p['parallel_tool_calls'] = profile.get('parallel_tool_calls')
    if p['parallel_tool_calls'] is not None and not isinstance(p['parallel_tool_calls'], bool):
        raise _err(name, 'parallel_tool_calls must be true, false or null, got %r' % (p['parallel_tool_calls'],))
    if p['parallel_tool_calls'] is not None and not p['tools']:
        raise _err(name, 'parallel_tool_calls needs tools')
    p['structured_output'] = _structured(name, profile.get('structured_output'))
    if p['tools'] and p['api'] != 'chat':
        raise _err(name, 'tools need api: chat, got api %r' % p['api'])
    if p['structured_output'] and p['tool_choice'] != 'none':
        raise _err(name, 'structured_output and tools with tool_choice %r exclude each other: the answer is either '
                         'a tool call or a JSON document' % p['tool_choice'])
    # A forced length (ignore_eos + min_tokens) keeps the load exactly the distribution; a tool
    # call or a JSON document must be allowed to end where it ends.
    p['ignore_eos'] = profile.get('ignore_eos', p['tool_choice'] == 'none' and not p['structured_output'])
    if not isinstance(p['ignore_eos'], bool):
        raise _err(name, 'ignore_eos must be true or false, got %r' % (p['ignore_eos'],))
    if p['ignore_eos'] and (p['tool_choice'] != 'none' or p['structured_output']):
        raise _err(name, 'ignore_eos: true would force the answer past the end of its tool call or JSON document; '
                         'leave it false for profiles with tools or structured_output')
    p['arrival'] = profile.get('arrival', 'poisson')
    if p['arrival'] not in ARRIVALS:
        raise _err(name, 'arrival must be one of %s, got %r' % (', '.join(ARRIVALS), p['arrival']))
    p['burstiness'] = _num_field(name, profile.get('burstiness', 1.0), 'burstiness', 0.0, strict=True)
    if p['arrival'] == 'constant' and p['burstiness'] != 1.0:
        raise _err(name, 'burstiness applies to arrival poisson or gamma, not constant (got %g)' % p['burstiness'])
    if p['arrival'] == 'poisson' and p['burstiness'] != 1.0:
        p['arrival'] = 'gamma'       # the throughput module's poisson with burstiness != 1
    slos = profile.get('slos')
    if slos is None:
        slos = dict(DEFAULT_SLOS[p['kind']])
    if not isinstance(slos, dict):
        raise _err(name, 'slos must be a dict of SLO name to limit, got %r' % (slos,))
    msg = check_slo_names(slos, "profile '%s': slos" % name)
    if msg:
        raise ProfileError(msg)
    for key, val in slos.items():
        _num_field(name, val, 'slos.%s' % key, 0.0)
    p['slos'] = dict(slos)
    return p


# -- facts about a validated profile -----------------------------------------------------------
def expects(profile):
    """What a correct answer is: 'tool_call', 'json' or 'text'."""
    if profile['tool_choice'] != 'none':
        return 'tool_call'
    if profile['structured_output']:
        return 'json'
    return 'text'


def gate_arrival(profile):
    """The throughput module's options for the profile's arrival: {'arrival', 'burstiness'}."""
    if profile['arrival'] == 'constant':
        return {'arrival': 'constant', 'burstiness': 1.0}
    return {'arrival': 'poisson', 'burstiness': profile['burstiness']}


def max_context_tokens(profile):
    """Longest prompt + answer a session can reach (tokens): prefix, then every turn's input and
    answer carried into the next one, at the distributions' maxima."""
    turns = profile['turns']['max']
    inp = LengthDist(profile['input_tokens'], checked=True).max_value
    out = LengthDist(profile['output_tokens'], checked=True).max_value
    return profile['shared_prefix']['tokens'] + turns * (inp + out)


def check_fits(profile, max_model_len, overhead_tokens=0):
    """None, or a message saying the profile's longest session does not fit ``max_model_len``."""
    need = max_context_tokens(profile) + int(overhead_tokens)
    if need <= int(max_model_len):
        return None
    return ("profile '%s': its longest session needs %d tokens (shared_prefix.tokens + turns.max x (input_tokens max "
            "+ output_tokens max)%s) but the model's max_model_len is %d: lower them, or serve the model with a larger "
            "--max-model-len" % (profile['name'], need, ' + %d overhead' % overhead_tokens if overhead_tokens else '',
                                 int(max_model_len)))


# -- the workload generator --------------------------------------------------------------------
def _rng(seed, *parts):
    # str seeds are hashed with SHA-512 by random.Random: stable across runs and Python versions
    return random.Random(':'.join(str(x) for x in (seed,) + parts))


def _words(tokens, tokens_per_word):
    return max(1, int(round(tokens / float(tokens_per_word))))


def prefix_text(profile, seed, index, tokens_per_word=1.0):
    """The text of shared prefix ``index`` (identical for every session that uses it)."""
    sp = profile['shared_prefix']
    if not sp['tokens']:
        return ''
    return TextGen(_rng(seed, profile['name'], 'prefix', index)).words(_words(sp['tokens'], tokens_per_word))


def session_key(profile, seed, index):
    return '%s-%s-%d' % (profile['name'], seed, index)


def placeholder_answer(profile, max_tokens, rng, tokens_per_word=1.0):
    """What stands for an earlier turn's answer in the next turn's history (the engine may put the real
    answer there instead): a minimal valid tool call or JSON document, else max_tokens words of text."""
    kind = expects(profile)
    if kind == 'tool_call':
        tools = profile['tools']
        choice = profile['tool_choice']
        fn = [t for t in tools if t['function']['name'] == choice] or tools
        fn = fn[rng.randrange(len(fn))]['function']
        return json.dumps({'name': fn['name'], 'arguments': minimal_instance(fn['parameters'])})
    if kind == 'json':
        return json.dumps(minimal_instance(profile['structured_output']['schema']))
    return TextGen(rng).words(_words(max_tokens, tokens_per_word))


def _body_common(profile, model, max_tokens, stream, key):
    body = {'max_tokens': int(max_tokens), 'stream': bool(stream), 'user': key}
    if model is not None:
        body['model'] = model
    if stream:
        body['stream_options'] = {'include_usage': True, 'continuous_usage_stats': True}
    if profile['ignore_eos']:
        body['ignore_eos'] = True
        body['min_tokens'] = int(max_tokens)
    if profile['tools'] and profile['tool_choice'] != 'none':
        body['tools'] = profile['tools']
        choice = profile['tool_choice']
        body['tool_choice'] = choice if choice in TOOL_CHOICES else {'type': 'function', 'function': {'name': choice}}
        if profile['parallel_tool_calls'] is not None:
            body['parallel_tool_calls'] = profile['parallel_tool_calls']
    so = profile['structured_output']
    if so:
        body['response_format'] = {'type': 'json_schema', 'json_schema': {'name': so['name'], 'schema': so['schema'],
                                                                          'strict': so['strict']}}
    return body


def session(profile, seed, index, model=None, stream=True, tokens_per_word=1.0):
    """Session ``index`` of a validated profile: {profile, index, key, prefix, requests: [...]}.

    Each request: {turn, delay_s (think time before it; 0 for the first), input_tokens, max_tokens,
    path, headers, body, expects}. Turn t carries turns 0..t-1 and their placeholder answers. The
    session key goes in the ``x-session-id`` header and the body's ``user`` field (affinity).
    ``tokens_per_word`` (from the gate's calibration) turns token counts into words of text.
    """
    rng = _rng(seed, profile['name'], 'session', index)
    key = session_key(profile, seed, index)
    sp = profile['shared_prefix']
    prefix = rng.randrange(sp['count']) if sp['tokens'] else None
    head = prefix_text(profile, seed, prefix, tokens_per_word) if prefix is not None else ''
    turns = rng.randint(profile['turns']['min'], profile['turns']['max'])
    think = profile['think_time_s']
    ind = LengthDist(profile['input_tokens'], checked=True)
    outd = LengthDist(profile['output_tokens'], checked=True)
    text = TextGen(rng)
    chat = profile['api'] == 'chat'
    history = []
    requests = []
    for t in range(turns):
        n_in = ind.sample(rng)
        n_out = outd.sample(rng)
        user = text.words(_words(n_in, tokens_per_word))
        delay = 0.0 if t == 0 else rng.uniform(think['min'], think['max'])
        body = _body_common(profile, model, n_out, stream, key)
        if chat:
            msgs = ([{'role': 'system', 'content': head}] if head else []) + list(history)
            msgs.append({'role': 'user', 'content': user})
            body['messages'] = msgs
        else:
            body['prompt'] = '\n\n'.join([x for x in [head] if x] + [m['content'] for m in history] + [user])
        requests.append({
            'turn': t, 'delay_s': round(delay, 3), 'input_tokens': n_in, 'max_tokens': n_out,
            'path': '/v1/chat/completions' if chat else '/v1/completions',
            'headers': {SESSION_HEADER: key}, 'body': body, 'expects': expects(profile),
        })
        history.append({'role': 'user', 'content': user})
        history.append({'role': 'assistant', 'content': placeholder_answer(profile, n_out, rng, tokens_per_word)})
    return {'profile': profile['name'], 'index': index, 'key': key, 'prefix': prefix, 'requests': requests}


def sessions(profile, seed, count, start=0, **kw):
    """Sessions start .. start + count - 1 (see ``session``)."""
    return [session(profile, seed, i, **kw) for i in range(start, start + count)]


# -- answer checks -----------------------------------------------------------------------------
def check_tool_call(message, tool_names):
    """(ok, reason) for a chat answer's message: a tool call present, its function among
    ``tool_names``, its arguments a JSON object. reason is None when ok."""
    calls = (message or {}).get('tool_calls') or []
    if not calls:
        return False, 'no tool call in the answer'
    for i, call in enumerate(calls):
        fn = (call or {}).get('function') or {}
        name = fn.get('name')
        if name not in tool_names:
            return False, ('tool call %d names function %r, not one of the tools (%s)'
                           % (i, name, ', '.join(tool_names)))
        try:
            args = json.loads(fn.get('arguments') or '')
        except ValueError as exc:
            return False, 'tool call %d (%s): arguments are not JSON: %s' % (i, name, exc)
        if not isinstance(args, dict):
            return False, 'tool call %d (%s): arguments are JSON but not an object' % (i, name)
    return True, None


def check_structured(text, schema):
    """(ok, reason) for an answer that must be a JSON document valid against ``schema``."""
    try:
        doc = json.loads(text or '')
    except ValueError as exc:
        return False, 'the answer is not JSON: %s' % exc
    errors = schema_validate(doc, schema)
    if errors:
        return False, 'the answer does not match the schema: %s' % '; '.join(errors[:3])
    return True, None


def check_answer(profile, message):
    """(ok, reason) for a chat message ({content, tool_calls}) or completion text, by what the profile
    expects; 'text' answers always pass (their length is checked by the token counts)."""
    kind = expects(profile)
    if kind == 'tool_call':
        return check_tool_call(message, [t['function']['name'] for t in profile['tools']])
    if kind == 'json':
        text = message.get('content') if isinstance(message, dict) else message
        return check_structured(text, profile['structured_output']['schema'])
    return True, None


def accumulate_tool_calls(acc, delta_calls):
    """Fold one SSE delta's ``tool_calls`` into ``acc`` (a dict by index), as vLLM streams them: the
    first delta of a call carries id, type and function.name, later ones argument fragments.
    ``list(acc.values())`` are then complete tool calls for ``check_tool_call``."""
    for d in delta_calls or []:
        i = d.get('index', 0)
        call = acc.setdefault(i, {'id': None, 'type': 'function', 'function': {'name': None, 'arguments': ''}})
        if d.get('id'):
            call['id'] = d['id']
        fn = d.get('function') or {}
        if fn.get('name'):
            call['function']['name'] = fn['name']
        if fn.get('arguments'):
            call['function']['arguments'] += fn['arguments']
    return acc


# -- built-in profiles -------------------------------------------------------------------------
def builtin_names(directory):
    """Names of the built-in profiles in ``directory`` (one <name>.yml each), sorted."""
    return sorted(f[:-4] for f in os.listdir(directory) if f.endswith('.yml'))


def load_builtin(name, directory):
    """The validated built-in profile ``name``; an unknown name lists the built-ins."""
    names = builtin_names(directory)
    if name not in names:
        raise ProfileError('unknown profile %r; the built-in profiles are: %s (or pass a profile as a dict of the '
                           'same schema)' % (name, ', '.join(names)))
    import yaml  # only where profiles are loaded from files (the controller), not in the load engine
    with open(os.path.join(directory, name + '.yml')) as f:
        doc = yaml.safe_load(f)
    if isinstance(doc, dict) and doc.get('name', name) != name:
        raise _err(name, 'the file %s.yml names the profile %r' % (name, doc.get('name')))
    return validate(doc, name)


def resolve(items, directory):
    """A list of built-in names and/or profile dicts, validated; names must be unique."""
    out = []
    seen = set()
    for i, item in enumerate(items or []):
        p = load_builtin(item, directory) if isinstance(item, str) else validate(item)
        if p['name'] in seen:
            raise _err(p['name'], 'listed twice (item %d)' % i)
        seen.add(p['name'])
        out.append(p)
    return out


def slo_names(profile):
    """The profile's SLOs as the gate's table names them (for reports)."""
    return dict((k, SLO_BY_NAME[k].label) for k in profile['slos'])


def expected_tokens(profile):
    """Mean input (without history) and output tokens per request, from the distributions."""
    return (LengthDist(profile['input_tokens'], checked=True).moments()[0],
            LengthDist(profile['output_tokens'], checked=True).moments()[0])
