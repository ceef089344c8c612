"""Layer 2, rollout: policies answer requests, the engine plays episodes, trajectories record them.

Owns the :class:`~gymnpt.rollout.policy.Policy` protocol and sampling parameters, the one
chat encoding shared by every token-level backend (:mod:`gymnpt.rollout.tokens`), the
episode planner (:mod:`gymnpt.rollout.planner`: seeds, seats, group ids), the batched
asyncio engine (:mod:`gymnpt.rollout.engine`) and the trajectory format and JSONL store
(:mod:`gymnpt.rollout.trajectory`).

May import: :mod:`gymnpt.core`, :mod:`gymnpt.models`.
"""
