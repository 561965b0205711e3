import { registry } from "@web/core/registry";

/**
 * A salesperson opens a customer: the email logged from their mailbox shows
 * in the chatter; the Emails list searches by who shared it (a
 * teammate's); from their email they create an opportunity and land on it,
 * with the email in its chatter. The Python test logs the emails first.
 */
registry.category("web_tour.tours").add("crm_mail_sync_emails", {
    steps: () => [
        {
            content: "The logged email is in the contact's chatter",
            trigger: ".o-mail-Message:contains(Order of 500 chairs)",
        },
        {
            content: "and so is the teammate's, shared with the team",
            trigger: ".o-mail-Message:contains(Delivery dates)",
        },
        {
            content: "Open the Emails list",
            trigger: ".o_form_view button[name=action_open_crm_mail_interactions]:contains(2)",
            run: "click",
        },
        {
            content: "Only the teammate's: search who shared it",
            trigger: ".o_searchview_input",
            run: "edit Tina",
        },
        {
            trigger: '.o_searchview_autocomplete .o-dropdown-item:contains("Shared By")',
            run: "click",
        },
        {
            trigger: ".o_list_view .o_data_row:contains(Delivery dates)",
        },
        {
            trigger: ".o_list_view:not(:has(.o_data_row:contains(Order of 500 chairs)))",
        },
        {
            content: "Back to all",
            trigger: '.o_searchview_facet:contains("Tina") .o_facet_remove',
            run: "click",
        },
        {
            trigger: ".o_list_view .o_data_row:contains(Order of 500 chairs)",
        },
        {
            content: "Open my email",
            trigger: ".o_list_view .o_data_row:contains(Order of 500 chairs) td[name=subject]",
            run: "click",
        },
        {
            trigger: ".o_form_view button[name=action_create_opportunity]",
            run: "click",
        },
        {
            content: "The opportunity is named after the subject",
            trigger: ".modal div[name=name] input:value(Order of 500 chairs)",
        },
        {
            trigger: ".modal footer button[name=action_create]:contains(Create Opportunity)",
            run: "click",
        },
        {
            content: "On the new opportunity",
            trigger: ".o_form_view div[name=expected_revenue]",
        },
        {
            // The chatter hides a subject equal to the record's name, and shows
            // an email's body in a shadow root: look for the body there.
            content: "with the email in its chatter",
            trigger: ".o-mail-Chatter .o-mail-Message div.overflow-x-auto:shadow p:contains(Could you send the quote?)",
        },
    ],
});
