# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prompt text: Zipf-like word frequencies, seeded, never one repeated word."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import math

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils import gateclient
from ansible_collections.inferops.vllm.plugins.module_utils.prompttext import TEXT_WORDS, WORDS, TextGen, zipf_weights


def test_vocabulary_is_a_few_hundred_distinct_words_starting_with_the_gates():
    assert len(TEXT_WORDS) == len(set(TEXT_WORDS)) >= 300
    assert list(TEXT_WORDS[:len(WORDS)]) == list(WORDS)
    assert gateclient.WORDS is WORDS        # the gate calibrates the same list


def test_same_seed_same_text_other_seed_other_text():
    assert TextGen(7).words(300) == TextGen(7).words(300)
    assert TextGen(7).words(300) != TextGen(8).words(300)


def test_exact_word_count_and_no_word_twice_in_a_row():
    words = TextGen(3).word_list(5000)
    assert len(words) == 5000
    assert all(a != b for a, b in zip(words, words[1:]))
    assert len(TextGen(3).words(1).split()) == 1


def test_frequencies_follow_zipf_rank_order():
    words = TextGen(1).word_list(50000)
    counts = collections.Counter(words)
    n = len(TEXT_WORDS)
    w = zipf_weights(n)
    total = sum(w)
    # the most frequent word is rank 1 ('the'), about w1 / sum(w) of the text (a little less:
    # a word never follows itself, which removes the most from the most frequent word)
    top = counts.most_common(1)[0]
    assert top[0] == TEXT_WORDS[0]
    expected = w[0] / total * 50000
    assert 0.8 * expected < top[1] < 1.05 * expected
    # log-log slope of frequency against rank over ranks 1..50 is about -1 (Zipf), far from 0 (uniform)
    ranks = range(1, 51)
    xs = [math.log(r + 2.7) for r in ranks]
    ys = [math.log(max(1, counts[TEXT_WORDS[r - 1]])) for r in ranks]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    assert -1.3 < slope < -0.7
    # and the text uses many distinct words, not a handful
    assert len(counts) > 250


def test_a_vocabulary_of_one_word_is_refused():
    with pytest.raises(ValueError):
        TextGen(1, vocabulary=['same', 'same'])
