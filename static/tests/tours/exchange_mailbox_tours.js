import { registry } from "@web/core/registry";

import { openPreferences } from "@crm_mail_sync/../tests/tours/utils/steps";

/**
 * Exchange mailboxes connected through the setup wizard, from the user's
 * preferences. The servers are the local EWS endpoint and the local
 * Microsoft identity + Graph server that the Python test starts.
 */

function openTheWizard() {
    return [
        ...openPreferences(),
        {
            content: "Connect my mailbox",
            trigger: ".modal button[name=action_connect_my_mailbox]",
            run: "click",
        },
    ];
}

/**
 * A salesperson connects the mailbox of their company's Exchange server: the
 * domain's Autodiscover names the server, so the wizard proposes "Exchange
 * Server (on-premises)" with its EWS URL; a wrong password is refused with
 * what to do, the right one connects.
 */
registry.category("web_tour.tours").add("crm_mail_sync_exchange_server_wizard", {
    steps: () => [
        ...openTheWizard(),
        {
            trigger: ".modal .o_crm_mail_setup_wizard div[name=email] input",
            run: "edit sam@onprem.example",
        },
        {
            content: "Next",
            trigger: ".modal footer button[name=action_detect]",
            run: "click",
        },
        {
            content: "Autodiscover found an Exchange server",
            trigger: ".modal .o_crm_mail_setup_wizard div[name=detection_note]:contains(Microsoft Exchange)",
        },
        {
            content: "Exchange Server (on-premises) is chosen",
            trigger: ".modal .o_crm_mail_setup_wizard div[name=server_kind] input[data-value=ews]:checked",
        },
        {
            content: "The EWS URL is asked, not the IMAP servers",
            trigger: ".modal .o_crm_mail_setup_wizard:has(div[name=ews_url] input):not(:has(div[name=imap_host]))",
        },
        {
            trigger: ".modal .o_crm_mail_setup_wizard div[name=imap_login] input",
            run: "edit CORP\\sam",
        },
        {
            trigger: ".modal .o_crm_mail_setup_wizard div[name=password]:visible input",
            run: "edit not-the-password",
        },
        {
            content: "Test the connection",
            trigger: ".modal footer button[name=action_test]",
            run: "click",
        },
        {
            content: "Refused, with what to do",
            trigger: ".modal .o_crm_mail_setup_wizard div[name=imap_result]:contains(rejected the user name or password)",
        },
        {
            trigger: ".modal .o_crm_mail_setup_wizard div[name=password]:visible input",
            run: "edit sam-Pa55word",
        },
        {
            trigger: ".modal footer button[name=action_test]",
            run: "click",
        },
        {
            content: "Accepted: choose who sees my email",
            trigger: ".modal .o_crm_mail_setup_wizard div[name=sharing] label:contains(My sales team)",
            run: "click",
        },
        {
            trigger: ".modal footer button[name=action_finish]",
            run: "click",
        },
        {
            content: "Connected",
            trigger: ".modal .o_crm_mail_setup_done:contains(Your mailbox is connected)",
        },
        {
            trigger: ".modal footer button[name=action_open_account]",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains(Connected)",
        },
    ],
});

/**
 * An administrator connects a company-wide Microsoft 365 mailbox through
 * Microsoft Graph with the app registration's own permission: nobody signs in.
 */
registry.category("web_tour.tours").add("crm_mail_sync_graph_company_wizard", {
    steps: () => [
        ...openTheWizard(),
        {
            trigger: ".modal .o_crm_mail_setup_wizard div[name=email] input",
            run: "edit sales@contoso.onmicrosoft.com",
        },
        {
            content: "A mailbox of the company",
            trigger: ".modal .o_crm_mail_setup_wizard div[name=company_wide] input",
            run: "click",
        },
        {
            trigger: ".modal footer button[name=action_detect]",
            run: "click",
        },
        {
            content: "Microsoft 365 is recognised",
            trigger: ".modal .o_crm_mail_setup_wizard div[name=detection_note]:contains(Microsoft 365)",
        },
        {
            content: "Microsoft Graph is recommended",
            trigger: ".modal .o_crm_mail_setup_wizard div[name=read_through] input[data-value=graph]:checked",
        },
        {
            content: "Connect with the app registration",
            trigger: ".modal button[name=action_connect_graph_app]",
            run: "click",
        },
        {
            content: "Connected",
            trigger: ".modal .o_crm_mail_setup_done:contains(Your mailbox is connected)",
        },
        {
            trigger: ".modal footer button[name=action_open_account]",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains(Connected)",
        },
    ],
});
