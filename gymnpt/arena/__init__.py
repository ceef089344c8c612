"""Layer 3, arena: frozen policies measured against each other.

Owns evaluation tables with confidence intervals (:mod:`gymnpt.arena.evaluation`), round-robin
tournaments (:mod:`gymnpt.arena.tournament`; the games and their result rows in
:mod:`gymnpt.arena.matches`) and ratings (the crosstable and report in
:mod:`gymnpt.arena.ratings`; Elo, Bradley-Terry, OpenSkill and their intervals in
:mod:`gymnpt.arena.estimators`). Game-specific measures (exploitability, clemscore, ...) come
from the env spec's evaluators, never from here.

May import: :mod:`gymnpt.core`, :mod:`gymnpt.models`, :mod:`gymnpt.rollout`.
"""
