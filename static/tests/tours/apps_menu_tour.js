import { registry } from "@web/core/registry";

const CARD = ".o_kanban_record:has(.fw-bold:contains('CRM Mail Sync'))";

registry.category("web_tour.tours").add("crm_mail_sync_apps_menu", {
    steps: () => [
        {
            content: "The Apps menu opens with its default 'Apps' filter: remove it",
            trigger: ".o_searchview_facet .o_facet_remove",
            run: "click",
        },
        {
            content: "Search the addon by its name",
            trigger: ".o_searchview_input",
            run: "edit CRM Mail Sync",
        },
        {
            trigger: ".o_searchview_input",
            run: "press Enter",
        },
        {
            content: "Its card shows its own icon and summary, and no 'Activate' button",
            trigger: `${CARD}:has(img[src*='crm_mail_sync/static/description/icon.png']):contains(log sent and received email):not(:has(button:contains(Activate)))`,
        },
        {
            content: "Switch to the list view",
            trigger: ".o_switch_view.o_list",
            run: "click",
        },
        {
            content: "Its status there is 'Installed'",
            trigger: ".o_data_row:has(td:contains('CRM Mail Sync')) td[name=state]:contains(Installed)",
        },
    ],
});
