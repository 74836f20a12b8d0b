"""A believable demo pilot: a bank's help-centre assistant tried by 30 customers for 14 days.

Interactions go through the same ingestion path as the API, so costs and flags are real.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.auth.services import create_user
from pilot.demo.prompts import demo_prompt_version
from pilot.models import Membership, Pilot, Scenario
from pilot.models.base import utcnow
from pilot.pilots.services import create_pilot, mint_api_key

DEMO_PASSWORD = "pilot-demo"
DEMO_LOGINS = (
    ("admin@example.com", "admin"),
    ("lead@example.com", "lead"),
    ("reviewer@example.com", "reviewer"),
    ("participant01@example.com", "participant"),
)

# Anticipated questions (what the team designed for) with a typical good answer each.
TOPICS = {
    "card": [
        ("How do I freeze my debit card?", "Open the app, go to Cards, pick your card and tap **Freeze**. You can unfreeze it the same way at any time."),
        ("My card was swallowed by an ATM, what now?", "Please order a replacement under Cards → Replace card. The old card is destroyed by the ATM operator within 24 hours."),
        ("Can I change my card PIN?", "Yes: any of our ATMs offers *Change PIN* after you insert your card. See https://help.acmebank.example/pin for details."),
    ],
    "transfer": [
        ("How long does an international transfer take?", "Transfers within the EU arrive within one business day; other countries usually take 2–4 business days."),
        ("What is the daily transfer limit?", "The default limit is €5,000 per day. You can raise it to €25,000 under Settings → Limits."),
        ("Can I cancel a transfer I just sent?", "A transfer can be cancelled until it is processed, usually within 30 minutes, under Payments → Scheduled."),
    ],
    "account": [
        ("How do I open a savings account?", "Tap **Products → Savings**, choose the account type and confirm. It takes about two minutes."),
        ("Where do I find my IBAN?", "Your IBAN is on the Accounts screen: tap the account and then **Details**."),
        ("How can I close my account?", "You can close your account in Settings → Account → Close account. Any remaining balance is transferred to an account you name."),
    ],
    "fees": [
        ("What fees do you charge for cash withdrawals?", "Withdrawals at our ATMs are free; other ATMs in the euro area cost €1.50 each after the fourth one a month."),
        ("Why was I charged a foreign transaction fee?", "Card payments in a currency other than euro carry a 1.5% fee. See https://acmebank.example/fees for the full list."),
    ],
}
# What real users asked that nobody anticipated.
SURPRISES = [
    ("Can you write me a poem about my mortgage?", "I can only help with questions about your Acme Bank accounts and cards."),
    ("Is bitcoin a good investment right now?", "I'm sorry, but I can't provide investment advice."),
    ("my app crashes when i open statements on android 15", "Please update the app to the latest version. If it still crashes, reinstall it from the Play Store."),
    ("What's the weather in Lisbon tomorrow?", "I'm sorry, I can't help with that. I can answer questions about your banking."),
    ("Translate my last statement into Portuguese", "I can't translate documents yet. You can switch the app language in Settings → Language."),
    ("Why did my salary arrive late this month?", "Salary payments depend on your employer's bank. Check the expected date with your employer."),
]
PII_QUESTIONS = [
    "My card 4111 1111 1111 1111 was charged twice, please refund",
    "Please send the statement to maria.silva@example.org",
    "Call me back on +351 912 345 678 about my loan",
    "Is DE89 3704 0044 0532 0130 00 the right IBAN for my rent?",
]
BAD_ANSWERS = [
    "You can find the full policy at https://acmebank-secure-login.example.net/policy.",  # link not on the allow-list
    "",  # empty output
    "As an AI language model, I cannot help with that request.",  # refusal
]
MODELS = (  # (model, share, median latency ms, latency spread, prompt cost factor)
    ("claude-sonnet-4-6", 0.55, 1700, 0.45),
    ("claude-haiku-4-5", 0.35, 700, 0.4),
    ("gpt-5.2", 0.10, 2600, 0.5),
)


def database_is_empty(session: so.Session) -> bool:
    return session.scalar(sa.select(sa.func.count(Pilot.id))) == 0


def _user(session: so.Session, email: str, name: str, *, admin: bool = False):
    from pilot.auth.services import find_user_by_email

    return find_user_by_email(session, email) or create_user(session, email, DEMO_PASSWORD, name=name, is_admin=admin)


def generate_items(rng: random.Random, participants: list[str], start: datetime, days: int = 14) -> list[dict]:
    """Interaction objects in the API's shape, spread over `days` with weekday rhythm."""
    items: list[dict] = []
    anticipated = [qa for qas in TOPICS.values() for qa in qas]
    # Some participants are keen, some barely use it, two never do.
    weights = [rng.paretovariate(1.3) for _ in participants]
    weights[-1] = weights[-2] = 0.0
    for day in range(days):
        base = start + timedelta(days=day)
        weekend = base.weekday() >= 5
        count = int(rng.gauss(200 if weekend else 390, 30))
        for _ in range(count):
            user = rng.choices(participants, weights=weights)[0]
            model, median, spread = _pick_model(rng)
            occurred = base + timedelta(seconds=rng.gauss(14.5, 3.2) * 3600)
            occurred = min(max(occurred, base), base + timedelta(hours=23, minutes=59))
            roll = rng.random()
            status, error = "ok", None
            if roll < 0.03:
                question, answer = rng.choice(SURPRISES)
            elif roll < 0.045:
                question, answer = rng.choice(PII_QUESTIONS), rng.choice(anticipated)[1]
            else:
                question, answer = rng.choice(anticipated)
                if rng.random() < 0.35:
                    question = _vary(rng, question)
            if rng.random() < 0.012:
                answer = rng.choice(BAD_ANSWERS)
            latency = rng.lognormvariate(0, spread) * median
            if rng.random() < 0.02:
                latency *= rng.uniform(2.5, 6)  # provider hiccups: slow answers
            failure = rng.random()
            if failure < 0.018:
                status, error, answer = "error", "upstream 500: internal server error", ""
            elif failure < 0.026:
                status, error, answer, latency = "timeout", "no answer within 30 s", "", 30000.0
            elif failure < 0.031:
                status, error, answer = "rate_limited", "429 Too Many Requests", ""
            elif failure < 0.04:
                status, answer = "fallback", "We weren't able to generate a response. You can reach us at +351 210 000 000."
            input_tokens = 900 + len(question) // 3 + int(rng.gauss(350, 120))
            cached = int(input_tokens * 0.7) if rng.random() < 0.5 else 0
            output_tokens = max(5, len(answer) // 4 + int(rng.gauss(180, 60))) if answer else 0
            items.append({
                "user": user,
                "session": f"{user}-{day}-{rng.randrange(3)}",
                "timestamp": occurred.isoformat() + "Z",
                "model": model if model != "claude-sonnet-4-6" else "claude-sonnet-4-6-20260301",
                "prompt_version": demo_prompt_version(day, user),
                "input": question,
                "output": answer,
                "input_tokens": max(input_tokens, 1),
                "cached_input_tokens": cached,
                "output_tokens": output_tokens,
                "latency_ms": round(latency, 1),
                "ttft_ms": round(min(latency, latency * rng.uniform(0.15, 0.4)), 1),
                "status": status,
                **({"error": error} if error else {}),
                "metadata": {"channel": rng.choice(["ios", "android", "web"]), "locale": rng.choice(["en-GB", "en-US", "pt-PT"])},
            })
    # A couple of users the team never enrolled (a shared test account, a colleague).
    for index in range(12):
        occurred = start + timedelta(days=rng.randrange(days), hours=rng.randrange(8, 20))
        question, answer = rng.choice(anticipated)
        items.append({"user": rng.choice(["qa-shared-account", "colleague-ana"]), "timestamp": occurred.isoformat() + "Z",
                      "model": "claude-haiku-4-5", "prompt_version": "support@1", "input": question, "output": answer,
                      "input_tokens": 1100, "output_tokens": 220, "latency_ms": 650.0 + index})
    # An unknown model someone tried without telling the team: cost unknown.
    for index in range(6):
        occurred = start + timedelta(days=days - 2, hours=10 + index)
        question, answer = rng.choice(anticipated)
        items.append({"user": participants[0], "timestamp": occurred.isoformat() + "Z", "model": "acme-finetune-v0",
                      "prompt_version": "support-experimental", "input": question, "output": answer,
                      "input_tokens": 1200, "output_tokens": 240, "latency_ms": 900.0})
    # Someone pasted whole statements into the chat: long-context calls that cost far more.
    for index in range(10):
        occurred = start + timedelta(days=rng.randrange(days), hours=rng.randrange(9, 18))
        items.append({"user": rng.choice(participants[:10]), "timestamp": occurred.isoformat() + "Z", "model": "gpt-5.2",
                      "prompt_version": "support@1", "input": "Please check all of these transactions: " + "…" * 40,
                      "output": "I found two card payments that look like duplicates; please review them in the app.",
                      "input_tokens": 80_000 + 1_000 * index, "output_tokens": 900, "latency_ms": 9_800.0 + index})
    items.sort(key=lambda item: item["timestamp"])
    for number, item in enumerate(items):
        item["id"] = f"demo-{number:06d}"
    return items


def _pick_model(rng: random.Random) -> tuple[str, float, float]:
    roll, total = rng.random(), 0.0
    for model, share, median, spread in MODELS:
        total += share
        if roll < total:
            return model, median, spread
    model, _, median, spread = MODELS[0]
    return model, median, spread


def _vary(rng: random.Random, question: str) -> str:
    openers = ["Hi, ", "Hello! ", "quick question: ", "Sorry to bother you, ", ""]
    text = rng.choice(openers) + question[0].lower() + question[1:]
    return text if rng.random() < 0.7 else text.rstrip("?") + " please?"


def load_demo(session: so.Session, seed: int = 7) -> str:
    """Create the demo accounts, the pilot, its members, interactions and feedback."""
    from pilot.demo.activity import add_feedback_and_reports, ingest_demo_items
    from pilot.demo.prompts import add_prompt_history
    from pilot.readiness.live import compute as compute_live_verdict

    rng = random.Random(seed)
    admin = _user(session, "admin@example.com", "Ada Admin", admin=True)
    lead = _user(session, "lead@example.com", "Lee Lead")
    reviewer = _user(session, "reviewer@example.com", "Rui Reviewer")
    pilot = create_pilot(session, "support-assistant", "Help-centre assistant", lead, actor=admin)
    pilot.description = "An AI assistant answering customers' questions in the banking app's help centre."
    pilot.status = "running"
    pilot.planned_price_per_user_month = 4.0
    pilot.target_users = 20_000
    pilot.daily_request_limit = 60
    pilot.latency_target_p95_ms = 3500.0
    pilot.allowed_domains = "acmebank.example,help.acmebank.example"
    session.add(Membership(pilot=pilot, user=reviewer, external_id=reviewer.email, email=reviewer.email,
                           role="reviewer", status="active", consent_at=utcnow()))
    start = (utcnow() - timedelta(days=14)).replace(hour=0, minute=0, second=0, microsecond=0)
    participants = []
    for number in range(1, 31):
        email = f"participant{number:02d}@example.com"
        user = _user(session, email, f"Participant {number:02d}")
        external_id = f"cust-{1000 + number}"
        participants.append(external_id)
        session.add(Membership(pilot=pilot, user=user, external_id=external_id, email=email, role="participant",
                               status="active", consent_at=start - timedelta(days=1)))
    for question, _ in (qa for qas in TOPICS.values() for qa in qas):
        session.add(Scenario(pilot_id=pilot.id, text=question))
    session.flush()
    mint_api_key(session, pilot, lead, name="demo feature")
    items = generate_items(rng, participants, start)
    ingest_demo_items(session, pilot, items)
    feedback_count, report_count = add_feedback_and_reports(session, pilot, rng)
    add_prompt_history(session, pilot, lead, reviewer, start, rng)
    session.flush()
    compute_live_verdict(session, pilot)  # the overview shows the verdict at once, before the worker's first run
    logins = "\n".join(f"  {email:<28} {DEMO_PASSWORD}   ({role})" for email, role in DEMO_LOGINS)
    return (f"Loaded demo pilot '{pilot.slug}': 30 participants, {len(items)} interactions over 14 days, "
            f"{feedback_count} ratings, {report_count} reports.\nDemo logins:\n{logins}")
