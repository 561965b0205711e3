import { Message } from "@mail/core/common/message";

import { ConfirmationDialog } from "@web/core/confirmation_dialog/confirmation_dialog";
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

    /**
     * Block Sender / Block Domain, for the owner of the mailbox the email came
     * from: once confirmed, the server blocks it and removes what was logged
     * from it for this user; their chatter entries leave the store here.
     *
     * @param {"address"|"domain"} kind
     */
    onClickCrmMailBlock(kind) {
        const crmMail = this.crmMailSync;
        this.dialog.add(ConfirmationDialog, {
            title: crmMail.labels.block_title,
            body: kind === "domain" ? crmMail.block.confirm_domain : crmMail.block.confirm_address,
            confirmLabel: kind === "domain" ? crmMail.labels.block_domain : crmMail.labels.block_sender,
            confirmClass: "btn-danger",
            confirm: async () => {
                const result = await this.env.services.orm.call(
                    "crm.mail.interaction",
                    "crm_mail_block_sender",
                    [[crmMail.interaction_id]],
                    { kind }
                );
                for (const messageId of result.message_ids) {
                    this.store["mail.message"].get(messageId)?.delete();
                }
                this.env.services.notification.add(result.message, { type: "success" });
            },
            cancel: () => {},
        });
    },
});
