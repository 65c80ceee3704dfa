"""The networks, small enough to read top to bottom.

Every `forward` is written to export: batch_first recurrent layers, no data-dependent control flow,
sizes stored on the module (TorchScript cannot read module-level constants).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DigitNet(nn.Module):
    """A small convolutional stem, then an LSTM that reads the feature map row by row (top to bottom)."""

    def __init__(self, channels: int = 32, hidden: int = 128, layers: int = 1, dropout: float = 0.1) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, channels // 2, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels // 2, channels, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.lstm = nn.LSTM(channels * 14, hidden, num_layers=layers, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, 10)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images [B, 28, 28] in [0, 1], ink high -> logits [B, 10]."""
        features = self.stem(images.unsqueeze(1))  # [B, C, 14, 14]
        rows = features.permute(0, 2, 1, 3).flatten(2)  # [B, 14 rows, C * 14]
        out, _ = self.lstm(rows)
        return self.head(self.dropout(out[:, -1]))


class SineNet(nn.Module):
    """LSTM reading a normalised history `patch` values a step (4x fewer steps than one value a step:
    faster, and easier to train); a linear head forecasts `max_horizon` normalised steps at once."""

    def __init__(self, hidden: int = 128, layers: int = 2, max_horizon: int = 64, patch: int = 4) -> None:
        super().__init__()
        self.max_horizon = max_horizon
        self.patch = patch
        self.lstm = nn.LSTM(patch, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, max_horizon)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """patches [B, P, patch] -> forecast [B, max_horizon], both normalised.

        The history is cut into patches outside the graph (app.processing.series.to_patches):
        the ONNX exporter mis-derives a stacked LSTM's symbolic shapes when the graph itself
        reshapes a dynamic length."""
        out, _ = self.lstm(patches)
        return self.head(out[:, -1])


class StreamingSineNet(nn.Module):
    """One step of a live series: new observations in; the LSTM state (h, c) and a running normaliser
    (count, mean, m2: Welford's sums, float64) carried between steps; a forecast of the next
    `max_horizon` values out. Causal: each value is standardised by the mean and spread of the values
    seen up to and including it, never by later ones, so feeding a series one value at a time or all at
    once gives the same state and forecast."""

    def __init__(self, hidden: int = 64, layers: int = 2, max_horizon: int = 64) -> None:
        super().__init__()
        self.hidden = hidden
        self.layers = layers
        self.max_horizon = max_horizon
        self.lstm = nn.LSTM(2, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, max_horizon)

    def steps(self, values: torch.Tensor, h: torch.Tensor, c: torch.Tensor, count: torch.Tensor,
              mean: torch.Tensor, m2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor,
                                                             torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """values [B, T] -> normalised forecasts after every value [B, T, max_horizon], the running mean
        and scale after every value [B, T], and the carried state after the last one."""
        x = values.to(torch.float64)
        seen = count.unsqueeze(1) + torch.cumsum(torch.ones_like(x), dim=1)  # n after each value
        sums = (count * mean).unsqueeze(1) + torch.cumsum(x, dim=1)
        squares = (m2 + count * mean * mean).unsqueeze(1) + torch.cumsum(x * x, dim=1)
        running_mean = sums / seen
        scale = torch.sqrt(torch.clamp(squares / seen - running_mean * running_mean, min=0.0)).clamp(min=1e-3)
        z = ((x - running_mean) / scale).to(torch.float32)
        features = torch.stack([z, torch.rsqrt(seen).to(torch.float32)], dim=2)
        out, (h_next, c_next) = self.lstm(features, (h, c))
        last_mean, last_seen = running_mean[:, -1], seen[:, -1]
        m2_next = squares[:, -1] - last_seen * last_mean * last_mean
        return self.head(out), running_mean, scale, h_next, c_next, last_seen, last_mean, m2_next

    def forward(self, values: torch.Tensor, h: torch.Tensor, c: torch.Tensor, count: torch.Tensor,
                mean: torch.Tensor, m2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor,
                                                               torch.Tensor, torch.Tensor]:
        """One step: (forecast [B, max_horizon] in the series' own units, h, c, count, mean, m2)."""
        normalised, running_mean, scale, h_next, c_next, seen, last_mean, m2_next = self.steps(
            values, h, c, count, mean, m2)
        forecast = normalised[:, -1].to(torch.float64) * scale[:, -1:] + running_mean[:, -1:]
        return forecast.to(torch.float32), h_next, c_next, seen, last_mean, m2_next


def _reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row's first `length` steps in place, leaving padding where it is.

    Right padding then never reaches a valid step in either direction, so a batch with padding gives
    exactly the answers its items give alone. The map is its own inverse.
    """
    steps = torch.arange(x.size(1), device=x.device).unsqueeze(0)  # [1, S]
    index = lengths.unsqueeze(1) - 1 - steps
    index = torch.where(index >= 0, index, steps)  # [B, S]
    return torch.gather(x, 1, index.unsqueeze(2).expand(-1, -1, x.size(2)))


class Encoder(nn.Module):
    """Character embedding and a bidirectional GRU; also projects attention keys and the decoder's first state."""

    def __init__(self, vocab: int, embed: int, hidden: int, decoder_hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed, padding_idx=0)
        self.forward_rnn = nn.GRU(embed, hidden, batch_first=True)
        self.backward_rnn = nn.GRU(embed, hidden, batch_first=True)
        self.keys = nn.Linear(2 * hidden, decoder_hidden, bias=False)
        self.bridge = nn.Linear(2 * hidden, decoder_hidden)

    def forward(
        self, source: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """source [B, S] ids, lengths [B] -> memory [B, S, 2H], keys [B, S, D], hidden [B, D]."""
        embedded = self.embed(source)
        fwd, _ = self.forward_rnn(embedded)
        bwd, _ = self.backward_rnn(_reverse_within_length(embedded, lengths))
        bwd = _reverse_within_length(bwd, lengths)
        memory = torch.cat([fwd, bwd], dim=2)
        last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, fwd.size(2))
        summary = torch.cat([torch.gather(fwd, 1, last).squeeze(1), bwd[:, 0]], dim=1)
        return memory, self.keys(memory), torch.tanh(self.bridge(summary))


class DecoderStep(nn.Module):
    """One decoding step: GRU cell on the previous character, then dot-product attention over the source."""

    def __init__(self, vocab: int, embed: int, encoder_hidden: int, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.cell = nn.GRUCell(embed, hidden)
        self.combine = nn.Linear(hidden + 2 * encoder_hidden, hidden)
        self.out = nn.Linear(hidden, vocab)

    def forward(
        self,
        token: torch.Tensor,
        hidden: torch.Tensor,
        memory: torch.Tensor,
        keys: torch.Tensor,
        lengths: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """token [B], hidden [B, D], memory [B, S, 2H], keys [B, S, D], lengths [B]
        -> log_probs [B, V], hidden [B, D], attention [B, S]."""
        hidden = self.cell(self.embed(token), hidden)
        scores = torch.bmm(keys, hidden.unsqueeze(2)).squeeze(2)  # [B, S]
        steps = torch.arange(memory.size(1), device=memory.device).unsqueeze(0)
        scores = scores.masked_fill(steps >= lengths.unsqueeze(1), -1e9)
        attention = torch.softmax(scores, dim=1)
        context = torch.bmm(attention.unsqueeze(1), memory).squeeze(1)
        combined = torch.tanh(self.combine(torch.cat([hidden, context], dim=1)))
        return F.log_softmax(self.out(combined), dim=1), hidden, attention


class Translator(nn.Module):
    """Encoder + decoder step, trained with teacher forcing; exported as two graphs."""

    def __init__(
        self, source_vocab: int, target_vocab: int, embed: int = 32, hidden: int = 128, decoder_hidden: int = 256
    ) -> None:
        super().__init__()
        self.encoder = Encoder(source_vocab, embed, hidden, decoder_hidden)
        self.decoder = DecoderStep(target_vocab, embed, hidden, decoder_hidden)

    def forward(self, source: torch.Tensor, lengths: torch.Tensor, target_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: target_in [B, T] (starts with <sos>) -> log_probs [B, T, V]."""
        memory, keys, hidden = self.encoder(source, lengths)
        steps = []
        for t in range(target_in.size(1)):
            log_probs, hidden, _ = self.decoder(target_in[:, t], hidden, memory, keys, lengths)
            steps.append(log_probs)
        return torch.stack(steps, dim=1)
