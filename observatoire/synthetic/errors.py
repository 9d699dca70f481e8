"""Realistic errors injected into synthetic partner files, one recorded row per error.

Each corruption is a pure function ``(value, rnd) -> str | None`` that returns ``None`` when it
does not apply to the value (no accent to drop and no ``e`` to accent, a day above 12 for a
day/month swap...). `inject_errors` picks the rows to corrupt and records what it changed.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from observatoire.synthetic.names import (
    VARIANT_INDEX,
    VARIANT_RULES,
    _key,
    capitalise,
    strip_accents,
)

ERROR_COLUMNS = ("file", "row_number", "column", "kind", "original", "corrupted")

# AZERTY neighbours, for one-key typos.
_NEIGHBOURS = {
    "a": "zq", "z": "aes", "e": "zrd", "r": "etf", "t": "ryg", "y": "tuh", "u": "yij",
    "i": "uok", "o": "ipl", "p": "om", "q": "asw", "s": "qdz", "d": "sfe", "f": "dgr",
    "g": "fht", "h": "gjy", "j": "hku", "k": "jli", "l": "kmo", "m": "lp", "w": "xq",
    "x": "wc", "c": "xv", "v": "cb", "b": "vn", "n": "bm",
}  # fmt: skip


def _restyle(new: str, old: str) -> str:
    """Give ``new`` the case style of ``old`` (all capitals or capitalised)."""
    return new.upper() if old.isupper() and len(old) > 1 else new


_RULES = tuple((re.compile(p), r) for p, r in VARIANT_RULES)


@lru_cache(maxsize=200_000)
def _applicable_rules(text: str) -> tuple[int, ...]:
    return tuple(i for i, (p, _) in enumerate(_RULES) if p.search(text))


def spelling_variant(value: str, rnd: random.Random) -> str | None:
    """Another spelling of the name: its transliteration family, else a spelling rule."""
    if not value:
        return None
    family = VARIANT_INDEX.get(_key(value))
    if family is not None:
        choices = [m for m in family if _key(m) != _key(value) or m != value]
        choices = [m for m in choices if m.lower() != value.lower()]
        if choices:
            return _restyle(rnd.choice(choices), value)
    tokens = re.split(r"([\s\-])", value)
    word_idx = [i for i, t in enumerate(tokens) if _key(t) in VARIANT_INDEX]
    if word_idx:
        i = rnd.choice(word_idx)
        others = [m for m in VARIANT_INDEX[_key(tokens[i])] if m.lower() != tokens[i].lower()]
        if others:
            tokens[i] = _restyle(rnd.choice(others), tokens[i])
            return "".join(tokens)
    low = value.lower()
    rules = _applicable_rules(low[1:])
    if not rules:
        return None
    pattern, repl = _RULES[rnd.choice(rules)]
    new = low[0] + pattern.sub(repl, low[1:], count=1)
    return _restyle(capitalise(new), value)


def typo(value: str, rnd: random.Random) -> str | None:
    """One-character edit: substitution by a neighbouring key, deletion, insertion, swap."""
    if len(value) < 3 or not value[1:].isalpha():
        letters = [i for i, c in enumerate(value) if c.isalpha() and i > 0]
    else:
        letters = list(range(1, len(value)))
    if len(letters) < 2:
        return None
    i = rnd.choice(letters)
    op = rnd.choice(("substitute", "delete", "insert", "transpose"))
    ch = value[i]
    if op == "substitute":
        near = _NEIGHBOURS.get(strip_accents(ch.lower()), "e")
        new_ch = rnd.choice(near)
        new = value[:i] + (new_ch.upper() if ch.isupper() else new_ch) + value[i + 1 :]
    elif op == "delete":
        new = value[:i] + value[i + 1 :]
    elif op == "insert":
        new = value[:i] + ch + value[i:]
    else:
        j = i - 1 if i == len(value) - 1 else i + 1
        a, b = sorted((i, j))
        new = value[:a] + value[b] + value[a] + value[b + 1 :]
    return new if new != value else None


def accents(value: str, rnd: random.Random) -> str | None:
    """Drop the accents of a name, or add one to a name that has none (Helene -> Hélene)."""
    if not value:
        return None
    stripped = strip_accents(value)
    if stripped != value:
        return stripped
    positions = [i for i, c in enumerate(value) if c in "eE" and i > 0]
    if not positions:
        return None
    i = rnd.choice(positions)
    accented = rnd.choice("éè")
    return value[:i] + (accented.upper() if value[i].isupper() else accented) + value[i + 1 :]


_PREFIXES = ("Abdel", "Abd", "Ben", "El", "Ait", "Aït", "Bou", "Ould", "Le", "La", "De", "Du")


def hyphen_space(value: str, rnd: random.Random) -> str | None:
    """Compound names written with a hyphen, a space or joined (Abdel Kader, Abdel-Kader...)."""
    if not value:
        return None
    if "-" in value:
        return value.replace("-", rnd.choice((" ", "")), 1)
    if " " in value:
        return value.replace(" ", rnd.choice(("-", "")), 1)
    for prefix in _PREFIXES:
        rest = value[len(prefix) :]
        if value.lower().startswith(prefix.lower()) and len(rest) >= 3 and rest[0].isalpha():
            return value[: len(prefix)] + rnd.choice((" ", "-")) + rest[0].upper() + rest[1:]
    return None


def upper_case(value: str, rnd: random.Random) -> str | None:
    """The whole name typed in capitals."""
    return value.upper() if value and value.upper() != value else None


def _date_fn(fmt: str, how: str) -> Callable[[str, random.Random], str | None]:
    def corrupt(value: str, rnd: random.Random) -> str | None:
        if not value:
            return None
        d = dt.datetime.strptime(value, fmt).date()
        if how == "missing":
            return ""
        if how == "placeholder":
            return None if (d.day, d.month) == (1, 1) else d.replace(day=1, month=1).strftime(fmt)
        if d.day > 12 or d.day == d.month:
            return None
        return d.replace(day=d.month, month=d.day).strftime(fmt)

    return corrupt


@dataclass(frozen=True)
class FileLayout:
    """Which columns of a partner file each kind of error may touch."""

    name_columns: tuple[str, ...]
    birth_date_column: str | None
    birth_date_format: str
    optional_columns: tuple[str, ...]
    last_first: tuple[str, str] | None  # (last name column, first name column)


NAME_KINDS: dict[str, Callable[[str, random.Random], str | None]] = {
    "variant": spelling_variant,
    "hyphen_space": hyphen_space,
    "accents": accents,
    "typo": typo,
    "upper_case": upper_case,
}
BIRTH_DATE_KINDS = ("missing_birth_date", "placeholder_birth_date", "day_month_swap")
ERROR_KINDS: tuple[str, ...] = (
    *NAME_KINDS,
    "swap_names",
    *BIRTH_DATE_KINDS,
    "missing_value",
)
"""Kinds of injected errors, in the order they are applied; ``encoding_replaced`` is added
when a file goes through cp1252."""


def _pick_rows(
    n_rows: int,
    rate: float,
    rng: np.random.Generator,
    apply: Callable[[int], bool],
    exclude: set[int] | None = None,
) -> list[int]:
    """Corrupt about ``rate * n_rows`` rows, walking a random order until enough applied."""
    target = int(rng.binomial(n_rows, rate)) if n_rows else 0
    done: list[int] = []
    if target == 0:
        return done
    for row in rng.permutation(n_rows):
        row = int(row)
        if exclude is not None and row in exclude:
            continue
        if apply(row):
            done.append(row)
            if len(done) == target:
                break
    return done


def inject_errors(
    name: str,
    frame: pd.DataFrame,
    layout: FileLayout,
    rates: dict[str, float],
    rng: np.random.Generator,
    rnd: random.Random,
) -> tuple[pd.DataFrame, list[tuple]]:
    """Corrupt a partner file; return it and one record per error (see `ERROR_COLUMNS`).

    ``rates[kind]`` is the share of the file's rows that get an error of that kind; kinds that
    need a particular value (a compound name, a day up to 12) stop at the rows that have one.
    """
    cols = {c: frame[c].to_numpy(dtype=object).copy() for c in frame.columns}
    n = len(frame)
    records: list[tuple] = []

    for kind, fn in NAME_KINDS.items():

        def apply_name(row: int, kind: str = kind, fn=fn) -> bool:
            order = list(layout.name_columns)
            rnd.shuffle(order)
            for col in order:
                old = cols[col][row]
                new = fn(old, rnd)
                if new is not None and new != old:
                    cols[col][row] = new
                    records.append((name, row, col, kind, old, new))
                    return True
            return False

        _pick_rows(n, rates[kind], rng, apply_name)

    if layout.last_first is not None:
        last, first = layout.last_first

        def apply_swap(row: int) -> bool:
            a, b = cols[last][row], cols[first][row]
            if not a or not b or a == b:
                return False
            cols[last][row], cols[first][row] = b, a
            records.append((name, row, f"{last}|{first}", "swap_names", f"{a}|{b}", f"{b}|{a}"))
            return True

        _pick_rows(n, rates["swap_names"], rng, apply_swap)

    if layout.birth_date_column is not None:
        col = layout.birth_date_column
        touched: set[int] = set()
        for kind in BIRTH_DATE_KINDS:
            fn = _date_fn(layout.birth_date_format, kind.split("_")[0])

            def apply_date(row: int, kind: str = kind, fn=fn) -> bool:
                old = cols[col][row]
                new = fn(old, rnd)
                if new is None:
                    return False
                cols[col][row] = new
                touched.add(row)
                records.append((name, row, col, kind, old, new))
                return True

            _pick_rows(n, rates[kind], rng, apply_date, exclude=touched)

    if layout.optional_columns:

        def apply_missing(row: int) -> bool:
            filled = [c for c in layout.optional_columns if cols[c][row]]
            if not filled:
                return False
            c = rnd.choice(filled)
            records.append((name, row, c, "missing_value", cols[c][row], ""))
            cols[c][row] = ""
            return True

        _pick_rows(n, rates["missing_value"], rng, apply_missing)

    out = pd.DataFrame({c: pd.array(v, dtype=object) for c, v in cols.items()})
    return out, records


def replace_unencodable(
    name: str, frame: pd.DataFrame, encoding: str
) -> tuple[pd.DataFrame, list[tuple]]:
    """Replace characters the encoding cannot hold by ``?``, as Excel does when saving as CSV.

    Returns the frame as the partner's file holds it and one ``encoding_replaced`` record per
    changed cell.
    """
    records: list[tuple] = []
    out = frame.copy()
    for col in frame.columns:
        values = frame[col].to_numpy(dtype=object)
        mapping: dict[object, object] = {}
        for v in pd.unique(values):
            if isinstance(v, str):
                enc = v.encode(encoding, errors="replace").decode(encoding)
                if enc != v:
                    mapping[v] = enc
        if not mapping:
            continue
        new = values.copy()
        for row in np.flatnonzero([isinstance(v, str) and v in mapping for v in values]):
            new[row] = mapping[values[row]]
            records.append((name, int(row), col, "encoding_replaced", values[row], new[row]))
        out[col] = pd.array(new, dtype=object)
    return out, records
