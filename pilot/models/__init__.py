"""All tables, imported here so Alembic and the app see one metadata."""
from pilot.models.accounts import User
from pilot.models.analytics import DailyRollup, DayRollup, RollupState
from pilot.models.feedback import Feedback, Report
from pilot.models.flags import Flag, Scenario
from pilot.models.interactions import Interaction, ModelPrice
from pilot.models.pilots import ApiKey, AuditEvent, Membership, Pilot
from pilot.models.prompts import Prompt, PromptEvent, PromptLabel, PromptVersion, RegressionItem
from pilot.models.readiness import AlertEvent, AlertRule, ChecklistAttestation, ReadinessReport

__all__ = [
    "AlertEvent", "AlertRule", "ApiKey", "AuditEvent", "ChecklistAttestation", "DailyRollup", "DayRollup", "Feedback",
    "Flag", "Interaction", "Membership", "ModelPrice", "Pilot", "Prompt", "PromptEvent", "PromptLabel",
    "PromptVersion", "RegressionItem",
    "ReadinessReport", "Report", "RollupState", "Scenario", "User",
]
