from . import test_graph_outgoing as test_graph_outgoing
from . import test_install as test_install
from . import test_ir_mail_server as test_ir_mail_server
from . import test_mail_account as test_mail_account
from . import test_microsoft_sign_in as test_microsoft_sign_in
from . import test_setup_wizard as test_setup_wizard
from . import test_translations as test_translations
from . import test_ui as test_ui
