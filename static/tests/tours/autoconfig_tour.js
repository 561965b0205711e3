import { registry } from "@web/core/registry";

import { openPreferences } from "@crm_mail_sync/../tests/tours/utils/steps";

/**
 * A salesperson working in French types an address at a domain that only its
 * host's autoconfig file describes (a local HTTPS server started by the Python
 * test, reached through a local DNS server): the wizard fills the servers in,
 * says where they come from, in French, and links the provider's instructions.
 */
registry.category("web_tour.tours").add("crm_mail_sync_autoconfig_fr", {
    steps: () => [
        ...openPreferences(),
        {
            content: "Connect my mailbox (in French)",
            trigger: ".modal button[name=action_connect_my_mailbox]:contains(Connecter ma boîte mail)",
            run: "click",
        },
        {
            content: "The wizard is open",
            trigger: ".modal footer button[name=action_detect]",
        },
        {
            content: "An address at a domain served by its host's autoconfig",
            trigger: ".modal:has(footer button[name=action_detect]) div[name=email] input",
            run: "edit sam@boutique.example",
        },
        {
            content: "Next",
            trigger: ".modal footer button[name=action_detect]:contains(Suivant)",
            run: "click",
        },
        {
            content: "The wizard says where the servers come from, in French",
            trigger: ".modal div[name=detection_note]:contains(Trouvé dans la configuration de votre fournisseur)",
        },
        {
            content: "The incoming server is filled in",
            trigger: ".modal div[name=imap_host] input:value(mail.boutique.example)",
        },
        {
            content: "The outgoing server is filled in",
            trigger: ".modal div[name=smtp_host] input:value(smtp.boutique.example)",
        },
        {
            content: "The user name the provider expects",
            trigger: ".modal div[name=imap_login] input:value(sam)",
        },
        {
            content: "The provider's instructions are linked",
            trigger: ".modal div[name=detection_help_url] a[href='https://help.boutique.example/mail']",
        },
    ],
});
