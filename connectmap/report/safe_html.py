"""The one way text from data reaches an HTML page: as JSON, escaped for a ``<script>`` element.

School names, operator names, field names, labels, layer names and legend text are untrusted (a register can hold
``<img src=x onerror=...>``, ``</script>``, ``${...}``, backticks or ``{{ ... }}``). The map never interpolates them
into markup, JavaScript source or a template: every string goes through :func:`page_json` into one
``<script type="application/json">`` element, and the page's script reads it with ``JSON.parse`` and puts text on
the page only with ``textContent``. So:

* HTML: ``<``, ``>`` and ``&`` are written as ``\\u003c``, ``\\u003e``, ``\\u0026``, so no string can close the
  ``<script>`` element or open a comment or tag;
* JavaScript: the element is data, never evaluated; U+2028/U+2029 are escaped too so the JSON stays valid JavaScript
  if someone pastes it into a script;
* template engines: nothing is rendered through Jinja or any other template engine, so ``{{ }}``, ``{% %}`` and
  ``{#`` stay text.

Strings are first cleaned with :func:`connectmap.report.text.clean_text` (NFC; control characters, lone surrogates
and U+FFFE/U+FFFF become U+FFFD), as every writer does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from connectmap.report.text import clean_text

__all__ = ["page_json"]

# (character, JSON escape): str.replace per character is far faster than str.translate on a 15 MB page.
_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


_PLAIN_NUMBERS = frozenset({int, float, bool, type(None)})


def _clean(value: Any, *, finite: bool = False) -> Any:
    # Walk the structure once: clean every string (keys too) and make numpy scalars and NaN JSON-safe. Lists of plain
    # Python numbers (the bulk of a map's data) are passed through as they are unless ``finite`` asks to replace
    # non-finite floats: json.dumps(allow_nan=False) catches those and page_json walks again with finite=True.
    kind = type(value)
    if kind is str:
        return clean_text(value)[0]
    if kind is list or kind is tuple:
        if not finite and set(map(type, value)) <= _PLAIN_NUMBERS:
            return value
        return [_clean(item, finite=finite) for item in value]
    if isinstance(value, str):
        return clean_text(value)[0]
    if isinstance(value, Mapping):
        return {clean_text(key)[0] if isinstance(key, str) else str(key): _clean(item, finite=finite)
                for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item, finite=finite) for item in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist(), finite=finite)
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if value is None:
        return None
    # pandas NA, NaT and anything else: text through the same cleaning (NA-likes become null).
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return clean_text(value)[0]


def page_json(value: Any) -> str:
    """Serialise ``value`` as JSON that is safe inside ``<script type="application/json">``.

    Parameters
    ----------
    value
        Nested dicts, lists, strings, numbers, booleans, ``None``, numpy arrays and scalars. Non-finite floats and
        pandas NA become ``null``.

    Returns
    -------
    str
        JSON text without any ``<``, ``>``, ``&``, U+2028 or U+2029 character; ``json.loads`` of it gives the
        cleaned value back exactly.

    Examples
    --------
    >>> page_json({"name": "</script><b>x</b> & {{ 7*7 }}"})
    '{"name":"\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003ex\\\\u003c/b\\\\u003e \\\\u0026 {{ 7*7 }}"}'
    """
    try:
        text = json.dumps(_clean(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:  # a NaN or infinity in a list of numbers: walk again, writing them as null
        text = json.dumps(_clean(value, finite=True), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in _ESCAPES:
        text = text.replace(char, escape)
    return text
