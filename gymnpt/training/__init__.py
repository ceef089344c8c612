"""Layer 4, training: learners that change weights from trajectories.

Owns the GRPO / Dr.GRPO / RLOO learner (:mod:`gymnpt.training.learner`), the ``gymnpt train``
loop and its configs, run folders and checkpoints, the supervised warm start and
offline SFT/DPO (:mod:`gymnpt.training.warmstart`), self-play and the league.

May import: :mod:`gymnpt.core`, :mod:`gymnpt.models`, :mod:`gymnpt.rollout`, :mod:`gymnpt.arena`.
"""
