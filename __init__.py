# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
# The protocol and mail logic lives in the odoo-free package `mailsync`;
# the Odoo side (models, wizards, controllers) only stores state and calls it.
from . import controllers as controllers
from . import models as models
from . import wizard as wizard
from .hooks import post_init_hook as post_init_hook
from .hooks import uninstall_hook as uninstall_hook
