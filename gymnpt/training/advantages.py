"""Advantages of trajectories (GRPO, Dr.GRPO, RLOO, per-turn credit) and dynamic sampling."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gymnpt.rollout.trajectory import Trajectory

#: Advantage estimators of the online learner.
ALGOS = ("grpo", "dr_grpo", "rloo")


def group_keys(trajs: Sequence[Trajectory]) -> list[str]:
    """The group of each trajectory: its ``group_id`` and seat (role-conditioned baselines)."""
    return [f"{t.group_id}|{t.role}" for t in trajs]


def compute_advantages(
    returns: Sequence[float], groups: Sequence[str], algo: str = "grpo", eps: float = 1e-4
) -> np.ndarray:
    """One advantage per episode from its return and its group's returns.

    Args:
        returns: episode returns.
        groups: a group key per episode (episodes of one group share a seed).
        algo: ``grpo`` (group-normalised), ``dr_grpo`` (mean-centred) or ``rloo`` (leave-one-out).
        eps: added to the group std for ``grpo``.

    Returns:
        Advantages as a float64 array. A group of one episode gets advantage 0.
    """
    if algo not in ALGOS:
        raise ValueError(f"algo must be one of {ALGOS}, got {algo!r}")
    if len(returns) != len(groups):
        raise ValueError(f"{len(returns)} returns but {len(groups)} group keys")
    r = np.asarray(returns, dtype=np.float64)
    adv = np.zeros_like(r)
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    for idx in members.values():
        if len(idx) < 2:
            continue
        rg = r[idx]
        mean = rg.mean()
        if algo == "grpo":
            adv[idx] = (rg - mean) / (rg.std(ddof=1) + eps)
        elif algo == "dr_grpo":
            adv[idx] = rg - mean
        else:  # rloo: R_i - mean of the other k-1 returns = k/(k-1) * (R_i - mean)
            k = len(idx)
            adv[idx] = k / (k - 1) * (rg - mean)
    return adv


def turn_advantages(
    trajs: Sequence[Trajectory], gamma: float = 1.0, eps: float = 1e-4
) -> list[list[float]]:
    """Per-turn advantages: discounted returns-to-go, normalised over every turn in the batch.

    Turn ``k`` of an episode with per-turn rewards ``r`` gets ``G_k = sum_j>=k gamma^(j-k) r_j``;
    all ``G`` of the batch are then centred and scaled by their mean and std (ReBN), so a move
    is judged by what followed it rather than by the whole episode's return.

    Returns:
        One list per trajectory with one advantage per turn.
    """
    returns: list[list[float]] = []
    for t in trajs:
        g, out = 0.0, []
        for r in reversed(list(t.rewards)):
            g = float(r) + gamma * g
            out.append(g)
        returns.append(out[::-1])
    flat = np.array([g for rs in returns for g in rs], dtype=np.float64)
    if flat.size == 0:
        return returns
    mean, std = flat.mean(), flat.std()
    return [[(g - mean) / (std + eps) for g in rs] for rs in returns]


def filter_groups(trajs: Sequence[Trajectory]) -> tuple[list[Trajectory], int]:
    """Drop groups whose returns are all equal: they carry no learning signal.

    Returns:
        The kept trajectories (in order) and the number of groups dropped.
    """
    keys = group_keys(trajs)
    returns: dict[str, list[float]] = {}
    for k, t in zip(keys, trajs, strict=True):
        returns.setdefault(k, []).append(t.return_)
    keep = {k for k, rs in returns.items() if len(rs) > 1 and max(rs) - min(rs) > 1e-9}
    return [t for k, t in zip(keys, trajs, strict=True) if k in keep], len(returns) - len(keep)
