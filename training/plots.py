"""Training plots, written as PNG beside the model (matplotlib's Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def plot_curves(path: Path, history: list[dict[str, float]], title: str) -> None:
    """One panel per metric column, against epoch."""
    keys = [k for k in history[0] if k != "epoch"]
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2), squeeze=False)
    epochs = [row["epoch"] for row in history]
    for ax, key in zip(axes[0], keys, strict=True):
        ax.plot(epochs, [row[key] for row in history], marker=".")
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_forecasts(path: Path, histories: list[np.ndarray], futures: list[np.ndarray],
                   forecasts: list[np.ndarray]) -> None:
    fig, axes = plt.subplots(len(histories), 1, figsize=(8, 2.2 * len(histories)), squeeze=False)
    for ax, history, future, forecast in zip(axes[:, 0], histories, futures, forecasts, strict=True):
        t_hist = np.arange(len(history))
        t_future = np.arange(len(history), len(history) + len(future))
        ax.plot(t_hist, history, color="0.4", lw=1, label="history")
        ax.plot(t_future, future, color="0.4", lw=1, ls="--", label="actual")
        ax.plot(t_future, forecast, color="tab:red", lw=1.5, label="forecast")
        ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_attention(path: Path, attention: np.ndarray, source: str, target: str) -> None:
    fig, ax = plt.subplots(figsize=(max(4, 0.3 * len(source)), max(3, 0.3 * len(target))))
    ax.imshow(attention, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(source)), list(source), fontsize=8)
    ax.set_yticks(range(len(target)), list(target), fontsize=8)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    ax.set_title("attention")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
