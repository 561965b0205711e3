import { registry } from "@web/core/registry";

/**
 * An administrator working in Spanish sets up the company logging mailbox
 * (a real Dovecot started by the Python test, whose server, port and
 * encryption are the administrator's defaults): Validate Setup names the
 * missing storage folder and what to do, Create Missing Folders creates it,
 * then the mailbox is enabled.
 */
registry.category("web_tour.tours").add("crm_mail_sync_company_logging_es", {
    steps: () => [
        {
            content: "No logging mailbox yet: create one",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            trigger: ".o_form_view div[name=email] input",
            run: "edit log@example.com",
        },
        {
            trigger: ".o_form_view div[name=imap_login] input",
            run: "edit log@example.com",
        },
        {
            trigger: ".o_form_view div[name=imap_password]:visible input",
            run: "edit log-Pa55word",
        },
        {
            content: "The queue is the inbox by default",
            trigger: ".o_form_view div[name=queue_folder] input:value(INBOX)",
        },
        {
            content: "A storage folder the mailbox does not have",
            trigger: ".o_form_view div[name=queue_storage_folder] input",
            run: "edit Archivo CRM",
        },
        {
            content: "Validate the setup (the form is saved first)",
            trigger: ".o_form_view button[name=action_validate_setup]:contains(Validar la configuración)",
            run: "click",
        },
        {
            content: "What is missing, and what to do, in Spanish",
            trigger:
                ".o_crm_mail_queue_report:contains(La carpeta de almacenamiento «Archivo CRM» aún no existe):contains(Crear las carpetas que faltan)",
        },
        {
            content: "Create the missing folders",
            trigger: ".o_form_view button[name=action_create_queue_folders]:contains(Crear las carpetas que faltan)",
            run: "click",
        },
        {
            content: "The setup is complete",
            trigger: ".o_notification:contains(La configuración está completa)",
        },
        {
            trigger: ".o_form_view:not(:has(.o_crm_mail_queue_report:visible))",
        },
        {
            content: "Enable it (the toggle saves the form itself)",
            trigger: ".o_form_view div[name=queue_enabled] input",
            run: "click",
        },
        {
            content: "Saved",
            trigger:
                ".o_form_view:has(div[name=queue_enabled] input:checked):not(:has(.o_form_button_save:visible))",
        },
        {
            content: "The logging address is shown",
            trigger: ".o_form_view .alert-info:contains(log@example.com)",
        },
    ],
});
