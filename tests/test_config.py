from pathlib import Path

import pytest
from helpers import run_doit, write_files

from doit_scout.config import ConfigError, ScoutConfig, load_config, parse_config


def test_no_table_means_detect_everything(tmp_path: Path):
    write_files(tmp_path, {"pyproject.toml": "[project]\nname = 'x'\n"})
    config = load_config(tmp_path)
    assert config.packages is None and config.test_dirs is None and config.exclude == ()


def test_valid_table_is_read(tmp_path: Path):
    write_files(tmp_path, {"pyproject.toml": """
        [tool.scout]
        packages = ["src/app/"]
        test_dirs = ["tests"]
        exclude = ["scratch/**"]
        parse_workers = 0
        categories = { docs = ["notes/**"] }
    """, "src/app/__init__.py": "", "tests/test_app.py": ""})
    config = load_config(tmp_path)
    assert config == ScoutConfig(
        packages=("src/app",), test_dirs=("tests",), exclude=("scratch/**",), parse_workers=0,
        categories={"docs": ("notes/**",)},
    )


@pytest.mark.parametrize("table, words", [
    ({"pakages": ["a"]}, ["'pakages'", "packages, test_dirs"]),
    ({"packages": "src"}, ["packages = 'src'", "a list of folders"]),
    ({"exclude": [1]}, ["exclude = [1]", "a list of non-empty strings"]),
    ({"categories": {"sources": ["*.py"]}}, ["'categories.sources'", "source, test, conftest"]),
    ({"categories": ["docs"]}, ["categories = ['docs']", "a table mapping a category"]),
    ({"parse_workers": -1}, ["parse_workers = -1", "a whole number >= 0"]),
    ({"parse_workers": True}, ["parse_workers = True"]),
    ({"test": {"timeout": "soon"}}, ["test.timeout = 'soon'", 'a duration such as "90s"']),
    ({"test": {"timeout": 0}}, ["test.timeout = 0", "a number of seconds > 0"]),
])
def test_malformed_table_names_key_value_and_what_is_allowed(table, words):
    with pytest.raises(ConfigError) as err:
        parse_config(table)
    for word in words:
        assert word in str(err.value)


def test_invalid_toml_names_the_file(tmp_path: Path):
    write_files(tmp_path, {"pyproject.toml": "[tool.scout\npackages = 1\n"})
    with pytest.raises(ConfigError, match=r"pyproject.toml:1:\d+: not valid TOML: .* in line 1 \('\[tool.scout'\)"):
        load_config(tmp_path)


def test_doit_reports_bad_config_before_doing_any_work(project: Path):
    (project / "pyproject.toml").write_text("[tool.scout]\ntest_dirs = 'tests'\n")
    (project / "dodo.py").write_text("from doit_scout.dodo import *\n")
    result = run_doit(project, "scout")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "[tool.scout] test_dirs = 'tests' is not allowed; expected a list of folders" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / ".scout" / "state.json").exists()


def test_folders_that_do_not_exist_are_named(tmp_path: Path):
    write_files(tmp_path, {"pyproject.toml": "[tool.scout]\npackages = ['src/app', 'src/ap']\n",
                           "src/app/__init__.py": ""})
    with pytest.raises(ConfigError, match=r"packages = \['src/app', 'src/ap'\] .* 'src/ap' is not a folder"):
        load_config(tmp_path)


def test_a_timeout_is_seconds_or_a_duration():
    assert parse_config({"test": {"timeout": "20m"}}).test.timeout == 1200
    assert parse_config({"test": {"timeout": 90}}).test.timeout == 90
