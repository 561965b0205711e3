import { registry } from "@web/core/registry";

/**
 * A salesperson opens a customer whose chatter holds two emails received in
 * their mailbox: an unwanted offer from the customer's work address, and a
 * note from their private Gmail address. From the offer's chatter entry they
 * block its sender (the Gmail one offers no "Block Domain": a public
 * provider is never blocked whole); once confirmed, the offer leaves the
 * chatter and the other email stays. The Python test logs the emails first
 * and checks the blocklist afterwards.
 */
const OFFER = ".o-mail-Message:has(.o_crm_mail_sync_email):contains(Special offer)";
const PRIVATE = ".o-mail-Message:has(.o_crm_mail_sync_email):contains(From home)";

registry.category("web_tour.tours").add("crm_mail_sync_block_sender", {
    steps: () => [
        {
            content: "The offer offers to block its sender or domain",
            timeout: 30000, // the chatter loads after the form; the machine may be busy
            trigger: `${OFFER} .o_crm_mail_sync_block_domain:contains(Block Domain)`,
        },
        {
            content: "A Gmail address: the sender only, never gmail.com",
            trigger: `${PRIVATE} .o_crm_mail_sync_actions:has(.o_crm_mail_sync_block_sender):not(:has(.o_crm_mail_sync_block_domain))`,
        },
        {
            content: "Block the offer's sender",
            trigger: `${OFFER} .o_crm_mail_sync_block_sender:contains(Block Sender)`,
            run: "click",
        },
        {
            content: "Asked first, saying what happens",
            trigger: ".modal:contains(Block this sender?) .modal-body:contains(bea@customer.example):contains(removed from the CRM)",
        },
        {
            trigger: ".modal footer button.btn-danger:contains(Block Sender)",
            run: "click",
        },
        {
            content: "Done, and said so",
            trigger: ".o_notification:contains(bea@customer.example is blocked)",
        },
        {
            content: "The offer left the chatter; the Gmail email stays",
            trigger: `.o-mail-Chatter:not(:has(${OFFER})) ${PRIVATE}`,
        },
    ],
});
