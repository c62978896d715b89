"""The README's commands are the ones CI runs."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def readme_commands():
    return re.findall(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text(), re.S)


def test_ci_runs_the_readme_test_command_verbatim():
    main_command, test_command = readme_commands()[:2]
    assert "pytest" in test_command and "pytest" not in main_command
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_every_tool_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for tool in sorted((ROOT / "tools").glob("*.py")):
        assert f"tools/{tool.name}" in readme, tool.name


def test_readme_layout_map_matches_the_tree():
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout"):]
    mapped = set(re.findall(r"^  (\w+\.py) ", layout, re.M))
    modules = {p.name for p in (ROOT / "alexnet_tf").glob("*.py")} - {"__init__.py"}
    assert mapped == modules
