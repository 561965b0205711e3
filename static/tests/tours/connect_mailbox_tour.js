import { registry } from "@web/core/registry";

import { openPreferences } from "@crm_mail_sync/../tests/tours/utils/steps";

/**
 * A salesperson working in French opens their mailboxes from their
 * preferences, creates one on the form and tests the connection (against a real Dovecot started by the
 * Python test, whose server and port are the user's defaults).
 */
registry.category("web_tour.tours").add("crm_mail_sync_connect_mailbox_fr", {
    steps: () => [
        ...openPreferences(),
        {
            content: "My mailboxes (in French)",
            trigger: ".modal button[name=action_open_my_mailboxes]:contains(Mes boîtes mail)",
            run: "click",
        },
        {
            content: "No mailbox yet: create one",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            trigger: ".o_form_view div[name=email] input",
            run: "edit alice@example.com",
        },
        {
            content: "The server and port are already filled in",
            trigger: ".o_form_view div[name=imap_host] input:value(127.0.0.1)",
        },
        {
            content: "The port shows as a plain number, not a grouped amount",
            trigger: ".o_form_view div[name=imap_port] input",
            run() {
                if (!/^\d+$/.test(this.anchor.value)) {
                    throw new Error(`the port reads "${this.anchor.value}"`);
                }
            },
        },
        {
            content: "Encryption: none (the test server is local)",
            trigger: ".o_form_view div[name=imap_security] .o_select_menu_toggler",
            run: "click",
        },
        {
            trigger: ".o_select_menu_item:contains(Aucun (non chiffré))",
            run: "click",
        },
        {
            trigger: ".o_form_view div[name=imap_login] input",
            run: "edit alice@example.com",
        },
        {
            trigger: ".o_form_view div[name=imap_password]:visible input",
            run: "edit alice-Pa55word",
        },
        {
            content: "Test the connection (the form is saved first)",
            trigger: ".o_form_view button[name=action_test_connection]:contains(Test de connexion)",
            run: "click",
        },
        {
            content: "Success is told in French",
            trigger: ".o_notification:contains(Connecté à 127.0.0.1)",
        },
        {
            content: "and the mailbox shows as connected",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains(Connectée)",
        },
        {
            content: "The password field is empty again: it is never sent back",
            trigger: ".o_form_view div[name=imap_password]:visible input:value()",
        },
    ],
});
