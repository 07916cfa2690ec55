"""Text from data is untrusted: clean it once before it reaches any output.

:func:`clean_text` makes a string safe to store anywhere (XML, Excel, GeoPackage, JSON): Unicode NFC, no lone
surrogates, no control characters that XML 1.0 forbids. It does not escape anything; escaping for a target (HTML,
JavaScript, spreadsheet formulas) is the job of that target's writer, which must call this first.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

log = logging.getLogger(__name__)

# XML 1.0 allows TAB, LF, CR and everything from U+0020 except surrogates, U+FFFE and U+FFFF.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean_text(value: Any) -> tuple[str, bool]:
    """Return ``value`` as clean text and whether anything had to be removed.

    Parameters
    ----------
    value
        Any value; ``None`` and NaN become ``""``.

    Returns
    -------
    text, changed
        The NFC-normalised string with XML-illegal characters (control characters, lone surrogates, U+FFFE/U+FFFF)
        replaced by U+FFFD, and True when such a character was found.

    Examples
    --------
    >>> clean_text("Ecole\\x00 A")
    ('Ecole\\ufffd A', True)
    >>> clean_text("=HYPERLINK(1)")
    ('=HYPERLINK(1)', False)
    """
    if value is None or (isinstance(value, float) and value != value):
        return "", False
    text = value if isinstance(value, str) else str(value)
    cleaned, count = _ILLEGAL.subn("\ufffd", text)
    return unicodedata.normalize("NFC", cleaned), count > 0
