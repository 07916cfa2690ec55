"""Per-school formulas written once and used twice: evaluated with numpy, and written into Excel.

The zero-rating model and the operator investment case are defined as a list of ``(column, expression)`` pairs
(:class:`FormulaTable`). :func:`FormulaTable.evaluate` computes every column for the whole table with numpy — that
*is* the Python model — and :meth:`Expr.to_excel` renders the same expressions as the workbook's per-row formulas,
referencing the other columns of the row and the Assumptions sheet's defined names. Because both come from one
description, the workbook cannot drift from the model; the tests recalculate the workbook with LibreOffice to prove
that the rendering and the numpy evaluation agree.

Why hand-written: formula libraries (``formulas``, ``pycel``) evaluate existing spreadsheets cell by cell, which is
far too slow for 100,000 rows and goes the wrong way round; sympy can print expressions but knows neither Excel's
blank-cell rules nor its ``IF``/``ISNUMBER``/``EXACT`` functions. The language here is deliberately tiny: numbers,
the row's columns, defined names, arithmetic, comparisons, ``IF``, ``ISNUMBER``, ``EXACT`` and a division that
returns a fallback when the denominator is zero.

Excel semantics kept by the numpy evaluation:

* a blank cell is 0 in arithmetic and comparisons (:class:`Col` evaluates NaN as 0), and ``ISNUMBER`` is false for
  it (:class:`IsNumber` looks at the raw column);
* ``EXACT`` compares text case-sensitively and without wildcards (``=`` on text would ignore case, and ``MATCH`` or
  ``SUMIFS`` criteria would treat ``*`` and ``?`` in operator names as wildcards — so text is only ever compared
  with ``EXACT``, and only to defined names, never to text taken from data).

Text literals (:class:`Text`) are constants of the model such as ``"equal"``; they must be plain words, so no text
from data can ever reach a formula.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Col", "Exact", "Expr", "FormulaTable", "If", "IsNumber", "Name", "Num", "SafeDiv", "Text", "as_expr", "total",
]

_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_ ]*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Value = NDArray[np.float64] | NDArray[np.bool_] | float | str | bool


class Expr:
    """A node of a per-row formula. Combine with ``+ - * /``, comparisons with :meth:`eq`, :meth:`gt`..."""

    precedence = 9  # atoms never need parentheses

    def __add__(self, other: Any) -> Expr:
        return BinOp("+", self, as_expr(other))

    def __radd__(self, other: Any) -> Expr:
        return BinOp("+", as_expr(other), self)

    def __sub__(self, other: Any) -> Expr:
        return BinOp("-", self, as_expr(other))

    def __rsub__(self, other: Any) -> Expr:
        return BinOp("-", as_expr(other), self)

    def __mul__(self, other: Any) -> Expr:
        return BinOp("*", self, as_expr(other))

    def __rmul__(self, other: Any) -> Expr:
        return BinOp("*", as_expr(other), self)

    def __truediv__(self, other: Any) -> Expr:
        return BinOp("/", self, as_expr(other))

    def __rtruediv__(self, other: Any) -> Expr:
        return BinOp("/", as_expr(other), self)

    def eq(self, other: Any) -> Expr:
        """Numeric equality (``=``)."""
        return Cmp("=", self, as_expr(other))

    def gt(self, other: Any) -> Expr:
        """Numeric ``>``."""
        return Cmp(">", self, as_expr(other))

    # -- to be implemented by nodes ----------------------------------------------------------------------------
    def evaluate(self, env: Env) -> Value:
        """Value for every row (an array) or a scalar when the expression does not depend on the row."""
        raise NotImplementedError

    def to_excel(self, ref: Callable[[str], str]) -> str:
        """Excel formula text (without ``=``); ``ref(column)`` gives the cell reference of a column in the row."""
        raise NotImplementedError

    def to_text(self) -> str:
        """The expression for people, with column and assumption names."""
        return self.to_excel(lambda column: f"[{column}]")

    def names(self) -> Iterator[str]:
        """Defined names the expression uses."""
        return iter(())

    def columns(self) -> Iterator[str]:
        """Columns of the row the expression uses."""
        return iter(())


def as_expr(value: Any) -> Expr:
    """Wrap a Python number as :class:`Num`; expressions pass through."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"cannot use {value!r} in a formula; wrap text constants in Text()")
    return Num(float(value))


def _number_text(value: float) -> str:
    if not np.isfinite(value):
        raise ValueError(f"non-finite number {value!r} cannot be written into a formula")
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


@dataclass(frozen=True)
class Env:
    """What an expression is evaluated against: the table's columns and the assumptions' values."""

    columns: Mapping[str, NDArray[np.float64]]
    names: Mapping[str, float | str]


@dataclass(frozen=True, eq=False)
class Num(Expr):
    """A numeric constant of the model (never a value from data)."""

    value: float

    def evaluate(self, env: Env) -> Value:
        return self.value

    def to_excel(self, ref: Callable[[str], str]) -> str:
        text = _number_text(self.value)
        return f"({text})" if self.value < 0 else text


@dataclass(frozen=True, eq=False)
class Text(Expr):
    """A text constant of the model such as ``"equal"`` — a plain word, never text from data."""

    value: str

    def __post_init__(self) -> None:
        if not _WORD.match(self.value):
            raise ValueError(f"text constant {self.value!r} must be a plain word (letters, digits, _ and spaces)")

    def evaluate(self, env: Env) -> Value:
        return self.value

    def to_excel(self, ref: Callable[[str], str]) -> str:
        return f'"{self.value}"'


@dataclass(frozen=True, eq=False)
class Col(Expr):
    """Another column of the same row (a blank cell counts as 0, as in Excel)."""

    name: str

    def evaluate(self, env: Env) -> Value:
        try:
            values = env.columns[self.name]
        except KeyError:
            raise KeyError(f"formula uses column {self.name!r}, neither an input nor defined earlier") from None
        return np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)

    def to_excel(self, ref: Callable[[str], str]) -> str:
        return ref(self.name)

    def columns(self) -> Iterator[str]:
        yield self.name


@dataclass(frozen=True, eq=False)
class Name(Expr):
    """A defined name of the workbook (an assumption's cell): a number or a text."""

    name: str

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"{self.name!r} is not a valid defined name")

    def evaluate(self, env: Env) -> Value:
        try:
            return env.names[self.name]
        except KeyError:
            raise KeyError(f"formula uses assumption {self.name!r}, which has no value") from None

    def to_excel(self, ref: Callable[[str], str]) -> str:
        return self.name

    def names(self) -> Iterator[str]:
        yield self.name


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


@dataclass(frozen=True, eq=False)
class BinOp(Expr):
    """Arithmetic on two expressions."""

    op: str
    left: Expr
    right: Expr

    @property
    def precedence(self) -> int:  # type: ignore[override]
        return _PRECEDENCE[self.op]

    def evaluate(self, env: Env) -> Value:
        a = _number(self.left.evaluate(env))
        b = _number(self.right.evaluate(env))
        if self.op == "+":
            return a + b
        if self.op == "-":
            return a - b
        if self.op == "*":
            return a * b
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.divide(a, b)

    def to_excel(self, ref: Callable[[str], str]) -> str:
        left = self.left.to_excel(ref)
        right = self.right.to_excel(ref)
        if self.left.precedence < self.precedence:
            left = f"({left})"
        # Right operands of - and / need parentheses at equal precedence too: a-(b-c), a/(b*c).
        if self.right.precedence < self.precedence or (
            self.right.precedence == self.precedence and self.op in "-/"
        ):
            right = f"({right})"
        return f"{left}{self.op}{right}"

    def names(self) -> Iterator[str]:
        yield from self.left.names()
        yield from self.right.names()

    def columns(self) -> Iterator[str]:
        yield from self.left.columns()
        yield from self.right.columns()


@dataclass(frozen=True, eq=False)
class Cmp(Expr):
    """A numeric comparison (true/false)."""

    op: str
    left: Expr
    right: Expr
    precedence = 0

    def evaluate(self, env: Env) -> Value:
        a = _number(self.left.evaluate(env))
        b = _number(self.right.evaluate(env))
        if self.op == "=":
            return np.equal(a, b)
        return np.greater(a, b)

    def to_excel(self, ref: Callable[[str], str]) -> str:
        return f"{self.left.to_excel(ref)}{self.op}{self.right.to_excel(ref)}"

    def names(self) -> Iterator[str]:
        yield from self.left.names()
        yield from self.right.names()

    def columns(self) -> Iterator[str]:
        yield from self.left.columns()
        yield from self.right.columns()


@dataclass(frozen=True, eq=False)
class If(Expr):
    """``IF(condition, then, otherwise)``."""

    condition: Expr
    then: Expr
    otherwise: Expr

    def __init__(self, condition: Expr, then: Any, otherwise: Any) -> None:
        object.__setattr__(self, "condition", condition)
        object.__setattr__(self, "then", as_expr(then))
        object.__setattr__(self, "otherwise", as_expr(otherwise))

    def evaluate(self, env: Env) -> Value:
        condition = self.condition.evaluate(env)
        then = self.then.evaluate(env)
        otherwise = self.otherwise.evaluate(env)
        if isinstance(condition, bool | np.bool_):
            return then if condition else otherwise
        return np.where(np.asarray(condition, dtype=bool), _number(then), _number(otherwise))

    def to_excel(self, ref: Callable[[str], str]) -> str:
        return (
            f"IF({self.condition.to_excel(ref)},{self.then.to_excel(ref)},{self.otherwise.to_excel(ref)})"
        )

    def names(self) -> Iterator[str]:
        for part in (self.condition, self.then, self.otherwise):
            yield from part.names()

    def columns(self) -> Iterator[str]:
        for part in (self.condition, self.then, self.otherwise):
            yield from part.columns()


@dataclass(frozen=True, eq=False)
class IsNumber(Expr):
    """``ISNUMBER(column)``: false for a blank (unknown) cell."""

    column: Col

    def evaluate(self, env: Env) -> Value:
        return np.isfinite(np.asarray(env.columns[self.column.name], dtype=np.float64))

    def to_excel(self, ref: Callable[[str], str]) -> str:
        return f"ISNUMBER({self.column.to_excel(ref)})"

    def columns(self) -> Iterator[str]:
        yield self.column.name


@dataclass(frozen=True, eq=False)
class Exact(Expr):
    """``EXACT(a, b)``: case-sensitive text equality, no wildcards. Only names and text constants are allowed."""

    left: Name | Text
    right: Name | Text

    def evaluate(self, env: Env) -> Value:
        return str(self.left.evaluate(env)) == str(self.right.evaluate(env))

    def to_excel(self, ref: Callable[[str], str]) -> str:
        return f"EXACT({self.left.to_excel(ref)},{self.right.to_excel(ref)})"

    def names(self) -> Iterator[str]:
        yield from self.left.names()
        yield from self.right.names()


@dataclass(frozen=True, eq=False)
class SafeDiv(Expr):
    """``numerator / denominator``, or ``fallback`` where the denominator is 0 (Excel would give #DIV/0!)."""

    numerator: Expr
    denominator: Expr
    fallback: Expr

    def __init__(self, numerator: Any, denominator: Any, fallback: Any = 0.0) -> None:
        object.__setattr__(self, "numerator", as_expr(numerator))
        object.__setattr__(self, "denominator", as_expr(denominator))
        object.__setattr__(self, "fallback", as_expr(fallback))

    def evaluate(self, env: Env) -> Value:
        num = _number(self.numerator.evaluate(env))
        den = _number(self.denominator.evaluate(env))
        fallback = _number(self.fallback.evaluate(env))
        zero = np.equal(den, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(zero, fallback, np.divide(num, np.where(zero, 1.0, den)))

    def to_excel(self, ref: Callable[[str], str]) -> str:
        den = self.denominator.to_excel(ref)
        num = self.numerator.to_excel(ref)
        if self.numerator.precedence < _PRECEDENCE["/"]:
            num = f"({num})"
        den_div = f"({den})" if self.denominator.precedence <= _PRECEDENCE["/"] else den
        return f"IF({den}=0,{self.fallback.to_excel(ref)},{num}/{den_div})"

    def names(self) -> Iterator[str]:
        for part in (self.numerator, self.denominator, self.fallback):
            yield from part.names()

    def columns(self) -> Iterator[str]:
        for part in (self.numerator, self.denominator, self.fallback):
            yield from part.columns()


def total(terms: list[Expr]) -> Expr:
    """Sum of expressions (0 when there are none)."""
    if not terms:
        return Num(0.0)
    result = terms[0]
    for term in terms[1:]:
        result = result + term
    return result


def _number(value: Value) -> Any:
    if isinstance(value, str):
        raise TypeError(f"text {value!r} used in arithmetic; compare text with Exact()")
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, np.ndarray) and value.dtype == bool:
        return value.astype(np.float64)
    return value


@dataclass
class FormulaTable:
    """An ordered list of computed columns; each may use input columns and the columns defined before it.

    Attributes
    ----------
    formulas
        ``(column name, expression)`` in evaluation order.
    units
        Unit of each computed column, for number formats and documentation.
    """

    formulas: list[tuple[str, Expr]] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, expr: Expr, unit: str) -> Col:
        """Append a column; returns a :class:`Col` referring to it for use in later formulas."""
        if any(name == existing for existing, _ in self.formulas):
            raise ValueError(f"formula column {name!r} defined twice")
        self.formulas.append((name, expr))
        self.units[name] = unit
        return Col(name)

    def extend(self, other: FormulaTable) -> None:
        """Append another table's columns after this one's."""
        for name, expr in other.formulas:
            self.add(name, expr, other.units[name])

    @property
    def names(self) -> list[str]:
        """The computed columns, in order."""
        return [name for name, _ in self.formulas]

    def inputs(self) -> list[str]:
        """Input columns the formulas read (not computed by an earlier formula), in first-use order."""
        computed: set[str] = set()
        needed: list[str] = []
        for name, expr in self.formulas:
            for column in expr.columns():
                if column not in computed and column not in needed:
                    needed.append(column)
            computed.add(name)
        return needed

    def assumption_names(self) -> list[str]:
        """Defined names the formulas use, in first-use order."""
        seen: list[str] = []
        for _, expr in self.formulas:
            for name in expr.names():
                if name not in seen:
                    seen.append(name)
        return seen

    def evaluate(
        self, columns: Mapping[str, NDArray[np.float64]], names: Mapping[str, float | str], n_rows: int
    ) -> dict[str, NDArray[np.float64]]:
        """Compute every formula column for all rows.

        Parameters
        ----------
        columns
            Input columns as float arrays (NaN = blank cell).
        names
            Value of every defined name the formulas use.
        n_rows
            Number of rows (scalar results are broadcast to it).

        Returns
        -------
        dict
            Each computed column as a float64 array of length ``n_rows``.
        """
        env_columns: dict[str, NDArray[np.float64]] = dict(columns)
        env = Env(env_columns, names)
        out: dict[str, NDArray[np.float64]] = {}
        for name, expr in self.formulas:
            value = np.broadcast_to(np.asarray(_number(expr.evaluate(env)), dtype=np.float64), (n_rows,)).copy()
            env_columns[name] = value
            out[name] = value
        return out
