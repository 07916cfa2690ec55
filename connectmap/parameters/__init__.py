"""Every parameter of connectmap, one module per step, composed into :class:`connectmap.config.Config`.

Modules here import only pydantic and :mod:`connectmap.parameters._base`, so any step can import its section
without import cycles.
"""

from connectmap.parameters._base import ParameterInfo, Section, iter_parameters, param

__all__ = ["ParameterInfo", "Section", "iter_parameters", "param"]
