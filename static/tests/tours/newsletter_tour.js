import { registry } from "@web/core/registry";

/**
 * After a sync of a mailbox holding, from a customer, a real question and
 * their newsletter (List-Unsubscribe, List-Id, Precedence: bulk), and from
 * strangers an inquiry and another newsletter: the customer's chatter shows
 * the question, its body read in the email's shadow root, and not the
 * newsletter (first tour); New Senders lists the inquiry, not the stranger's
 * newsletter (second tour). The Python test runs the sync first.
 */
registry.category("web_tour.tours").add("crm_mail_sync_newsletter_contact", {
    steps: () => [
        {
            content: "The real email is in the contact's chatter, its body included",
            timeout: 30000, // the chatter loads after the form; the machine may be busy
            trigger: ".o-mail-Message:has(.o_crm_mail_sync_email):contains(Delivery date) div.overflow-x-auto:shadow p:contains(confirm the delivery date)",
        },
        {
            content: "The newsletter is not",
            trigger: ".o-mail-Chatter:has(.o_crm_mail_sync_email):not(:contains(Weekly deals))",
        },
    ],
});

registry.category("web_tour.tours").add("crm_mail_sync_newsletter_new_senders", {
    steps: () => [
        {
            content: "The stranger's inquiry is in New Senders",
            trigger: ".o_list_view .o_data_row td[name=subject]:contains(Quote for 40 desks)",
        },
        {
            content: "Their newsletter is not",
            trigger: ".o_list_view:not(:contains(This week in furniture)) .o_data_row:contains(nina@newco.example)",
        },
    ],
});
