import { Message } from "@mail/core/common/message";

import { patch } from "@web/core/utils/patch";

patch(Message.prototype, {
    get crmMailSync() {
        return this.message.crm_mail_sync || false;
    },

    onClickCrmMailOpenEmail() {
        this.env.services.action.doAction({
            type: "ir.actions.act_window",
            res_model: "crm.mail.interaction",
            res_id: this.crmMailSync.interaction_id,
            views: [[false, "form"]],
            target: "current",
        });
    },

    async onClickCrmMailCreateOpportunity() {
        const action = await this.env.services.orm.call(
            "crm.mail.interaction",
            "action_create_opportunity",
            [[this.crmMailSync.interaction_id]]
        );
        this.env.services.action.doAction(action);
    },

    onClickCrmMailOpenOpportunity() {
        this.env.services.action.doAction({
            type: "ir.actions.act_window",
            res_model: "crm.lead",
            res_id: this.crmMailSync.lead.id,
            views: [[false, "form"]],
            target: "current",
        });
    },

    /** Remote images stay blocked until asked for, for this email only. */
    async onClickCrmMailShowImages() {
        const body = await this.env.services.orm.call(
            "crm.mail.interaction",
            "crm_mail_body_with_images",
            [[this.crmMailSync.interaction_id]]
        );
        this.message.update({ body: ["markup", body] });
        this.message.crmMailImagesShown = true;
    },
});
