import { registry } from "@web/core/registry";

/**
 * A salesperson working in French opens New Senders: a first inquiry from
 * someone who is not a contact yet is there; from it they create an
 * opportunity, pre-filled from the email, and land on it with the email in
 * its chatter. The Python test lists the email first (as the sync does).
 */
registry.category("web_tour.tours").add("crm_mail_sync_new_sender_fr", {
    steps: () => [
        {
            content: "New Senders, in French",
            trigger: ".o_breadcrumb:contains(Nouveaux expéditeurs)",
        },
        {
            content: "The inquiry is listed with its sender",
            trigger: ".o_list_view .o_data_row:contains(nina@newco.example) td[name=subject]:contains(Devis pour 40 bureaux)",
            run: "click",
        },
        {
            content: "Read its first lines",
            trigger: ".o_form_view button[name=action_show_preview]",
            run: "click",
        },
        {
            trigger: ".o_form_view div[name=preview]:contains(40 bureaux pour nos nouveaux locaux)",
        },
        {
            content: "Create the opportunity",
            trigger: ".o_form_view button[name=action_create_opportunity]:contains(Créer une opportunité)",
            run: "click",
        },
        {
            content: "Pre-filled from the email",
            trigger: ".modal div[name=name] input:value(Devis pour 40 bureaux)",
        },
        {
            trigger: ".modal div[name=partner_id] input:value(Nina Newco)",
        },
        {
            trigger: ".modal footer button[name=action_create]",
            run: "click",
        },
        {
            content: "On the new opportunity",
            trigger: ".o_form_view div[name=expected_revenue]",
        },
        {
            content: "with the email in its chatter",
            trigger: ".o-mail-Chatter .o-mail-Message div.overflow-x-auto:shadow p:contains(40 bureaux pour nos nouveaux locaux)",
        },
    ],
});
