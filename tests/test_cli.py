import sqlalchemy as sa

from pilot.models import ApiKey, Membership, Pilot


def test_cli_creates_user_pilot_member_and_key(runner, db):
    result = runner.invoke(args=["pilot", "create-user", "lead@example.com", "--password", "long password", "--admin"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["pilot", "create", "my-pilot", "--name", "My pilot", "--lead", "lead@example.com"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["pilot", "enroll", "my-pilot", "--external-id", "u-1", "--email", "u1@example.com"])
    assert result.exit_code == 0 and "/invite/" in result.output.splitlines()[-1]
    result = runner.invoke(args=["pilot", "api-key", "my-pilot"])
    assert result.exit_code == 0
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("pk_") and db.session.scalar(sa.select(ApiKey)).prefix == secret[:11]


def test_cli_errors_are_clear_and_non_zero(runner, db):
    runner.invoke(args=["pilot", "create-user", "a@example.com", "--password", "long password"])
    result = runner.invoke(args=["pilot", "create-user", "a@example.com", "--password", "long password"])
    assert result.exit_code != 0 and "already exists" in result.output
    result = runner.invoke(args=["pilot", "enroll", "ghost", "--external-id", "x"])
    assert result.exit_code != 0 and "No pilot 'ghost'" in result.output
    result = runner.invoke(args=["pilot", "create", "p-1", "--name", "P", "--lead", "nobody@example.com"])
    assert result.exit_code != 0 and "No user" in result.output
    runner.invoke(args=["pilot", "create", "p-1", "--name", "P", "--lead", "a@example.com"])
    assert runner.invoke(args=["pilot", "settings", "p-1", "min_participants=1", "max_participants=1"]).exit_code == 0
    assert runner.invoke(args=["pilot", "enroll", "p-1", "--external-id", "x1"]).exit_code == 0
    result = runner.invoke(args=["pilot", "enroll", "p-1", "--external-id", "x2"])
    assert result.exit_code != 0 and "full" in result.output
    assert db.session.scalar(sa.select(sa.func.count(Membership.id)).where(Membership.external_id == "x2")) == 0


def test_cli_settings_show_and_change(runner, db):
    runner.invoke(args=["pilot", "create-user", "a@example.com", "--password", "long password"])
    runner.invoke(args=["pilot", "create", "p-1", "--name", "P", "--lead", "a@example.com"])
    result = runner.invoke(args=["pilot", "settings", "p-1", "target_users=5000", "allowed_domains="])
    assert result.exit_code == 0 and "target_users=5000 (changed)" in result.output
    assert db.session.scalar(sa.select(Pilot.target_users)) == 5000
    result = runner.invoke(args=["pilot", "settings", "p-1", "sampling_rate"])
    assert result.exit_code != 0 and "KEY=VALUE" in result.output
