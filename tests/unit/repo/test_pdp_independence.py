"""The test PDP is an independent evaluator: it imports nothing of the collection under test.

What the parity tests prove rests on this: tests/bed/pdp_server.py decides by evaluating the
published Rego (policy/flex-auth/*.rego) on regopy, never by calling the collection's gate.
"""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SERVER = ROOT / "tests" / "bed" / "pdp_server.py"
FORBIDDEN = ("ansible_collections", "plugins", "ansible", "tests")


def collection_imports(source):
    """Every import in ``source`` that reaches the collection (or Ansible, or the test helpers)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else ["." * node.level + (node.module or "")]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__"):
            names = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        found += [n for n in names if n.startswith(".") or n.split(".")[0] in FORBIDDEN]
    return found


def test_pdp_server_imports_nothing_of_the_collection():
    source = SERVER.read_text()
    assert collection_imports(source) == []
    assert "sys.path.insert" not in source and "module_utils" not in source


def test_the_check_sees_a_planted_import():
    source = SERVER.read_text()
    for planted in ("from ansible_collections.netkingdom.warden.plugins.module_utils import gate\n",
                    "import ansible_collections.netkingdom.warden.plugins.module_utils._gate.rules as g\n",
                    "importlib.import_module('ansible_collections.netkingdom.warden.plugins.module_utils._gate.rules')\n",
                    "from plugins.module_utils import registry\n"):
        assert collection_imports(source + planted), planted


def test_loaded_pdp_module_pulls_in_no_collection_module(tmp_path):
    """Import the server in a clean interpreter and list what it loaded."""
    probe = ("import runpy, sys; runpy.run_path(%r, run_name='pdp'); "
             "import regopy; "
             "bad = [m for m in sys.modules if m.split('.')[0] in ('ansible_collections', 'ansible', 'plugins')]; "
             "print(bad); sys.exit(1 if bad else 0)" % str(SERVER))
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          cwd=str(tmp_path), env={"PATH": "/usr/bin:/bin"}, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
