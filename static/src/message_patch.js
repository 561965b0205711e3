import { Message } from "@mail/core/common/message";

import { patch } from "@web/core/utils/patch";

patch(Message.prototype, {
    get crmMailSync() {
        return this.message.crm_mail_sync || false;
    },

    /** Open one record's form in the main window. */
    crmMailOpenForm(resModel, resId) {
        this.env.services.action.doAction({
            type: "ir.actions.act_window",
            res_model: resModel,
            res_id: resId,
            views: [[false, "form"]],
            target: "current",
        });
    },

    onClickCrmMailOpenEmail() {
        this.crmMailOpenForm("crm.mail.interaction", this.crmMailSync.interaction_id);
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
        this.crmMailOpenForm("crm.lead", this.crmMailSync.lead.id);
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
