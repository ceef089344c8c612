"""Layer 3, arena: frozen policies measured against each other.

Owns evaluation tables with confidence intervals (:mod:`gymnpt.arena.evaluation`), round-robin
tournaments (:mod:`gymnpt.arena.tournament`) and ratings (Elo, Bradley-Terry, OpenSkill;
:mod:`gymnpt.arena.ratings`). Game-specific measures (exploitability, clemscore, ...) come
from the env spec's evaluators, never from here.

May import: :mod:`gymnpt.core`, :mod:`gymnpt.models`, :mod:`gymnpt.rollout`.
"""
