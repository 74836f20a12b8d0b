"""The regression set as files to replay offline: JSONL (one object a line) or CSV.

Read side: streamed in batches; CSV cells go through the readiness exports' formula-injection
guard (`csv_lines`), so an input starting with `=` stays text in a spreadsheet.
"""
from __future__ import annotations

import json
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.models import Interaction, Prompt, RegressionItem
from pilot.readiness.exports import STREAM_BATCH, csv_lines

COLUMNS = ("id", "input", "old_output", "old_version", "stratum", "confirmed_failure", "replay_version",
           "replay_output", "verdict")


def _rows(session: so.Session, prompt: Prompt) -> Iterator[dict[str, Any]]:
    statement = (
        sa.select(Interaction.event_id, Interaction.input_text, Interaction.output_text, Interaction.prompt_version,
                  RegressionItem.stratum, RegressionItem.confirmed_failure, RegressionItem.replay_version,
                  RegressionItem.replay_output, RegressionItem.verdict)
        .join(Interaction, Interaction.id == RegressionItem.interaction_id)
        .where(RegressionItem.prompt_id == prompt.id).order_by(RegressionItem.id)
        .execution_options(yield_per=STREAM_BATCH))
    for row in session.execute(statement):
        yield dict(zip(COLUMNS, row))


def regression_jsonl(session: so.Session, prompt: Prompt) -> Iterator[str]:
    for row in _rows(session, prompt):
        yield json.dumps(row, ensure_ascii=False) + "\n"


def regression_csv(session: so.Session, prompt: Prompt) -> Iterator[str]:
    return csv_lines(list(COLUMNS), ([row[c] for c in COLUMNS] for row in _rows(session, prompt)))
