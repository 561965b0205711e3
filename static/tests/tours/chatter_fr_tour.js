import { registry } from "@web/core/registry";

/**
 * A French salesperson in Paris opens a customer: the email logged from
 * their mailbox says who shared it and how, its From/To and date in French
 * and Paris time; a colleague's private email is not there. From the chatter
 * they create an opportunity, and land on it, where the same email now offers
 * to open it. The Python test logs the emails first.
 */
const ENTRY = ".o-mail-Message:has(.o_crm_mail_sync_email):contains(Commande de 500 chaises)";

registry.category("web_tour.tours").add("crm_mail_sync_chatter_fr", {
    steps: () => [
        {
            content: "Shared by Sam, with the team, in French",
            timeout: 30000, // the chatter loads after the form; the machine may be busy
            trigger: `${ENTRY} .o_crm_mail_sync_shared:contains(Partagé par):contains(Sam Seller):contains(Équipe commerciale)`,
        },
        {
            content: "From and To, with French labels",
            trigger: `${ENTRY} .o_crm_mail_sync_line:contains(De :):contains(bea@customer.example)`,
        },
        {
            trigger: `${ENTRY} .o_crm_mail_sync_line:contains(À :)`,
        },
        {
            content: "The date in the French format and Paris time",
            trigger: `${ENTRY} .o_crm_mail_sync_date:contains(25/11/2026 07:42:56)`,
        },
        {
            content: "Otto's private email is not shown",
            trigger: ".o-mail-Chatter:not(:contains(Tarif confidentiel))",
        },
        {
            content: "Open Email is offered",
            trigger: `${ENTRY} .o_crm_mail_sync_open_email:contains(Ouvrir l'e-mail)`,
        },
        {
            content: "Create the opportunity from the chatter",
            trigger: `${ENTRY} .o_crm_mail_sync_create_opportunity:contains(Créer une opportunité)`,
            run: "click",
        },
        {
            content: "The opportunity is named after the subject",
            trigger: ".modal div[name=name] input:value(Commande de 500 chaises)",
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
            content: "its chatter shows the email, which now opens the opportunity",
            trigger: ".o-mail-Chatter .o-mail-Message .o_crm_mail_sync_open_opportunity:contains(Ouvrir l'opportunité)",
        },
    ],
});
