"""moto 5.2.5's CloudWatch knows no percentiles: GetMetricData with a
``p99``/``p50`` statistic answered HTTP 500 once the window held data. AWS
computes them from the values put. Fixed for values put one by one or as
``Values``/``Counts`` (moto keeps those as single values); values put as
``StatisticValues`` carry no distribution and give none, as in AWS.
"""

from __future__ import annotations

import math
import re
from typing import Any

from moto.cloudwatch import models as cw_models

_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")
_original = cw_models.Statistics.get_statistics_for_type


def percentile(values: list[float], p: float) -> float | None:
    """The nearest-rank percentile (what CloudWatch reports for raw values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _get_statistics_for_type(self: Any, stat: str) -> Any:  # noqa: ANN401
    found = _PERCENTILE.match(stat)
    if found:
        return percentile(self.metric_single_values_list, float(found.group(1)))
    return _original(self, stat)


cw_models.Statistics.get_statistics_for_type = _get_statistics_for_type
