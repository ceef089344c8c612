"""Layer 1, the contract: what an env is, how plugins register things, how configs parse.

Owns the env contract (:mod:`gymnpt.core.env`: ``TextEnv``, ``MultiAgentEnv``, the
``MultiSeatEnv`` protocol, invalid moves; :mod:`gymnpt.core.adapters` wraps single-seat envs
for the multi-seat API), the registry of envs, agents and sandboxes
(:mod:`gymnpt.core.registry`), the pluggy hook specifications and plugin manager,
typed ``key=value`` configs (:mod:`gymnpt.core.config`), ``check_env``
(:mod:`gymnpt.core.testing`) and the Gymnasium / PettingZoo views.

May import: nothing else of gymnpt. Every other layer builds on this one.
"""
