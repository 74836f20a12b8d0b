"""All tables, imported here so Alembic and the app see one metadata."""
from pilot.models.accounts import User
from pilot.models.alerts import AlertChannel, AlertDelivery
from pilot.models.analytics import DailyRollup, DayRollup, RollupChange, RollupState
from pilot.models.feedback import Feedback, Report
from pilot.models.flags import Flag, Scenario
from pilot.models.interactions import Interaction, ModelPrice
from pilot.models.jobs import BackgroundJob
from pilot.models.pilots import ApiKey, AuditEvent, Membership, Pilot
from pilot.models.prompts import Prompt, PromptEvent, PromptLabel, PromptVersion, RegressionItem
from pilot.models.readiness import (
    AlertEvent,
    AlertRule,
    ChecklistAttestation,
    LiveVerdict,
    ReadinessReport,
    ReadinessSignature,
)

__all__ = [
    "AlertChannel", "AlertDelivery", "AlertEvent", "AlertRule", "ApiKey", "AuditEvent", "BackgroundJob",
    "ChecklistAttestation", "DailyRollup", "DayRollup", "Feedback", "Flag", "Interaction", "LiveVerdict", "Membership", "ModelPrice",
    "Pilot", "Prompt", "PromptEvent", "PromptLabel", "PromptVersion", "ReadinessReport", "ReadinessSignature",
    "RegressionItem", "Report", "RollupChange", "RollupState", "Scenario", "User",
]
