"""Character translation: texts in, decoded texts with their log-probability out (greedy or beam)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from app.errors import InputError
from app.processing.decoding import Hypothesis, beam_decode, greedy_decode
from app.processing.text import CharVocab, normalise_text, pad_batch
from app.repository.manifest import Manifest, TensorSpec
from app.runtime.base import Backend
from app.settings import Settings
from app.tasks.base import Signature, TaskModel, require, tensor_scalar
from app.tensors import Tensor

DEFAULT_TRANSLATOR = "dates"
MAX_BEAM = 8

SIGNATURE = Signature(
    inputs=[TensorSpec(name="texts", datatype="BYTES", shape=[-1]),
            TensorSpec(name="beam_size", datatype="INT64", shape=[1], optional=True)],
    outputs=[TensorSpec(name="translations", datatype="BYTES", shape=[-1]),
             TensorSpec(name="scores", datatype="FP32", shape=[-1])],
)


class Beam(BaseModel):
    text: str
    score: float


class TranslationAnswer(BaseModel):
    text: str
    score: float = Field(description="Log-probability of the output (end-of-text included); 0 is certain.")
    beams: list[Beam] = Field(description="Every hypothesis of the beam search, best first.")


class TranslateResponse(BaseModel):
    model: str
    version: int
    translations: list[TranslationAnswer]


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
    """Payload: encoded texts and a beam size; result: one translation per text."""

    task = "translate"
    route = "/predict/translate"
    summary = "Translate texts character by character (dates to ISO 8601, words)"
    default_model = DEFAULT_TRANSLATOR
    model_field = "model"
    response_model = TranslateResponse

    def __init__(self, manifest: Manifest, backend: Backend, settings: Settings) -> None:
        super().__init__(manifest, backend, settings)
        pre = manifest.preprocessing
        self.source_vocab = CharVocab(tuple(pre["source_vocab"]))
        self.target_vocab = CharVocab(tuple(pre["target_vocab"]))
        self.lowercase = bool(pre.get("lowercase", False))
        self.max_source_len = int(pre["max_source_len"])
        self.max_target_len = int(pre["max_target_len"])

    @classmethod
    def request_model(cls, model: TaskModel[Any, Any] | None) -> type[BaseModel]:
        limit = f" (at most {model.max_source_len} characters each)" if isinstance(model, TranslateModel) else ""

        class TranslateRequest(BaseModel):
            model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
                {"texts": ["3 March 1998", "Tuesday, 3 mars 1998", "03/03/98"], "model": DEFAULT_TRANSLATOR,
                 "beam_size": 1}]})

            texts: list[str] = Field(description=f"Texts to translate{limit}.", min_length=1)
            model: str = Field(DEFAULT_TRANSLATOR, description="Translator model: 'dates' (to ISO 8601) or 'words'. "
                               "Same as ?model=; give one or the other.")
            beam_size: int = Field(1, ge=1, le=MAX_BEAM, description="1 decodes greedily; more runs beam search.")

        return TranslateRequest

    def parse_json(self, body: dict[str, Any]) -> TranslateRequest:
        self.reject_unknown(body)
        return self.check(require(body, "texts"), body.get("beam_size", 1))

    def answer_json(self, result: list[Translation]) -> dict[str, Any]:
        return {"translations": [
            {"text": t.text, "score": t.score, "beams": [{"text": b, "score": s} for b, s in t.beams]}
            for t in result
        ]}

    def signature(self) -> Signature:
        return SIGNATURE

    def parse_tensors(self, inputs: dict[str, Tensor]) -> TranslateRequest:
        self.only_known(inputs)
        texts = inputs.get("texts")
        if texts is None or not isinstance(texts.data, list):
            raise InputError("input 'texts' must be a BYTES tensor")
        try:
            decoded = [t.decode("utf-8") for t in texts.data]
        except UnicodeDecodeError:
            raise InputError("input 'texts' must be UTF-8") from None
        return self.check(decoded, tensor_scalar(inputs, "beam_size", 1))

    def answer_tensors(self, result: list[Translation]) -> list[Tensor]:
        scores = np.array([t.score for t in result], dtype=np.float32)
        return [Tensor("translations", "BYTES", [len(result)], [t.text.encode() for t in result]),
                Tensor("scores", "FP32", [len(scores)], scores)]

    def check(self, texts: Any, beam_size: Any) -> TranslateRequest:
        if isinstance(beam_size, bool) or not isinstance(beam_size, int) or not 1 <= beam_size <= MAX_BEAM:
            raise InputError(f"'beam_size' must be an integer from 1 to {MAX_BEAM}, got {beam_size!r}")
        if not isinstance(texts, list):
            raise InputError("'texts' must be a list of strings")
        if not texts:
            raise InputError("'texts' is empty; send at least one text")
        if len(texts) > self.max_items:
            raise InputError(f"'texts' has {len(texts)} texts; at most {self.max_items} per request")
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

    def run_batch(self, payloads: list[TranslateRequest]) -> list[list[Translation]]:
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

    def translate(self, sequences: list[list[int]], beam_size: int,
                  attention: list[np.ndarray] | None = None) -> list[Translation]:
        """Decode encoded texts; `attention`, when given, collects the decoder's attention per step."""
        # Padding is exact here: the encoder reverses each sequence within its own length and
        # attention masks the padded steps, so a padded batch answers as its items would alone.
        ids, lengths = pad_batch(sequences)
        memory, keys, hidden = self.backend.run("encoder", {"source": ids, "lengths": lengths})

        def step(tokens: np.ndarray, state: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            log_probs, new_state, weights = self.backend.run("decoder", {
                "token": tokens, "hidden": state, "memory": memory[rows], "keys": keys[rows],
                "lengths": lengths[rows]})
            if attention is not None:
                attention.append(weights)
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
