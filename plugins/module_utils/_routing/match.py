# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Routing a need: which catalog entry answers it (``find``, ``show``), and ``route_request``.

Matching is deterministic: an exact id wins; otherwise each entry scores 10 per word of every
``need_keywords`` phrase whose words all occur in the need, 3 per need word found among the
keywords' words and 1 per need word found in the title. The best score wins; equal best
scores are a tie, and no score at all is a no-match; both report the closest candidates.
``route_request`` is what the credential_route lookup and module share.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._routing.catalog import STALE_DAYS, load_catalog_file, words
from ansible_collections.netkingdom.warden.plugins.module_utils._routing.route import EMPTY_ROUTE_KEYS, placeholder_values, role_of, route_for

MATCHES = ('exact', 'matched', 'tie', 'no_match')
PHRASE_POINTS = 10
KEYWORD_POINTS = 3
TITLE_POINTS = 1
CANDIDATES = 3


def score_entry(entry, need):
    """The match score of one entry for a need (see the module documentation)."""
    need_words = set(words(need))
    if not need_words:
        return 0
    score = 0
    keyword_words = set()
    for phrase in entry['need_keywords']:
        phrase_words = set(words(phrase))
        keyword_words |= phrase_words
        if phrase_words and phrase_words <= need_words:
            score += PHRASE_POINTS * len(phrase_words)
    score += KEYWORD_POINTS * len(need_words & keyword_words)
    score += TITLE_POINTS * len(need_words & set(words(entry['title'])))
    return score


def closeness(entry, need):
    """How close a need is to an entry's keywords, title and id (0..1), for no-match hints."""
    text = ' '.join(words(need))
    if not text:
        return 0.0
    targets = [' '.join(words(k)) for k in entry['need_keywords']] + [' '.join(words(entry['title'])), entry['id']]
    return max(difflib.SequenceMatcher(None, text, t).ratio() for t in targets if t) if targets else 0.0


def _candidate(entry, score=None, close=None):
    item = {'id': entry['id'], 'title': entry['title'], 'owner_repo': entry['owner_repo'], 'role': role_of(entry)}
    if score is not None:
        item['score'] = score
    if close is not None:
        item['closeness'] = round(close, 3)
    return item


def rank(catalog, need):
    """Every entry with its score for ``need``, best first (ties by id)."""
    scored = [(score_entry(e, need), e) for e in catalog.entries]
    scored.sort(key=lambda pair: (-pair[0], pair[1]['id']))
    return scored


def find(catalog, need, values=None):
    """Route a need: the route shape plus ``need``, ``match``, ``score`` and ``candidates``.

    ``match`` is ``exact`` (the need is an entry id), ``matched``, ``tie`` or ``no_match``. For a
    tie or a no-match the route fields are null and ``candidates`` lists the closest entries.
    """
    if not isinstance(need, str) or not need.strip():
        raise ValidationError([('need', 'must be a non-empty string such as "npm token"')], what='options')
    need = need.strip()
    exact = catalog.get(need.lower())
    if exact is not None:
        result = route_for(exact, values)
        result.update(need=need, match='exact', score=None, candidates=[_candidate(exact)])
        return result
    ranked = rank(catalog, need)
    best = ranked[0][0] if ranked else 0
    if best > 0:
        top = [e for s, e in ranked if s == best]
        if len(top) == 1:
            result = route_for(top[0], values)
            result.update(need=need, match='matched', score=best,
                          candidates=[_candidate(e, s) for s, e in ranked[:CANDIDATES] if s > 0])
            return result
        candidates = [_candidate(e, s) for s, e in ranked if s == best]
        return _unrouted(need, 'tie', best, candidates,
                         'ambiguous: "%s" matches %s equally (score %d); ask for one of them by id, or add '
                         'words that tell them apart' % (need, ' and '.join(c['id'] for c in candidates), best))
    close = sorted(((closeness(e, need), e) for e in catalog.entries), key=lambda pair: (-pair[0], pair[1]['id']))
    candidates = [_candidate(e, close=c) for c, e in close[:CANDIDATES]]
    return _unrouted(need, 'no_match', 0, candidates,
                     'no route for "%s" in the catalog; closest: %s. If none of them fits, the need has no '
                     'owner yet: add an entry with its owner' % (need, ', '.join(c['id'] for c in candidates)))


def _unrouted(need, match, score, candidates, next_action):
    result = dict((key, None) for key in EMPTY_ROUTE_KEYS)
    result.update(need=need, match=match, score=score, candidates=candidates, missing_placeholders=[],
                  next_action=next_action)
    return result


def show(catalog, entry_id, values=None):
    """The route of one entry by id; an unknown id raises ValidationError naming the closest ids."""
    entry = catalog.get(entry_id) if isinstance(entry_id, str) else None
    if entry is None:
        close = difflib.get_close_matches(str(entry_id), list(catalog.by_id), n=CANDIDATES, cutoff=0.0)
        raise ValidationError([('show', 'no catalog entry with id %r; closest: %s' % (entry_id, ', '.join(close)))],
                              what='options')
    result = route_for(entry, values)
    result.update(need=None, match='exact', score=None, candidates=[_candidate(entry)])
    return result


def route_warnings(catalog, routes):
    """The catalog's warnings (stale, deprecated, unknown fields) for the entries among ``routes``, and the
    catalog-wide ones, once each."""
    ids = set(r.get('id') for r in routes if r.get('id'))
    return [text for entry_id, text in catalog.notes if entry_id is None or entry_id in ids]


def route_request(options, needs=(), show_id=None):
    """What the credential_route lookup and module share: load the catalog named in ``options``
    (``catalog``, ``stale_days``), check the placeholder values (``domain``, ``field``, ``path``,
    ``placeholders``), and route each need (or show the entry ``show_id``).

    Returns ``(catalog, routes, warnings)``; raises ValidationError naming the bad option or field.
    """
    stale_days = options.get('stale_days')
    catalog = load_catalog_file(options.get('catalog'), stale_days=STALE_DAYS if stale_days is None else stale_days)
    values = placeholder_values(options.get('domain'), options.get('field'), options.get('path'),
                                options.get('placeholders'))
    if show_id is not None:
        routes = [show(catalog, show_id, values)]
    else:
        routes = [find(catalog, need, values) for need in needs]
    return catalog, routes, route_warnings(catalog, routes)
