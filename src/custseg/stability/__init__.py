"""How long segments stay valid: the maintenance decision, the temporal backtest and the contract.

* :mod:`.periods`: dates, periods, the feature window, options (``Period``, ``features_at``).
* :mod:`.panel`: the fixed share of people compared on large data.
* :mod:`.refits`: re-training (best of its starts) and agreement between labellings.
* :mod:`.decision`: the one decision at a date (:func:`assess`, :func:`decide`) that
  ``custseg monitor``, the backtest and ``custseg update`` all use.
* :mod:`.backtest`: the frozen reference model judged at every later step.
* :mod:`.contract`: the verdict (stable, retrain, unstable) and the maintenance contract.
* :mod:`.views`: words and tables rendered from the results.
"""
from __future__ import annotations

from .backtest import (MIN_REFERENCE_CUSTOMERS, RESULT_FORMAT, Backtest, BacktestSettings, backtest, backtest_dates,
                       protocol_block, reference_fit, short_history, step_record)
from .contract import maintenance_contract, monitor_every_days, recommendation
from .decision import (CALENDAR_FEATURES, DEFAULT_CHANGED_SHARE, DEFAULT_RELIABLE_ARI, DEFAULT_SHARE_POINTS,
                       Assessment, Decision, Reference, Triggers, assess, decide, staleness)
from .panel import (COMPARED_CUSTOMERS, PANEL_IDS, PANEL_SCHEMA, PANEL_TABLES, build_panel, compared_customers,
                    compared_panel, drop_panel, in_compared_share, panel_ids)
from .periods import (STUDY_FEATURES, WINDOW_SCHEMA, Period, counted_purchase_span, customers_at, default_reference,
                      default_until, features_at, first_month_start_after, parse_features, parse_period,
                      parse_window, searching, step_dates, window_view)
from .refits import (DECIMALS, DEFAULT_REFITS, RETRAIN_STARTS, Procedure, Refit, agreement, aligned_ids, band,
                     fixed_decimals, frozen_labels, peak_memory_mb, refit, refits, reset_peak_memory)
from .views import contract_text, decision_text, monitor_command, reason_text, step_table, verdict_text

__all__ = [
    "Assessment", "Backtest", "BacktestSettings", "CALENDAR_FEATURES", "COMPARED_CUSTOMERS", "DECIMALS",
    "DEFAULT_CHANGED_SHARE", "DEFAULT_REFITS", "DEFAULT_RELIABLE_ARI", "DEFAULT_SHARE_POINTS", "Decision",
    "MIN_REFERENCE_CUSTOMERS", "PANEL_IDS", "PANEL_SCHEMA", "PANEL_TABLES", "Period", "Procedure", "RESULT_FORMAT",
    "RETRAIN_STARTS", "Reference", "Refit", "STUDY_FEATURES", "Triggers", "WINDOW_SCHEMA", "agreement",
    "aligned_ids", "assess", "backtest", "backtest_dates", "band", "build_panel", "compared_customers",
    "compared_panel", "contract_text", "counted_purchase_span", "customers_at", "decide", "decision_text",
    "default_reference", "default_until", "drop_panel", "features_at", "fixed_decimals", "first_month_start_after",
    "frozen_labels", "in_compared_share", "maintenance_contract", "monitor_command", "monitor_every_days",
    "panel_ids", "parse_features", "parse_period", "parse_window", "peak_memory_mb", "protocol_block",
    "reason_text", "recommendation", "reference_fit", "refit", "refits", "reset_peak_memory", "searching",
    "short_history", "staleness", "step_dates", "step_record", "step_table", "verdict_text", "window_view",
]
