# Order matters: Odoo registers models in import order, mixins before their users.
# ruff: noqa: I001
from . import crm_mail_secret_mixin as crm_mail_secret_mixin
from . import crm_mail_oauth_mixin as crm_mail_oauth_mixin
from . import crm_mail_provider as crm_mail_provider
from . import crm_mail_account as crm_mail_account
from . import crm_mail_account_sync as crm_mail_account_sync
from . import crm_mail_account_keys as crm_mail_account_keys
from . import crm_mail_account_spoofing as crm_mail_account_spoofing
from . import crm_mail_account_queue as crm_mail_account_queue
from . import crm_mail_account_graph as crm_mail_account_graph
from . import crm_mail_account_ews as crm_mail_account_ews
from . import crm_mail_skipped_message as crm_mail_skipped_message
from . import crm_mail_folder as crm_mail_folder
from . import ir_mail_server as ir_mail_server
from . import res_users as res_users
from . import res_config_settings as res_config_settings
from . import crm_mail_partner_email as crm_mail_partner_email
from . import res_partner as res_partner
from . import crm_mail_interaction_share as crm_mail_interaction_share
from . import crm_mail_interaction as crm_mail_interaction
from . import crm_mail_interaction_forward as crm_mail_interaction_forward
from . import crm_lead as crm_lead
from . import mail_message as mail_message
from . import crm_team as crm_team
from . import ir_rule as ir_rule
from . import crm_mail_prospects as crm_mail_prospects
from . import crm_mail_interaction_block as crm_mail_interaction_block
