"""Layer 5, the command line: ``gymnpt envs|agents|plugins|play|eval|rollout|train|tournament|serve``.

Parses ``key=value`` overrides into the typed configs of the layers below and calls them.
May import every layer of the kernel; nothing imports it.
"""
