"""Reading delimited text whose encoding, separator and compression nobody wrote down.

School registers and tower lists arrive as CSV, TSV or TXT in UTF-8 (with or without BOM), UTF-16 (Excel's
"Unicode text"), or a legacy code page such as cp1251 for Cyrillic; separated by commas, semicolons (with decimal
commas), tabs or pipes; sometimes gzipped. :func:`read_delimited` works these out, says what it found, and returns
every cell as text so nothing is reinterpreted (IDs keep their leading zeros; a school named ``NA`` stays ``NA``).

Why partly hand-written: pandas reads the table, and charset-normalizer guesses legacy code pages, but neither
detects the separator robustly (``csv.Sniffer`` is fooled by commas inside names and by decimal commas), and a
pandas parse error on one malformed line would lose the whole file; we fall back to the :mod:`csv` module so a
row with too many fields becomes a rejected row instead of an exception.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from connectmap.errors import InputError, MissingInputError

log = logging.getLogger(__name__)

#: Separators tried, in order of preference when equally consistent.
DELIMITERS = (",", ";", "\t", "|")
#: Column added when a line has more fields than the header; the extra text is kept there for the rejected table.
EXTRA_FIELDS = "_extra_fields"
# Legacy code pages seen in school registers (Cyrillic, Western/Central European, Arabic, Greek, Turkish, Baltic,
# Vietnamese, Thai). Restricting the guess to these avoids exotic answers for short files.
_LEGACY_ENCODINGS = [
    "cp1251", "cp1252", "cp1250", "cp1256", "cp1253", "cp1254", "cp1257", "cp1258", "cp874",
    "koi8_r", "koi8_u", "iso8859_15", "latin_1", "mac_cyrillic",
]
_SAMPLE_BYTES = 1 << 20


@dataclass
class DelimitedText:
    """A delimited file read as text.

    Attributes
    ----------
    frame
        One column per field, every cell a string or missing (empty fields are missing). Rows that had more
        fields than the header carry the surplus, joined by the delimiter, in :data:`EXTRA_FIELDS`.
    encoding
        The encoding used to decode the file.
    encoding_detected
        False when the caller gave the encoding.
    delimiter
        The field separator used.
    compressed
        True when the file was gzip-compressed.
    notes
        Human-readable notes on what was detected or repaired.
    """

    frame: pd.DataFrame
    encoding: str
    encoding_detected: bool
    delimiter: str
    compressed: bool = False
    notes: list[str] = field(default_factory=list)


def read_bytes(path: str | Path) -> tuple[bytes, bool]:
    """Return the file's bytes, gunzipped if it is gzip-compressed (by content, not name), and whether it was."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{path}: file not found")
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data), True
        except (OSError, EOFError) as err:
            raise InputError(f"{path}: the gzip file is corrupt or truncated ({err}); download it again") from None
    return data, False


def detect_encoding(data: bytes, path: str | Path) -> str:
    """Work out the text encoding of ``data``.

    BOMs decide first (UTF-8, UTF-16, UTF-32); then UTF-16 without BOM (many zero bytes); then strict UTF-8; then
    the best legacy code page according to charset-normalizer.

    Raises
    ------
    InputError
        When no encoding fits; the message asks for ``--encoding``.
    """
    for bom, name in (
        (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return name
    sample = data[:_SAMPLE_BYTES]
    if sample:
        zeros_even = sample[0::2].count(0) / max(1, len(sample[0::2]))
        zeros_odd = sample[1::2].count(0) / max(1, len(sample[1::2]))
        if zeros_odd > 0.3 and zeros_even < 0.05:
            return "utf-16-le"
        if zeros_even > 0.3 and zeros_odd < 0.05:
            return "utf-16-be"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    import charset_normalizer

    best = charset_normalizer.from_bytes(sample, cp_isolation=_LEGACY_ENCODINGS).best()
    if best is None:
        raise InputError(
            f"{path}: cannot tell the text encoding (not UTF-8, UTF-16 or a common code page); "
            "pass it with --encoding, e.g. --encoding cp1251"
        )
    return best.encoding


def decode(data: bytes, encoding: str, path: str | Path) -> str:
    """Decode strictly, naming the byte offset and the fix when the encoding does not fit."""
    try:
        return data.decode(encoding)
    except LookupError:
        raise InputError(f"{path}: unknown encoding {encoding!r}; use a Python codec name such as cp1251") from None
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError(
            f"{path}, line {line}: bytes {data[err.start:err.start + 4]!r} are not valid {encoding}; "
            "pass the right --encoding (e.g. cp1251, utf-16)"
        ) from None


def detect_delimiter(text: str, path: str | Path) -> str:
    """Pick the separator that splits the first lines into the most consistent number of fields (> 1).

    Quotes are respected (a comma inside ``"Ecole A, B"`` is not a separator).
    """
    lines = text.splitlines()[:200]
    lines = [line for line in lines if line.strip()]
    best: tuple[float, int, int, str] | None = None
    for rank, delimiter in enumerate(DELIMITERS):
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        if not counts:
            continue
        mode, agree = Counter(counts).most_common(1)[0]
        if mode < 2:
            continue
        # Prefer the header's field count agreeing with most lines, then agreement, then more fields.
        score = (agree / len(counts) + (0.5 if counts[0] == mode else 0.0), mode, -rank, delimiter)
        if best is None or score[:3] > best[:3]:
            best = score
    if best is None:
        raise InputError(
            f"{path}: cannot find the field separator (tried , ; tab |); pass it with --delimiter"
        )
    return best[3]


def read_delimited(
    path: str | Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    header: bool = True,
    names: list[str] | None = None,
) -> DelimitedText:
    """Read a delimited text file with every cell as text.

    Parameters
    ----------
    path
        CSV/TSV/TXT file, optionally gzip-compressed.
    encoding
        Text encoding; detected when ``None``.
    delimiter
        Field separator; detected when ``None``.
    header
        Whether the first line holds column names. When False, ``names`` gives them (or they are numbered).
    names
        Column names for a file without header.

    Returns
    -------
    DelimitedText
        The table (all text, surrounding whitespace trimmed, empty cells missing) and what was detected.
        Row ``i`` of the frame is row ``i + 2`` of the file as a spreadsheet numbers it (``i + 1`` without header).
    """
    data, compressed = read_bytes(path)
    notes: list[str] = []
    detected = encoding is None
    if encoding is None:
        encoding = detect_encoding(data, path)
        if encoding not in ("utf-8", "utf-8-sig"):
            notes.append(f"encoding detected as {encoding}")
    text = decode(data, encoding, path)
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise InputError(f"{path}: the file is empty")
    if delimiter is None:
        delimiter = detect_delimiter(text, path)
        if delimiter != ",":
            notes.append(f"separator detected as {delimiter!r}")
    frame = _parse(text, delimiter, header, names, path, notes)
    return DelimitedText(frame, encoding, detected, delimiter, compressed, notes)


def _parse(
    text: str, delimiter: str, header: bool, names: list[str] | None, path: str | Path, notes: list[str]
) -> pd.DataFrame:
    options = dict(
        sep=delimiter, dtype=str, keep_default_na=False, na_values=[""], skip_blank_lines=False,
        header=0 if header else None, names=None if header else names, quotechar='"',
    )
    try:
        frame = pd.read_csv(io.StringIO(text), engine="c", **options)
    except pd.errors.ParserError:
        frame = _parse_ragged(text, delimiter, header, names)
        bad = int(frame[EXTRA_FIELDS].notna().sum())
        notes.append(f"{bad} line(s) have more fields than the header")
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: no columns found") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    for column in frame.columns:
        frame[column] = frame[column].str.strip().replace("", None)
    return frame


def _parse_ragged(text: str, delimiter: str, header: bool, names: list[str] | None) -> pd.DataFrame:
    """Parse with the csv module, keeping lines with too many fields (their surplus goes to EXTRA_FIELDS)."""
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if header:
        columns, rows = rows[0], rows[1:]
    else:
        width = max((len(r) for r in rows), default=0) if names is None else len(names)
        columns = names or [str(i) for i in range(width)]
    width = len(columns)
    body, extra = [], []
    for row in rows:
        body.append((row + [""] * width)[:width])
        extra.append(delimiter.join(row[width:]) if len(row) > width else "")
    frame = pd.DataFrame(body, columns=columns, dtype=str)
    frame[EXTRA_FIELDS] = extra
    return frame.replace("", None)
