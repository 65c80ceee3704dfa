"""Character translation: texts in, decoded texts with their log-probability out (greedy or beam)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from app.processing.decoding import Hypothesis, beam_decode, greedy_decode
from app.processing.text import CharVocab, normalise_text, pad_batch
from app.tasks.base import InputError, TaskModel

MAX_BEAM = 8


@dataclass(frozen=True)
class TranslateRequest:
    ids: list[list[int]]
    beam_size: int


@dataclass(frozen=True)
class Translation:
    text: str
    score: float
    beams: list[tuple[str, float]]  # every hypothesis, best first (one for greedy)


class TranslateModel(TaskModel[TranslateRequest, list[Translation]]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pre = self.manifest.preprocessing
        self.source_vocab = CharVocab(tuple(pre["source_vocab"]))
        self.target_vocab = CharVocab(tuple(pre["target_vocab"]))
        self.lowercase = bool(pre.get("lowercase", False))
        self.max_source_len = int(pre["max_source_len"])
        self.max_target_len = int(pre["max_target_len"])

    def check(self, texts: Any, beam_size: Any, max_items: int) -> TranslateRequest:
        if isinstance(beam_size, bool) or not isinstance(beam_size, int) or not 1 <= beam_size <= MAX_BEAM:
            raise InputError(f"'beam_size' must be an integer from 1 to {MAX_BEAM}, got {beam_size!r}")
        if not isinstance(texts, list):
            raise InputError("'texts' must be a list of strings")
        if not texts:
            raise InputError("'texts' is empty; send at least one text")
        if len(texts) > max_items:
            raise InputError(f"'texts' has {len(texts)} texts; at most {max_items} per request")
        ids = []
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise InputError(f"texts[{index}] must be a string")
            clean = normalise_text(text, self.lowercase)
            if not clean:
                raise InputError(f"texts[{index}] is empty")
            if len(clean) > self.max_source_len:
                raise InputError(
                    f"texts[{index}] has {len(clean)} characters; model {self.manifest.name!r} takes at most "
                    f"{self.max_source_len}"
                )
            unknown = self.source_vocab.unknown(clean)
            if unknown:
                raise InputError(
                    f"texts[{index}] has characters model {self.manifest.name!r} does not know: "
                    + ", ".join(repr(c) for c in unknown)
                )
            ids.append(self.source_vocab.encode(clean))
        return TranslateRequest(ids, beam_size)

    def size(self, payload: TranslateRequest) -> int:
        return len(payload.ids) * payload.beam_size

    def predict_batch(self, payloads: list[TranslateRequest]) -> list[list[Translation]]:
        results: list[list[Translation]] = [[] for _ in payloads]
        for beam_size in sorted({p.beam_size for p in payloads}):
            members = [k for k, p in enumerate(payloads) if p.beam_size == beam_size]
            sequences = [seq for k in members for seq in payloads[k].ids]
            decoded = self.translate(sequences, beam_size)
            start = 0
            for k in members:
                count = len(payloads[k].ids)
                results[k] = decoded[start : start + count]
                start += count
        return results

    def translate(self, sequences: list[list[int]], beam_size: int) -> list[Translation]:
        # Padding is exact here: the encoder reverses each sequence within its own length and
        # attention masks the padded steps, so a padded batch answers as its items would alone.
        ids, lengths = pad_batch(sequences)
        memory, keys, hidden = self.backend.run("encoder", {"source": ids, "lengths": lengths})

        def step(tokens: np.ndarray, state: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            log_probs, new_state, _ = self.backend.run("decoder", {
                "token": tokens, "hidden": state, "memory": memory[rows], "keys": keys[rows],
                "lengths": lengths[rows]})
            return log_probs, new_state

        if beam_size == 1:
            hypotheses = [[h] for h in greedy_decode(step, hidden, self.max_target_len)]
        else:
            hypotheses = beam_decode(step, hidden, self.max_target_len, beam_size)
        return [self._translation(h) for h in hypotheses]

    def _translation(self, hypotheses: list[Hypothesis]) -> Translation:
        beams = [(self.target_vocab.decode(h.ids), h.score) for h in hypotheses]
        return Translation(beams[0][0], beams[0][1], beams)

    def warmup_payloads(self, batch_sizes: list[int]) -> list[TranslateRequest]:
        example = self.source_vocab.encode("".join(self.source_vocab.chars[: self.max_source_len // 2]))
        return [TranslateRequest([example] * n, 1) for n in batch_sizes] + [TranslateRequest([example], 4)]
