"""Storage: tables, migrations and repositories (the only code that speaks SQL)."""
