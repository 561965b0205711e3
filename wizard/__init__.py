from . import crm_mail_account_remove as crm_mail_account_remove
from . import crm_mail_create_opportunity as crm_mail_create_opportunity
from . import crm_mail_setup_wizard as crm_mail_setup_wizard
from . import crm_mail_setup_wizard_ews as crm_mail_setup_wizard_ews
from . import crm_mail_setup_wizard_graph as crm_mail_setup_wizard_graph
