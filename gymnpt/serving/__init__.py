"""Layer 4, serving: any policy behind an OpenAI-compatible HTTP server (``gymnpt serve``).

May import: :mod:`gymnpt.core`, :mod:`gymnpt.models`, :mod:`gymnpt.rollout`.
"""
