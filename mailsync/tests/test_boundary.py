"""The engine knows nothing of Odoo: no code under ``mailsync/`` (its tests
apart) imports odoo or names a model, an Odoo data file or a configuration
option of the addon. The caller passes presets, keys, name servers and
endpoints as plain data, and words the engine's error codes itself.

What is forbidden is read from the addon itself (its manifest and its models'
``_name``/``_inherit``), so a new model or data file is covered at once.
"""

import ast
import os
import re

import pytest

ENGINE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADDON = os.path.dirname(ENGINE)
# The addon's configuration: its option and environment variable for the
# encryption keys, and the prefix of its system parameters.
CONFIG_NAMES = (r"\bcrm_mail_sync_key\b", r"\bCRM_MAIL_SYNC_KEY\b", r"\bcrm_mail_sync\.[a-z_]")
MODEL_DECLARATION = re.compile(r"^\s*_(?:name|inherit)\s*=\s*(.+)$", re.MULTILINE)
QUOTED = re.compile(r"[\"']([a-z_]+(?:\.[a-z_]+)+)[\"']")


def _engine_files():
    for folder, dirs, files in os.walk(ENGINE):
        dirs[:] = [name for name in dirs if name not in ("tests", "__pycache__")]
        for name in files:
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def _odoo_data_files():
    with open(os.path.join(ADDON, "__manifest__.py"), encoding="utf-8") as f:
        manifest = ast.literal_eval(f.read())
    return {os.path.basename(path) for key in ("data", "demo") for path in manifest.get(key, [])}


def _model_names():
    names = set()
    for folder in ("models", "wizard"):
        for name in os.listdir(os.path.join(ADDON, folder)):
            if name.endswith(".py"):
                with open(os.path.join(ADDON, folder, name), encoding="utf-8") as f:
                    for declaration in MODEL_DECLARATION.findall(f.read()):
                        names.update(QUOTED.findall(declaration))
    return names


def _forbidden():
    patterns = [r"\bodoo\b", r"\bcrm\.mail\.", *CONFIG_NAMES]
    patterns += [re.escape(name) for name in sorted(_odoo_data_files())]
    patterns += [rf"(?<![\w.]){re.escape(name)}(?![\w.])" for name in sorted(_model_names())]
    return re.compile("|".join(patterns))


def test_the_addon_is_read():
    assert "provider_presets.xml" in _odoo_data_files()
    assert {"crm.mail.account", "crm.mail.provider", "res.partner", "ir.mail_server"} <= _model_names()


def test_the_engine_names_nothing_of_the_addon():
    forbidden = _forbidden()
    found = []
    for path in _engine_files():
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                match = forbidden.search(line)
                if match:
                    found.append(f"{os.path.relpath(path, ADDON)}:{number}: {match.group(0)!r} in {line.strip()!r}")
    assert not found, "the engine must not know the Odoo side:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        "from odoo import models",
        'self.env["crm.mail.account"]',
        "partner = env['res.partner']",
        'os.path.join("data", "provider_presets.xml")',
        'config.get("crm_mail_sync_key")',
        'get_param("crm_mail_sync.dns_nameserver")',
    ],
)
def test_the_check_would_see_a_leak(line):
    assert _forbidden().search(line)
