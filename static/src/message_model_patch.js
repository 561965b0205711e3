import { Message } from "@mail/core/common/message_model";
import { fields } from "@mail/core/common/record";

import { patch } from "@web/core/utils/patch";

/**
 * A chatter entry of an email logged by crm_mail_sync carries `crm_mail_sync`
 * (mail.message._extras_to_store): its From/To/Cc block and date rendered
 * for the reader, who shared it and how, and the actions the reader may take.
 */
patch(Message.prototype, {
    setup() {
        super.setup(...arguments);
        this.crm_mail_sync = fields.Attr(false);
        /** Set once "Show images" loaded the original body of this email. */
        this.crmMailImagesShown = fields.Attr(false);
    },

    /** A body from the server is the blocked one again: offer "Show images" again. */
    update(data) {
        if (data && typeof data === "object" && "body" in data) {
            this.crmMailImagesShown = false;
        }
        super.update(data);
    },
});
