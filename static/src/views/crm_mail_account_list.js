import { onWillStart, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { ListController } from "@web/views/list/list_controller";
import { listView } from "@web/views/list/list_view";

/**
 * The mailbox list, with the encryption key configuration error above it
 * (administrators only: the server answers nothing to anyone else). The text
 * comes translated from the server (crm.mail.account.crm_mail_sync_key_banner).
 */
export class CrmMailAccountListController extends ListController {
    static template = "crm_mail_sync.CrmMailAccountListView";

    setup() {
        super.setup();
        this.orm = useService("orm");
        this.banner = useState({ message: false, button: false });
        onWillStart(async () => {
            const banner = await this.orm.call("crm.mail.account", "crm_mail_sync_key_banner", []);
            Object.assign(this.banner, banner || { message: false, button: false });
        });
    }

    openMailSyncSettings() {
        this.actionService.doAction("crm.crm_config_settings_action");
    }
}

registry.category("views").add("crm_mail_account_list", {
    ...listView,
    Controller: CrmMailAccountListController,
});
