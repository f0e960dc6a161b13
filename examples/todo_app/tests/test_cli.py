from todo.cli import main
from todo.serialization import dumps


def test_cli_prints_summary(store, tmp_path, capsys):
    path = tmp_path / "tasks.json"
    path.write_text(dumps(store.all()))
    assert main([str(path)]) == 0
    assert "3 open" in capsys.readouterr().out


def test_cli_usage():
    assert main([]) == 2
