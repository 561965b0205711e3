"""The addon's wheel, built the OCA way (scripts/wheel.sh: whool from the virtualenv, no download)."""

import email.parser
import subprocess
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_is_odoo_addon_crm_mail_sync_with_its_python_dependencies(tmp_path):
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "wheel.sh"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("odoo_addon_crm_mail_sync-19.0.*-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(archive.read(metadata_name).decode())
    # Installed, the addon is odoo/addons/crm_mail_sync, where Odoo finds addons of wheels.
    assert "odoo/addons/crm_mail_sync/__manifest__.py" in names
    assert "odoo/addons/crm_mail_sync/mailsync/imap_sync.py" in names
    assert not [n for n in names if n.startswith("odoo/addons/crm_mail_sync/.git/")]
    assert metadata["Name"] == "odoo-addon-crm_mail_sync"
    requires = metadata.get_all("Requires-Dist")
    assert "odoo==19.0.*" in requires
    for dependency in ("imapclient", "msal", "exchangelib", "dnspython", "webencodings", "authres"):
        assert dependency in requires
