"""The addon's provider presets, read from its data file for the engine suite
and the benchmarks, so that they use the same values as the database.

The engine itself never reads this file: the Odoo side loads it into its
provider model and passes the records' values as plain data.
"""

import os

from lxml import etree

from mailsync.presets import Preset

#: The data file shipped with the addon (``mailsync/`` sits at the addon root).
DEFAULT_PRESETS_FILE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "data", "provider_presets.xml"
)

MODEL = "crm.mail.provider"


class PresetFileError(ValueError):
    """The presets file is not a well-formed preset data file."""


def load_presets(path=DEFAULT_PRESETS_FILE):
    """Parse the Odoo data file at ``path``; return the presets by sequence.

    Only ``<record model="crm.mail.provider">`` elements are read; each
    ``<field>`` is either text or ``eval="True"``/``eval="False"`` (the only
    ``eval`` expressions allowed, since nothing is evaluated here).
    """
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        tree = etree.parse(path, parser)  # noqa: S320 - the addon's own data file; no entities, no network
    except (OSError, etree.XMLSyntaxError) as exc:
        raise PresetFileError(f"{path}: {exc}") from exc
    presets = []
    for record in tree.iter("record"):
        if record.get("model") != MODEL:
            continue
        values = {}
        for field in record.iterfind("field"):
            name = field.get("name")
            if not name:
                raise PresetFileError(f"{path}:{field.sourceline}: <field> without a name")
            if field.get("eval") is not None:
                expression = field.get("eval").strip()
                if expression not in ("True", "False"):
                    raise PresetFileError(f"{path}:{field.sourceline}: unsupported eval {expression!r}")
                values[name] = expression == "True"
            else:
                values[name] = (field.text or "").strip()
        if not values.get("code") or not values.get("name"):
            raise PresetFileError(f"{path}:{record.sourceline}: record {record.get('id')!r} needs a code and a name")
        try:
            presets.append(Preset.from_mapping(values))
        except ValueError as exc:
            raise PresetFileError(f"{path}:{record.sourceline}: {exc}") from exc
    return sorted(presets, key=lambda preset: (preset.sequence, preset.name))
