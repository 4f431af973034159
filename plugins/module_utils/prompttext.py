# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Prompt text that reads like text: common English words drawn with Zipf-like frequencies, seeded.

A prompt of one repeated word is a degenerate case for a server (a prefix cache or a tokenizer
can treat it unlike real text), and uniformly drawn words have no frequent words at all. Natural
text follows Zipf's law: the r-th most frequent word appears about 1/(r + q)^s as often as the
most frequent one (s ~ 1, q ~ 2.7 for English, the Zipf-Mandelbrot fit). ``WORDS`` and
``MORE_WORDS`` are in rough frequency order, so drawing rank r with that weight gives text whose
word frequencies look natural, and no word ever follows itself.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import itertools
import random

# Common English words; most tokenizers encode each (with its leading space) as one token. The
# throughput gate calibrates prompt length with these (it keeps the ones that are one token).
WORDS = (
    'the of and to in is that for it as was with be by on not he this are or his from at which but have an '
    'had they you were their one all we can her has there been if more when will would who so no she other '
    'its may these about than into only some could them what out time new up first two any very most our '
    'then over also made after many such like did years way make just where well down must should back '
    'each those people because good much through work water day part long last how get between own world '
    'life still same great year old place see take number use three house small found under know right end '
    'again while home man point land big few line set show hand high being name help every near off light '
    'city tree state story open run keep game love page book side told paper music river car road sea field'
).split()

# More common words for profile prompts (a few hundred words in all, still mostly one token each).
MORE_WORDS = (
    'said said each how now find long down day did get come made may part over new sound take only little '
    'work know place year live me back give most very after thing our just name good sentence man think say '
    'great where help through much before line right too mean old any same tell boy follow came want show '
    'also around form three small set put end does another well large must big even such because turn here '
    'why ask went men read need land different home us move try kind hand picture again change off play '
    'spell air away animal house point page letter mother answer found study still learn should world high '
    'food between below country plant last school father keep tree never start city earth eye light thought '
    'head under story saw left few while along might close something seem next hard open example begin life '
    'always those both paper together got group often run important until children side feet car mile night '
    'walk white began grow took begin idea fish mountain stop once base hear horse cut sure watch color face '
    'wood main enough plain girl usual young ready above ever red list though feel talk bird soon body dog '
    'family direct pose leave song measure door product black short numeral class wind question happen '
    'complete ship area half rock order fire south problem piece told knew pass since top whole king space '
    'heard best hour better true during hundred five remember step early hold west ground interest reach fast '
    'verb sing listen six table travel less morning ten simple several toward war lay against pattern slow '
    'center person money serve appear road map rain rule govern pull cold notice voice unit power town fine '
    'certain fly fall lead cry dark machine note wait plan figure star box noun field rest correct able pound '
    'done beauty drive stood contain front teach week final gave green quick develop ocean warm free minute '
    'strong special mind behind clear tail produce fact street inch nothing course stay wheel full force blue '
    'object decide surface deep moon island foot system busy test record boat common gold possible plane '
    'age dry wonder laugh thousand ago ran check game shape yes hot miss brought heat snow bed bring sit '
    'perhaps fill east weight language among'
).split()

# The prompt vocabulary: WORDS first (the most frequent), then the new words of MORE_WORDS in order.
TEXT_WORDS = tuple(WORDS) + tuple(w for w in dict.fromkeys(MORE_WORDS) if w not in set(WORDS))

ZIPF_S = 1.0
ZIPF_Q = 2.7


def zipf_weights(n, s=ZIPF_S, q=ZIPF_Q):
    """Zipf-Mandelbrot weights of ranks 1..n (not normalised)."""
    return [1.0 / (r + q) ** s for r in range(1, n + 1)]


class TextGen(object):
    """Seeded natural-looking word sequences over a frequency-ordered vocabulary.

    ``words(n)`` returns n words joined by spaces, with Zipf-like frequencies and never the same
    word twice in a row. ``rng`` is a ``random.Random`` or a seed.
    """

    def __init__(self, rng=None, vocabulary=TEXT_WORDS, s=ZIPF_S, q=ZIPF_Q):
        self.rng = rng if isinstance(rng, random.Random) else random.Random(rng)
        self.vocabulary = list(vocabulary)
        if len(set(self.vocabulary)) < 2:
            raise ValueError('a prompt vocabulary needs at least 2 distinct words')
        self.cum = list(itertools.accumulate(zipf_weights(len(self.vocabulary), s, q)))

    def word_list(self, n):
        out = []
        choices = self.rng.choices
        vocab = self.vocabulary
        cum = self.cum
        prev = None
        while len(out) < n:
            batch = choices(vocab, cum_weights=cum, k=max(8, n - len(out)))
            for w in batch:
                if w != prev:
                    out.append(w)
                    prev = w
                    if len(out) == n:
                        break
        return out

    def words(self, n):
        return ' '.join(self.word_list(int(n)))
