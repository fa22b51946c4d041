"""agentloom's settings for the embedded PostgreSQL: written at every start, included once."""

from services.dev.embedded_pg import SERVER_SETTINGS, SETTINGS_FILE, write_server_settings


def test_settings_are_included_once_and_rewritten(tmp_path):
    (tmp_path / "postgresql.conf").write_text("max_connections = 100\n")
    write_server_settings(tmp_path)
    write_server_settings(tmp_path)
    conf = (tmp_path / "postgresql.conf").read_text().splitlines()
    assert conf.count(f"include_if_exists = '{SETTINGS_FILE}'") == 1
    assert conf[0] == "max_connections = 100"  # the include comes last, so it wins
    (tmp_path / SETTINGS_FILE).write_text("max_connections = 5\n")  # a hand edit
    write_server_settings(tmp_path)
    assert f"max_connections = {SERVER_SETTINGS['max_connections']}" in (tmp_path / SETTINGS_FILE).read_text()
