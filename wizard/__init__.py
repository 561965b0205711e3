from . import crm_mail_create_opportunity as crm_mail_create_opportunity
from . import crm_mail_setup_wizard as crm_mail_setup_wizard
