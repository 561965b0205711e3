import { registry } from "@web/core/registry";

import { choose, openPreferences } from "@crm_mail_sync/../tests/tours/utils/steps";

/**
 * A salesperson working in French connects their mailbox with the setup
 * wizard, from their preferences: email address, servers (their domain is
 * unknown, so they enter them), password, connection test of both servers,
 * sharing, connected. The servers are a real Dovecot and a real SMTP server
 * started by the Python test on free ports, which it sets as the user's
 * default ports (in place of the usual 993 and 587).
 */

registry.category("web_tour.tours").add("crm_mail_sync_setup_wizard_fr", {
    steps: () => [
        ...openPreferences(),
        {
            content: "Connect my mailbox (in French)",
            trigger: ".modal button[name=action_connect_my_mailbox]:contains(Connecter ma boîte mail)",
            run: "click",
        },
        {
            content: "My own address is proposed",
            trigger: ".modal div[name=email] input:value(alice@example.com)",
        },
        {
            content: "Next",
            trigger: ".modal footer button[name=action_detect]:contains(Suivant)",
            run: "click",
        },
        {
            content: "The domain is unknown: the wizard says so, in French",
            trigger: ".modal div[name=detection_note]:contains(saisissez-les ci-dessous)",
        },
        {
            trigger: ".modal div[name=imap_host] input",
            run: "edit 127.0.0.1",
        },
        ...choose("imap_security", "Aucun (non chiffré)"),
        {
            trigger: ".modal div[name=smtp_host] input",
            run: "edit 127.0.0.1",
        },
        ...choose("smtp_security", "Aucun (non chiffré)"),
        {
            trigger: ".modal div[name=password]:visible input",
            run: "edit alice-Pa55word",
        },
        {
            content: "Test both servers",
            trigger: ".modal footer button[name=action_test]:contains(Test de connexion)",
            run: "click",
        },
        {
            content: "Both accepted: choose who sees my email",
            trigger: ".modal div[name=sharing] label:contains(Mon équipe commerciale)",
            run: "click",
        },
        {
            trigger: ".modal footer button[name=action_finish]:contains(Terminer)",
            run: "click",
        },
        {
            content: "Connected, told in French",
            trigger: ".modal .o_crm_mail_setup_done:contains(Votre boîte mail est connectée)",
        },
        {
            trigger: ".modal footer button[name=action_open_account]",
            run: "click",
        },
        {
            content: "The mailbox shows as connected",
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains(Connectée)",
        },
    ],
});
