# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils.option_names import check_var_names, in_user_words

NAMES = {
    'hugepages_2m_per_node': 'inferops_hugepages_2m_per_node',
    'instances': 'inferops_max_instances',
    'strategy': 'inferops_strategy',
    'kv_cache_gib': 'inferops_kv_cache_gib',
    'kv_cache_max_gib': 'inferops_kv_cache_max_gib',
    'model_path': 'inferops_model_src',
    'max_model_len': 'inferops_max_model_len',
}


@pytest.mark.parametrize('text,expected', [
    # option=value: the variable and its value
    ('hugepages_2m_per_node=120000 leaves no room', 'inferops_hugepages_2m_per_node=120000 leaves no room'),
    ('lower hugepages_2m_per_node=9 to at most 4', 'lower inferops_hugepages_2m_per_node=9 to at most 4'),
    # a bare option name with an underscore is always an option
    ('raise kv_cache_max_gib or lower max_model_len', 'raise inferops_kv_cache_max_gib or lower inferops_max_model_len'),
    # an option that is an ordinary word is one only with a value
    ('instances=16 is more than this host allows: 2 instances', 'inferops_max_instances=16 is more than this host allows: 2 instances'),
    ('strategy=per_socket or single; the strategy gives', 'inferops_strategy=per_socket or single; the strategy gives'),
    # not inside paths, longer names or already translated names
    ('/srv/model_path/x and my_model_path', '/srv/model_path/x and my_model_path'),
    ('inferops_max_model_len=5', 'inferops_max_model_len=5'),
    ('model_path=/srv/m does not exist', 'inferops_model_src=/srv/m does not exist'),
    ('kv_cache_gib=10, kv_cache_max_gib=5', 'inferops_kv_cache_gib=10, inferops_kv_cache_max_gib=5'),
])
def test_in_user_words(text, expected):
    assert in_user_words(text, NAMES) == expected


def test_without_a_map_the_text_is_unchanged():
    text = 'hugepages_2m_per_node=1 instances=2'
    assert in_user_words(text, {}) == text
    assert in_user_words(text, None) == text
    assert in_user_words(text, {'instances': 'instances'}) == text


@pytest.mark.parametrize('var_names,words', [
    ('inferops_x', ['must be a mapping']),
    ({'hugepages': 'inferops_hugepages'}, ['unknown option', 'hugepages', 'accepted: hugepages_2m_per_node, instances']),
    ({'instances': 'inferops max'}, ['var_names of instances', 'variable name']),
    ({'instances': 3}, ['var_names of instances']),
])
def test_bad_var_names(var_names, words):
    message = check_var_names(var_names, ['instances', 'hugepages_2m_per_node'])
    for word in words:
        assert word in message, message


def test_good_var_names():
    assert check_var_names({'instances': 'inferops_max_instances'}, ['instances']) is None
