"""The dependency engine: `analyse` a callable once, then `Solver.solve` it per connection."""

from wsapi.dependencies.analysis import analyse
from wsapi.dependencies.models import Dependant, ParamField
from wsapi.dependencies.solving import NO_BODY, Errors, Solver

__all__ = ["NO_BODY", "Dependant", "Errors", "ParamField", "Solver", "analyse"]
