"""Character translation: texts in, decoded texts with their probability out (greedy or beam).

A model's manifest may name an output grammar (dates: `iso_date_as_written`, so only dates, months and
years can be decoded, and a day that does not exist is refused with its reason), the date orders it takes
(the caller's reading of ambiguous numeric dates, given to the model as a marker before the text), the
temperature that calibrates its confidence, a confidence below which it abstains, and the month names a month
it writes must be found by in the text. The decoding and the abstention live in app/processing/translator.py;
this module is the task's contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, Field

from app.errors import InputError
from app.processing.grammar import PRECISIONS, TokenGrammar
from app.processing.months import MonthNames
from app.processing.text import DATE_ORDERS, ORDER_MARKERS, CharVocab, source_text
from app.processing.translator import Translation, Translator, at_least
from app.repository.manifest import Manifest, TensorSpec
from app.runtime.base import Backend
from app.settings import Settings
from app.tasks.base import TaskModel
from app.tasks.contract import Input, run_grouped, scatter
from app.tensors import Tensor

DEFAULT_TRANSLATOR = "dates"
MAX_BEAM = 8

class Beam(BaseModel):
    text: str
    score: float


class TranslationAnswer(BaseModel):
    text: str | None = Field(description="The translation; null where the model abstains (see `reason`).")
    score: float = Field(description="Log-probability of the best output (end-of-text included); 0 is certain.")
    confidence: float = Field(ge=0, le=1, description="How likely the answer is right: the best output's "
                              "probability calibrated by the model's temperature, exp(score / temperature) "
                              "(docs/dates.md measures it). Below the model's `abstain_below` it abstains.")
    reason: str | None = Field(description="Why `text` is null; null when there is a translation.")
    precision: Literal["day", "month", "year"] | None = Field(
        description="Dates: what the text gives, `day` (2020-03-01), `month` (2020-03) or `year` (2020); the "
                    "answer is never completed with a day or month the text does not say. Null without a date.")
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
    min_precision: str | None = None  # dates coarser than this abstain


class TranslateModel(TaskModel[TranslateRequest, list[Translation]]):
    """Payload: encoded texts and a beam size; result: one translation per text."""

    task = "translate"
    route = "/predict/translate"
    summary = "Translate texts character by character (dates to ISO 8601, words)"
    default_model = DEFAULT_TRANSLATOR
    model_field = "model"
    response_model = TranslateResponse
    INPUTS = (
        Input("texts", "BYTES", (-1,), "Texts to translate (at most the model's max_source_len characters each).",
              items="max_items"),
        Input("model", "BYTES", (1,), "Translator model: 'dates' (to ISO 8601) or 'words'. Same as ?model=; give "
              "one or the other.", scalar=True, default=DEFAULT_TRANSLATOR, where="json"),
        Input("beam_size", "INT64", (1,), "1 decodes greedily; more runs beam search.", scalar=True, default=1, low=1,
              high=MAX_BEAM),
        Input("date_order", "BYTES", (1,), "Dates only: how to read a numeric date whose numbers allow more than one "
              f"reading, one of {', '.join(DATE_ORDERS)} (default the model's, DMY: 03/04/98 is 3 April 1998). A "
              "text with one reading (07/23/19) is read that way whatever this says.", scalar=True, default=None,
              choices=tuple(DATE_ORDERS), nullable=True),
        Input("min_precision", "BYTES", (1,), "Dates only: the coarsest answer wanted, one of "
              f"{', '.join(PRECISIONS)} (default year: any). With 'day', a text that gives only a month and year "
              "is answered null with the reason, not completed with a day.", scalar=True, default=None,
              choices=PRECISIONS, nullable=True),
    )
    OUTPUTS = (TensorSpec(name="translations", datatype="BYTES", shape=[-1]),  # b"" where the model abstains
               TensorSpec(name="scores", datatype="FP32", shape=[-1]),
               TensorSpec(name="confidences", datatype="FP32", shape=[-1]),
               TensorSpec(name="precisions", datatype="BYTES", shape=[-1]),  # b"day", b"month", b"year" or b""
               TensorSpec(name="reasons", datatype="BYTES", shape=[-1]))  # why the model abstains; b"" if not
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "texts": ["3 March 1998", "Tuesday, 3 mars 1998", "03/04/98", "July 23rd, '19 at 10:30 EST"],
        "model": DEFAULT_TRANSLATOR, "beam_size": 1, "date_order": "DMY"}

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
        months = MonthNames.from_manifest(pre["month_names"]) if "month_names" in pre else None
        self.translator = Translator(backend, self.target_vocab, self.max_target_len, self.grammar, self.abstain_below,
                                     float(pre.get("confidence_temperature", 1.0)),
                                     (months, self.source_vocab) if months is not None else None)
        # Marker characters are in the vocabulary, but no text may bring one: they are the caller's option.
        self.known = set(self.source_vocab.chars) - set(ORDER_MARKERS.values())

    def payload(self, values: dict[str, Any]) -> TranslateRequest:
        return self.check(values["texts"], values["beam_size"], values["date_order"], values["min_precision"])

    def answer_json(self, result: list[Translation]) -> dict[str, Any]:
        return {"translations": [
            {"text": t.text, "score": t.score, "confidence": t.confidence, "reason": t.reason,
             "precision": t.precision, "beams": [{"text": b, "score": s} for b, s in t.beams]}
            for t in result
        ]}

    def answer_tensors(self, result: list[Translation]) -> list[Tensor]:
        scores = np.array([t.score for t in result], dtype=np.float32)
        confidences = np.array([t.confidence for t in result], dtype=np.float32)
        return [Tensor("translations", "BYTES", [len(result)], [(t.text or "").encode() for t in result]),
                Tensor("scores", "FP32", [len(scores)], scores),
                Tensor("confidences", "FP32", [len(confidences)], confidences),
                Tensor("precisions", "BYTES", [len(result)], [(t.precision or "").encode() for t in result]),
                Tensor("reasons", "BYTES", [len(result)], [(t.reason or "").encode() for t in result])]

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

    def check(self, texts: list[str], beam_size: int, date_order: str | None = None,
              min_precision: str | None = None) -> TranslateRequest:
        """Texts (as the declaration's checks give them) -> encoded for the model, or what is wrong with one."""
        order = self.date_order(date_order)
        if min_precision is not None and not self.date_orders:
            raise InputError(f"model {self.manifest.name!r} reads no dates: 'min_precision' does not apply to it")
        ids = []
        for index, text in enumerate(texts):
            if not text.strip():
                raise InputError(f"texts[{index}] is empty")
            source = self.source_text(text, order)
            if len(source) > self.max_source_len:
                raise InputError(
                    f"texts[{index}] has {len(source)} characters once normalised (the date-order marker "
                    f"included); model {self.manifest.name!r} takes at most {self.max_source_len}"
                )
            ids.append(self.source_vocab.encode(source))
        return TranslateRequest(ids, beam_size, min_precision)

    def size(self, payload: TranslateRequest) -> int:
        return len(payload.ids) * payload.beam_size

    def split(self, payload: TranslateRequest, most: int) -> list[TranslateRequest]:
        step = max(1, most // payload.beam_size)
        ids = payload.ids
        return [TranslateRequest(ids[i : i + step], payload.beam_size, payload.min_precision)
                for i in range(0, len(ids), step)]

    def join(self, results: list[list[Translation]]) -> list[Translation]:
        return [translation for part in results for translation in part]

    def run_batch(self, payloads: list[TranslateRequest]) -> list[list[Translation]]:
        # One decode per beam size; a padded batch answers as its items would alone (see _decode).
        texts = [(ids, payload.beam_size) for payload in payloads for ids in payload.ids]
        decoded = run_grouped(texts, lambda text: text[1], lambda group: self.translate([t[0] for t in group],
                                                                                        group[0][1]))
        return [[at_least(t, payload.min_precision) for t in answers]
                for payload, answers in zip(payloads, scatter(decoded, [len(p.ids) for p in payloads]), strict=True)]

    def translate(self, sequences: list[list[int]], beam_size: int,
                  attention: list[np.ndarray] | None = None) -> list[Translation]:
        """Decode encoded texts; `attention`, when given, collects the decoder's attention per step."""
        return self.translator.translate(sequences, beam_size, attention)

    def warmup_payloads(self, batch_sizes: list[int]) -> list[TranslateRequest]:
        example = self.source_vocab.encode(self.source_text("".join(sorted(self.known))[: self.max_source_len // 2],
                                                             self.date_order(None)))
        return [TranslateRequest([example] * n, 1) for n in batch_sizes] + [TranslateRequest([example], 4)]


SIGNATURE = TranslateModel.declared_signature()
