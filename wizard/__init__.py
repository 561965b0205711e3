from . import crm_mail_setup_wizard as crm_mail_setup_wizard
