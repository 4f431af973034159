# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Automation Controller configuration in aap/controller/ (infra.aap_configuration variables).

No controller here: the checks are what the controller's API and the playbooks would
reject later - a template pointing at a playbook that does not exist, a survey variable
no role or playbook reads, a survey spec the API refuses (types, defaults, choices,
min/max), an SLO mapping that renders to keys the validate role does not accept, a
reference to a credential or inventory that is not defined, a Jinja expression that the
loading play would evaluate instead of the job.
"""

from __future__ import absolute_import, division, print_function

import glob
import os
import re
import warnings

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTROLLER_DIR = os.path.join(REPO, 'aap', 'controller')

TEMPLATES = {
    'vLLM / Tune': 'playbooks/tune.yml',
    'vLLM / Deploy': 'playbooks/deploy.yml',
    'vLLM / Validate': 'playbooks/validate.yml',
    'vLLM / Rolling upgrade': 'playbooks/rolling_upgrade.yml',
}
# Written in parallel with this configuration; the only playbook allowed to be missing.
PENDING_PLAYBOOKS = {'playbooks/rolling_upgrade.yml'}
WORKFLOW = 'vLLM / Site'
WORKFLOW_ORDER = ['vLLM / Tune', 'vLLM / Deploy', 'vLLM / Validate']

# What the controller's survey API accepts (awx JobTemplateSurveySpec), restricted to the
# types this configuration may use.
ALLOWED_TYPES = {
    'text': (str,),
    'password': (str,),
    'multiplechoice': (str,),
    'integer': (int,),
    'float': (float, int),
}
# Survey-only variables: allowed when a template's extra_vars fold them into a real variable.
ADAPTER_PREFIX = 'aap_'
# Variables of the loading play (infra.aap_configuration), evaluated at load time.
LOAD_TIME_PREFIX = 'inferops_aap_'


class Unsafe(str):
    """A value tagged !unsafe: the loading play passes it to the controller untemplated."""


class _Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    pass


_Loader.add_constructor('!unsafe', lambda loader, node: Unsafe(loader.construct_scalar(node)))


def _load(path):
    with open(path) as handle:
        return yaml.load(handle, Loader=_Loader)  # nosec - SafeLoader subclass


@pytest.fixture(scope='module')
def config():
    merged = {}
    for path in sorted(glob.glob(os.path.join(CONTROLLER_DIR, '*.yml'))):
        data = _load(path) or {}
        overlap = set(merged) & set(data)
        assert not overlap, '%s redefines %s' % (path, sorted(overlap))
        merged.update(data)
    return merged


@pytest.fixture(scope='module')
def templates(config):
    return dict((jt['name'], jt) for jt in config['controller_templates'])


@pytest.fixture(scope='module')
def role_options():
    """Every role variable the argument specs declare: name -> spec."""
    options = {}
    for path in glob.glob(os.path.join(REPO, 'roles', '*', 'meta', 'argument_specs.yml')):
        for entry in (_load(path).get('argument_specs') or {}).values():
            options.update(entry.get('options') or {})
    return options


@pytest.fixture(scope='module')
def known_variables(role_options):
    """Role variables plus the inferops_* variables the playbooks read (not __private ones)."""
    names = set(role_options)
    for path in glob.glob(os.path.join(REPO, 'playbooks', '*.yml')):
        with open(path) as handle:
            names.update(re.findall(r'(?<![A-Za-z0-9_])inferops_[a-z0-9_]+', handle.read()))
    return names


@pytest.fixture(scope='module')
def slo_options():
    return _load(os.path.join(REPO, 'roles', 'validate', 'vars', 'main.yml'))['__validate_slo_options']


def _surveys(config):
    for jt in config['controller_templates']:
        yield jt['name'], jt
    for wf in config.get('controller_workflows') or []:
        yield wf['name'], wf


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def test_the_templates_and_the_workflow_are_defined(config, templates):
    assert sorted(templates) == sorted(TEMPLATES)
    for name, playbook in TEMPLATES.items():
        assert templates[name]['playbook'] == playbook, name
    workflows = dict((wf['name'], wf) for wf in config['controller_workflows'])
    assert list(workflows) == [WORKFLOW]


def test_every_playbook_exists(templates):
    missing = sorted(jt['playbook'] for jt in templates.values()
                     if not os.path.isfile(os.path.join(REPO, jt['playbook'])))
    assert set(missing) <= PENDING_PLAYBOOKS, 'job templates point at missing playbooks: %s' % missing
    if missing:
        warnings.warn('not in the repository yet (referenced by path only): %s' % ', '.join(missing))


def test_the_workflow_chains_tune_deploy_validate(config, templates):
    workflow = config['controller_workflows'][0]
    nodes = dict((node['identifier'], node) for node in workflow['simplified_workflow_nodes'])
    for node in nodes.values():
        assert node['unified_job_template'] in templates, node
        for link in ('success_nodes', 'failure_nodes', 'always_nodes'):
            for target in node.get(link) or []:
                assert target in nodes, '%s links to unknown node %s' % (node['identifier'], target)
    # Follow the success links from the root: tune -> deploy -> validate, nothing else.
    targets = set(t for node in nodes.values() for t in node.get('success_nodes') or [])
    roots = [ident for ident in nodes if ident not in targets]
    assert len(roots) == 1, roots
    order, current = [], roots[0]
    while current:
        node = nodes[current]
        order.append(node['unified_job_template'])
        assert not node.get('failure_nodes') and not node.get('always_nodes'), 'a failed stage must stop the workflow'
        following = node.get('success_nodes') or []
        assert len(following) <= 1
        current = following[0] if following else None
    assert order == WORKFLOW_ORDER


@pytest.mark.parametrize('name', list(TEMPLATES) + [WORKFLOW])
def test_survey_spec_is_well_formed(config, name):
    owner = dict(_surveys(config))[name]
    assert owner.get('survey_enabled') is True, name
    spec = owner['survey_spec']
    assert isinstance(spec.get('name'), str) and isinstance(spec.get('description'), str), name
    assert isinstance(spec.get('spec'), list) and spec['spec'], name
    seen = set()
    for question in spec['spec']:
        label = '%s: %s' % (name, question.get('variable'))
        for field in ('type', 'question_name', 'variable', 'question_description'):
            assert isinstance(question.get(field), str) and question[field], '%s: %s' % (label, field)
        assert isinstance(question.get('required'), bool), label
        assert re.match(r'^[a-z_][a-z0-9_]*$', question['variable']), label
        assert question['variable'] not in seen, '%s: duplicated' % label
        seen.add(question['variable'])
        qtype = question['type']
        assert qtype in ALLOWED_TYPES, '%s: type %s' % (label, qtype)
        for key in ('min', 'max'):
            if question.get(key) is not None:
                assert isinstance(question[key], int) and not isinstance(question[key], bool), '%s: %s' % (label, key)
        assert 'default' in question, '%s: no default' % label
        default = question['default']
        if default == '':
            assert not question['required'], '%s: a required question needs a default' % label
            continue
        assert isinstance(default, ALLOWED_TYPES[qtype]) and not isinstance(default, bool), \
            '%s: default %r is not %s' % (label, default, qtype)
        low, high = question.get('min'), question.get('max')
        measure = len(default) if qtype in ('text', 'password') else default
        if qtype != 'multiplechoice':
            assert low is None or measure >= low, '%s: default below min' % label
            assert high is None or measure <= high, '%s: default above max' % label
        if qtype == 'multiplechoice':
            choices = question.get('choices')
            if isinstance(choices, str):
                choices = [c for c in choices.splitlines() if c.strip()]
            assert isinstance(choices, list) and len(choices) >= 2, '%s: choices' % label
            assert all(isinstance(c, str) for c in choices), '%s: choices must be strings' % label
            assert default in choices, '%s: default not among the choices' % label


def _extra_var_references(extra_vars):
    """Variables each extra var's template reads: {extra_var_name: set(referenced names)}."""
    refs = {}
    for key, value in (extra_vars or {}).items():
        refs[key] = set()
        for text in _strings(value):
            refs[key].update(re.findall(r'\b([a-z_][a-z0-9_]*)\s*\|', text))
            refs[key].update(re.findall(r'\b(' + ADAPTER_PREFIX + r'[a-z0-9_]+)\b', text))
    return refs


def test_every_survey_variable_is_read_by_the_collection(config, templates, known_variables):
    problems = []
    for name, owner in _surveys(config):
        if 'simplified_workflow_nodes' in owner:
            extra_vars = {}
            for node in owner['simplified_workflow_nodes']:
                extra_vars.update(templates[node['unified_job_template']].get('extra_vars') or {})
        else:
            extra_vars = owner.get('extra_vars') or {}
        refs = _extra_var_references(extra_vars)
        for key in refs:
            if key not in known_variables:
                problems.append('%s: extra var %s is not a variable of the roles or playbooks' % (name, key))
        pending = owner.get('playbook') in PENDING_PLAYBOOKS and not os.path.isfile(os.path.join(REPO, owner['playbook']))
        for question in owner['survey_spec']['spec']:
            var = question['variable']
            if var in known_variables:
                continue
            if var.startswith(ADAPTER_PREFIX) and any(var in used for used in refs.values()):
                continue
            if pending:
                warnings.warn('%s: %s cannot be checked until %s exists' % (name, var, owner['playbook']))
                continue
            problems.append('%s: survey variable %s is neither a role/playbook variable nor folded into one '
                            'by the template\'s extra_vars' % (name, var))
    assert not problems, '\n'.join(problems)


def test_surveys_ask_what_each_stage_needs(config, templates):
    def variables(owner):
        return dict((q['variable'], q) for q in owner['survey_spec']['spec'])

    workflow = config['controller_workflows'][0]
    for name, owner in list(templates.items()) + [(WORKFLOW, workflow)]:
        asked = variables(owner)
        assert {'inferops_model_name', 'inferops_model_path'} <= set(asked), name
    for name in ('vLLM / Deploy', 'vLLM / Rolling upgrade', WORKFLOW):
        owner = workflow if name == WORKFLOW else templates[name]
        assert 'server_vllm_version' in variables(owner), name
    for name in ('vLLM / Validate', 'vLLM / Rolling upgrade', WORKFLOW):
        owner = workflow if name == WORKFLOW else templates[name]
        assert {'aap_slo_min_output_tokens_per_s', 'aap_slo_max_ttft_p95_ms',
                'validate_host_cost_per_hour'} <= set(variables(owner)), name
    for name in ('vLLM / Tune', WORKFLOW):
        owner = workflow if name == WORKFLOW else templates[name]
        reboot = variables(owner)['xeon_tuning_reboot_ok']
        assert reboot['type'] == 'multiplechoice' and sorted(reboot['choices']) == ['no', 'yes'], name
        assert reboot['default'] == 'no', 'rebooting must be opt-in (%s)' % name
    serial = variables(templates['vLLM / Rolling upgrade'])['inferops_serial']
    assert serial['type'] == 'integer' and serial['min'] >= 1


def _render(expression, variables):
    from ansible.parsing.dataloader import DataLoader  # pylint: disable=import-outside-toplevel
    from ansible.template import Templar  # pylint: disable=import-outside-toplevel
    try:
        from ansible.template import trust_as_template  # pylint: disable=import-outside-toplevel
    except ImportError:  # ansible-core < 2.19 templates every string
        def trust_as_template(value):
            return value
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(str(expression)))


def _survey_answers(owner, answered):
    """What the controller passes: answered questions, else defaults; blank optional ones are left out."""
    answers = {}
    for question in owner['survey_spec']['spec']:
        if question['variable'] in answered:
            answers[question['variable']] = answered[question['variable']]
        elif question['default'] != '':
            answers[question['variable']] = question['default']
    return answers


@pytest.mark.parametrize('name', ['vLLM / Validate', 'vLLM / Rolling upgrade'])
def test_slo_answers_become_validate_slos(templates, slo_options, name):
    owner = templates[name]
    mapping = owner['extra_vars']['validate_slos']
    assert isinstance(mapping, Unsafe), 'validate_slos must be !unsafe: the job evaluates it, not the loading play'
    adapters = [q['variable'] for q in owner['survey_spec']['spec'] if q['variable'].startswith('aap_slo_')]
    for var in adapters:
        assert var[len('aap_slo_'):] in slo_options, '%s does not name an SLO of the validate role' % var

    # Nothing answered: no SLO set, the gate's defaults apply.
    assert _render(mapping, _survey_answers(owner, {})) == {}
    # Every SLO answered: each lands under its own name, as a number.
    answered = dict((var, 10.5 + i) for i, var in enumerate(adapters))
    rendered = _render(mapping, _survey_answers(owner, answered))
    assert rendered == dict((var[len('aap_slo_'):], value) for var, value in answered.items())
    assert set(rendered) <= set(slo_options)
    # A zero is an answer (max error rate 0), not a blank.
    rendered = _render(mapping, _survey_answers(owner, {'aap_slo_max_error_rate': 0}))
    assert rendered == {'max_error_rate': 0}


def test_api_key_credential_type_injects_no_log_variables(config, role_options):
    (ctype,) = [c for c in config['controller_credential_types'] if c['name'] == 'vLLM API key']
    fields = dict((f['id'], f) for f in ctype['inputs']['fields'])
    assert fields['api_key']['secret'] is True
    assert ctype['inputs']['required'] == ['api_key']
    injected = ctype['injectors']['extra_vars']
    assert sorted(injected) == ['server_api_key', 'validate_api_key']
    for var, value in injected.items():
        assert role_options[var].get('no_log') is True, '%s must be no_log in its role' % var
        assert isinstance(value, Unsafe) and 'api_key' in value, var


def test_references_resolve(config, templates):
    defined = {
        'project': set(p['name'] for p in config['controller_projects']),
        'inventory': set(i['name'] for i in config['controller_inventories']),
        'execution_environment': set(e['name'] for e in config['controller_execution_environments']),
        'credential': set(c['name'] for c in config['controller_credentials']),
        'credential_type': set(c['name'] for c in config['controller_credential_types']) | {'Machine'},
    }
    for jt in templates.values():
        for key in ('project', 'inventory', 'execution_environment'):
            assert jt[key] in defined[key], '%s: %s %s' % (jt['name'], key, jt[key])
        for cred in jt.get('credentials') or []:
            assert cred in defined['credential'], '%s: credential %s' % (jt['name'], cred)
    for cred in config['controller_credentials']:
        assert cred['credential_type'] in defined['credential_type'], cred['name']
    for project in config['controller_projects']:
        assert project['default_environment'] in defined['execution_environment']
    groups = dict((g['name'], g) for g in config['controller_groups'])
    assert set(groups['inference']['children']) == {'cpu_inference', 'gpu_inference'}


def test_become_is_off_where_the_gate_runs(templates, config):
    # The gate runs on localhost (the EE, no sudo): the Validate template does not
    # escalate, and localhost turns become off for the templates that do.
    assert templates['vLLM / Validate']['become_enabled'] is False
    (local,) = [h for h in config['controller_hosts'] if h['name'] == 'localhost']
    assert local['variables']['ansible_become'] is False
    assert local['variables']['ansible_connection'] == 'local'


JINJA_WORDS = {'and', 'or', 'not', 'in', 'is', 'if', 'else', 'none', 'true', 'false', 'None', 'True', 'False'}


def _template_variables(text):
    """Variables a Jinja expression reads (string literals, filters, attributes and keywords left out)."""
    names = set()
    for expression in re.findall(r'{{(.*?)}}', text, re.S):
        expression = re.sub(r"'[^']*'|\"[^\"]*\"", '', expression)
        expression = re.sub(r'\|\s*[A-Za-z_][\w.]*', '', expression)
        names.update(n for n in re.findall(r'(?<![\w.])[A-Za-z_]\w*', expression) if n not in JINJA_WORDS)
    return names


def test_job_time_templates_are_unsafe(config):
    """A {{ }} the job must evaluate is !unsafe; plain ones may only read the loading play's variables."""
    problems = []
    for key, value in config.items():
        for text in _strings(value):
            if '{{' not in text or isinstance(text, Unsafe):
                continue
            stray = sorted(n for n in _template_variables(text) if not n.startswith(LOAD_TIME_PREFIX))
            if stray:
                problems.append('%s: %r reads %s at load time; tag it !unsafe' % (key, text, stray))
    assert not problems, '\n'.join(problems)
