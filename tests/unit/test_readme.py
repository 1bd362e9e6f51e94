"""The README's configuration table names every setting (documentation that cannot drift)."""

from pathlib import Path

from runtime.settings import Settings

README = Path(__file__).parents[2] / "README.md"


def env_name(field: str) -> str:
    return {"kafka_bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS", "database_url": "DATABASE_URL"}.get(
        field, f"ATA_{field.upper()}"
    )


def test_every_setting_is_in_the_readme_configuration_table():
    text = README.read_text()
    missing = [env_name(f) for f in Settings.model_fields if f"| `{env_name(f)}` |" not in text]
    assert missing == []


def test_readme_gives_the_two_commands():
    text = README.read_text()
    assert "make demo" in text and "make test" in text
