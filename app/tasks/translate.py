"""Character translation: texts in, decoded texts with their probability out (greedy or beam).

A model's manifest may name an output grammar (dates: `iso_date`, so only calendar-valid dates can be
decoded), the date orders it takes (the caller's reading of ambiguous numeric dates, given to the model
as a marker before the text), and a confidence below which it abstains. An answer is `text: null` with a
reason when the model finds no date, when nothing of the text is left to read, or when it is not sure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from app.errors import InputError
from app.processing.decoding import Hypothesis, beam_decode, greedy_decode
from app.processing.grammar import TokenGrammar
from app.processing.text import DATE_ORDERS, ORDER_MARKERS, CharVocab, pad_batch, source_text
from app.repository.manifest import Manifest, TensorSpec
from app.runtime.base import Backend
from app.settings import Settings
from app.tasks.base import Signature, TaskModel, require, tensor_scalar
from app.tensors import Tensor

DEFAULT_TRANSLATOR = "dates"
MAX_BEAM = 8

SIGNATURE = Signature(
    inputs=[TensorSpec(name="texts", datatype="BYTES", shape=[-1]),
            TensorSpec(name="beam_size", datatype="INT64", shape=[1], optional=True),
            TensorSpec(name="date_order", datatype="BYTES", shape=[1], optional=True)],
    outputs=[TensorSpec(name="translations", datatype="BYTES", shape=[-1]),  # b"" where the model abstains
             TensorSpec(name="scores", datatype="FP32", shape=[-1]),
             TensorSpec(name="confidences", datatype="FP32", shape=[-1])],
)
NOTHING_TO_READ = "nothing is left of the text to read: no character of it is one the model knows"
NO_DATE = "the model finds no date in the text"


class Beam(BaseModel):
    text: str
    score: float


class TranslationAnswer(BaseModel):
    text: str | None = Field(description="The translation; null where the model abstains (see `reason`).")
    score: float = Field(description="Log-probability of the best output (end-of-text included); 0 is certain.")
    confidence: float = Field(ge=0, le=1, description="Probability of the best output, exp(score): how sure the "
                              "model is of the whole answer. Below the model's `abstain_below` it abstains.")
    reason: str | None = Field(description="Why `text` is null; null when there is a translation.")
    beams: list[Beam] = Field(description="Every hypothesis of the beam search, best first; the model's guesses "
                              "stay visible here when it abstains.")


class TranslateResponse(BaseModel):
    model: str
    version: int
    translations: list[TranslationAnswer]


@dataclass(frozen=True)
class TranslateRequest:
    ids: list[list[int]]  # [] for a text with nothing left to read: it is answered without the model
    beam_size: int


@dataclass(frozen=True)
class Translation:
    text: str | None  # None: abstained, see `reason`
    score: float
    beams: list[tuple[str, float]]  # every hypothesis, best first (one for greedy)
    reason: str | None = None

    @property
    def confidence(self) -> float:
        return float(np.exp(self.score))


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
        grammar = pre.get("output_grammar")
        self.grammar = TokenGrammar.named(grammar, self.target_vocab) if grammar else None
        self.date_orders: tuple[str, ...] = tuple(pre.get("date_orders", ()))
        self.default_date_order: str | None = pre.get("default_date_order")
        self.abstain_below = float(pre.get("abstain_below", 0.0))
        # Marker characters are in the vocabulary, but no text may bring one: they are the caller's option.
        self.known = set(self.source_vocab.chars) - set(ORDER_MARKERS.values())

    @classmethod
    def request_model(cls, model: TaskModel[Any, Any] | None) -> type[BaseModel]:
        limit = f" (at most {model.max_source_len} characters each)" if isinstance(model, TranslateModel) else ""
        default_order = (model.default_date_order if isinstance(model, TranslateModel) else None) or "DMY"

        class TranslateRequest(BaseModel):
            model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
                {"texts": ["3 March 1998", "Tuesday, 3 mars 1998", "03/04/98", "July 23rd, '19 at 10:30 EST"],
                 "model": DEFAULT_TRANSLATOR, "beam_size": 1, "date_order": "DMY"}]})

            texts: list[str] = Field(description=f"Texts to translate{limit}.", min_length=1)
            model: str = Field(DEFAULT_TRANSLATOR, description="Translator model: 'dates' (to ISO 8601) or 'words'. "
                               "Same as ?model=; give one or the other.")
            beam_size: int = Field(1, ge=1, le=MAX_BEAM, description="1 decodes greedily; more runs beam search.")
            date_order: Literal["DMY", "MDY", "YMD"] | None = Field(None, description=(
                f"Dates only: how to read a numeric date whose numbers allow more than one reading, one of "
                f"{', '.join(DATE_ORDERS)} (default {default_order}: 03/04/98 is 3 April 1998). A text with one "
                "reading (07/23/19) is read that way whatever this says."))

        return TranslateRequest

    def parse_json(self, body: dict[str, Any]) -> TranslateRequest:
        self.reject_unknown(body)
        return self.check(require(body, "texts"), body.get("beam_size", 1), body.get("date_order"))

    def answer_json(self, result: list[Translation]) -> dict[str, Any]:
        return {"translations": [
            {"text": t.text, "score": t.score, "confidence": t.confidence, "reason": t.reason,
             "beams": [{"text": b, "score": s} for b, s in t.beams]}
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
        order = inputs.get("date_order")
        date_order = None
        if order is not None:
            if not isinstance(order.data, list) or len(order.data) != 1:
                raise InputError("input 'date_order' must be one BYTES element")
            date_order = order.data[0].decode("utf-8", "replace")
        return self.check(decoded, tensor_scalar(inputs, "beam_size", 1), date_order)

    def answer_tensors(self, result: list[Translation]) -> list[Tensor]:
        scores = np.array([t.score for t in result], dtype=np.float32)
        confidences = np.array([t.confidence for t in result], dtype=np.float32)
        return [Tensor("translations", "BYTES", [len(result)], [(t.text or "").encode() for t in result]),
                Tensor("scores", "FP32", [len(scores)], scores),
                Tensor("confidences", "FP32", [len(confidences)], confidences)]

    def date_order(self, asked: Any) -> str | None:
        """The date order a dates model reads with: the caller's, or the model's default; None for others."""
        if not self.date_orders:
            if asked is not None:
                raise InputError(f"model {self.manifest.name!r} reads no dates: 'date_order' does not apply to it")
            return None
        if asked is None:
            return self.default_date_order
        if asked not in self.date_orders:
            raise InputError(f"'date_order' must be one of {', '.join(self.date_orders)}, got {asked!r}")
        return str(asked)

    def source_text(self, text: str, date_order: str | None = None) -> str:
        return source_text(text, self.lowercase, date_order, self.known)

    def check(self, texts: Any, beam_size: Any, date_order: Any = None) -> TranslateRequest:
        if isinstance(beam_size, bool) or not isinstance(beam_size, int) or not 1 <= beam_size <= MAX_BEAM:
            raise InputError(f"'beam_size' must be an integer from 1 to {MAX_BEAM}, got {beam_size!r}")
        order = self.date_order(date_order)
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
            if not text.strip():
                raise InputError(f"texts[{index}] is empty")
            source = self.source_text(text, order)
            if len(source) > self.max_source_len:
                raise InputError(
                    f"texts[{index}] has {len(source)} characters once normalised (the date-order marker "
                    f"included); model {self.manifest.name!r} takes at most {self.max_source_len}"
                )
            ids.append(self.source_vocab.encode(source))
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
        readable = [k for k, seq in enumerate(sequences) if seq]
        answers = [Translation(None, 0.0, [], NOTHING_TO_READ) for _ in sequences]
        if readable:
            decoded = self._decode([sequences[k] for k in readable], beam_size, attention)
            for k, answer in zip(readable, decoded, strict=True):
                answers[k] = answer
        return answers

    def _decode(self, sequences: list[list[int]], beam_size: int,
                attention: list[np.ndarray] | None) -> list[Translation]:
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
            hypotheses = [[h] for h in greedy_decode(step, hidden, self.max_target_len, self.grammar)]
        else:
            hypotheses = beam_decode(step, hidden, self.max_target_len, beam_size, self.grammar)
        return [self._translation(h) for h in hypotheses]

    def _translation(self, hypotheses: list[Hypothesis]) -> Translation:
        beams = [(self.target_vocab.decode(h.ids), h.score) for h in hypotheses]
        text, score = beams[0]
        if self.grammar is not None and text == "":
            return Translation(None, score, beams, NO_DATE)
        if np.exp(score) < self.abstain_below:
            return Translation(None, score, beams, f"the model is not sure: confidence {np.exp(score):.3f} is below "
                               f"its threshold {self.abstain_below}")
        return Translation(text, score, beams)

    def warmup_payloads(self, batch_sizes: list[int]) -> list[TranslateRequest]:
        example = self.source_vocab.encode(self.source_text("".join(sorted(self.known))[: self.max_source_len // 2],
                                                             self.date_order(None)))
        return [TranslateRequest([example] * n, 1) for n in batch_sizes] + [TranslateRequest([example], 4)]
