"""Dialogue games: a game master and two-player games in the style of clembench."""
