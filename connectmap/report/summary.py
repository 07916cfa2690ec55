"""``summary.md``: the headline figures of a run, in the words a ministry reads first."""

from __future__ import annotations

import math
from typing import Any

from connectmap.config import Config
from connectmap.report.text import clean_text


def _n(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.0f}"


def _usd(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"USD {value:,.0f}"


def _md(text: Any) -> str:
    """Data text (operator names) as inert Markdown: cleaned, with Markdown and HTML punctuation escaped."""
    cleaned, _ = clean_text(text)
    return "".join("\\" + c if c in "\\`*_{}[]()#+-.!|<>&" else c for c in cleaned)


def summary_markdown(summary: dict[str, Any], config: Config, missing: list[str], outputs: list[str]) -> str:
    """Render the headline figures of a run as Markdown.

    Parameters
    ----------
    summary
        Figures from :func:`connectmap.pipeline.headline_figures`.
    config
        The run's parameters (for the horizon, discount rate and budget).
    missing
        What the outputs lack because a layer was not given.
    outputs
        Files written, listed at the end.
    """
    finance = config.cost.finance
    plan = config.cost.plan
    name = config.inputs.country or config.inputs.name
    lines = [
        f"# School connectivity: {_md(name)}",
        "",
        "## Schools",
        f"- {_n(summary['rows_in'])} rows read; **{_n(summary['schools'])} schools** kept, "
        f"{_n(summary['rejected'])} rejected (see `rejected.csv`), {_n(summary['flagged'])} flagged for checking "
        "(`quality_flags`).",
        f"- {_n(summary['students'])} students in the register.",
        f"- Connectivity: {_n(summary['connected_reported'])} connected and {_n(summary['unconnected_reported'])} "
        f"not connected as reported; {_n(summary['connected_predicted'])} more predicted connected; "
        f"{_n(summary['connectivity_unknown'])} unknown.",
        "- Mobile coverage at the school: "
        + ", ".join(f"{_md(kind)} {_n(count)}" for kind, count in sorted(summary["coverage"].items())) + ".",
        "",
        "## Cost of connecting them",
        f"- **{_n(summary['connectable'])} schools can be connected**, {_n(summary['not_connectable'])} cannot with "
        f"the technologies and limits configured, {_n(summary['already_connected'])} are already connected.",
        "- Least-cost technology: "
        + (", ".join(f"{tech} {_n(n)}" for tech, n in sorted(summary["technology"].items())) or "none") + ".",
        f"- Up-front cost {_usd(summary['capex_usd'])}, running cost {_usd(summary['opex_usd_per_year'])} a year.",
        f"- Net present cost over {finance.horizon_years} years at {finance.discount_rate_pct:g} %: "
        f"**{_usd(summary['npv_usd'])}**, or {_usd(summary['npv_usd_shared'])} when schools on fibre share routes.",
    ]
    if plan.budget_usd is not None:
        budget = f"USD {plan.budget_usd:,.0f} in total"
    elif plan.budget_usd_per_year is not None:
        budget = f"USD {plan.budget_usd_per_year:,.0f} a year"
    else:
        budget = "no budget limit"
    lines += [
        f"- Rollout ({budget}, objective: {plan.objective.replace('_', ' ')}): {_n(summary['rollout_schools'])} "
        f"schools and {_n(summary['rollout_students'])} students over {_n(summary['rollout_years'])} year(s) "
        "(`rollout.csv`).",
        "",
        "## Zero-rating and the operators",
        f"- Carrying the ministry's learning content free: {_n(summary['zero_rating_gb_per_year'])} GB a year, "
        f"costing the operators {_usd(summary['zero_rating_usd_per_year'])} a year.",
    ]
    if summary["operators"]:
        lines += ["", "| operator | schools in footprint | zero-rating USD/year | operator NPV USD |",
                  "| --- | ---: | ---: | ---: |"]
        for operator, row in summary["operators"].items():
            lines.append(
                f"| {_md(operator)} | {_n(row.get('schools_in_footprint', float('nan')))} | "
                f"{_n(row.get('zero_rating_cost_usd_per_year', float('nan')))} | "
                f"{_n(row.get('operator_npv_usd', float('nan')))} |"
            )
    lines += ["", "The workbooks (`investment_case*.xlsx`) hold the same figures as live formulas: change an "
              "assumption on the Assumptions sheet and every total follows."]
    if missing:
        lines += ["", "## What these results lack", *[f"- {note}." for note in missing]]
    lines += ["", "## Files", *[f"- `{name}`" for name in outputs], ""]
    return "\n".join(lines)
