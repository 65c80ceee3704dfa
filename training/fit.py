"""The one training loop every model family runs: AdamW with a one-cycle schedule, optional gradient
clipping, an epoch of batches, a held-out check after each epoch, one history row per epoch.

A model says only what differs: its batches (`batches(epoch)`), the loss of one batch (`step`), and what it
measures after an epoch (`validate`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import torch
from tqdm import tqdm

B = TypeVar("B")


@dataclass
class Step:
    """One batch's result: its loss, the weight of its items in the epoch's mean (items, tokens, or 1
    for a mean over steps), and counts summed over the epoch and divided by the summed weight."""

    loss: torch.Tensor
    weight: float = 1.0
    counts: dict[str, float] = field(default_factory=dict)


@dataclass
class Schedule:
    epochs: int
    steps_per_epoch: int
    lr: float
    weight_decay: float
    clip: float | None = 1.0  # gradient norm clipping; None: none


@dataclass
class Loop(Generic[B]):
    name: str
    batches: Callable[[int], Iterable[B]]  # epoch (from 1) -> its batches
    step: Callable[[B], Step]
    validate: Callable[[], dict[str, float]] = dict  # after each epoch, the net in eval mode
    verbose: bool = True  # a bar per epoch and a line per epoch; else one bar over the epochs


def fit(net: torch.nn.Module, schedule: Schedule, loop: Loop[B]) -> list[dict[str, float]]:
    """Train `net` in place; the history, one row per epoch: train_loss, the counts, what validate said."""
    optimizer = torch.optim.AdamW(net.parameters(), lr=schedule.lr, weight_decay=schedule.weight_decay)
    one_cycle = torch.optim.lr_scheduler.OneCycleLR(optimizer, schedule.lr,
                                                    total_steps=schedule.epochs * schedule.steps_per_epoch)
    history: list[dict[str, float]] = []
    epochs = range(1, schedule.epochs + 1)
    for epoch in epochs if loop.verbose else tqdm(epochs, desc=loop.name, leave=False):
        net.train()
        total_loss, total_weight, counts = 0.0, 0.0, dict[str, float]()
        batches = loop.batches(epoch)
        if loop.verbose:
            batches = tqdm(batches, desc=f"{loop.name} {epoch}/{schedule.epochs}", leave=False)
        for batch in batches:
            result = loop.step(batch)
            optimizer.zero_grad()
            result.loss.backward()
            if schedule.clip is not None:
                torch.nn.utils.clip_grad_norm_(net.parameters(), schedule.clip)
            optimizer.step()
            one_cycle.step()
            total_loss += result.loss.item() * result.weight
            total_weight += result.weight
            for key, value in result.counts.items():
                counts[key] = counts.get(key, 0.0) + value
        net.eval()
        row = {"epoch": epoch, "train_loss": total_loss / total_weight,
               **{key: value / total_weight for key, value in counts.items()}}
        with torch.no_grad():
            row.update(loop.validate())
        history.append(row)
        if loop.verbose:
            tqdm.write(f"{loop.name} epoch {epoch}: " + ", ".join(f"{k} {v:.4f}" for k, v in row.items()
                                                                   if k != "epoch"))
    return history
