"""Alerts: thresholds on a pilot's error rate, latency and cost, checked over a recent window."""
