import { registry } from "@web/core/registry";

/**
 * An administrator opens the mailbox list while a stored password is under an
 * encryption key that is no longer configured: one error above the list, whose
 * button leads to the Mail Sync settings, which show the same error and the
 * "Re-encrypt Secrets" button.
 */
registry.category("web_tour.tours").add("crm_mail_sync_key_banner", {
    steps: () => [
        {
            content: "The configuration error is above the mailbox list",
            trigger: ".o_crm_mail_sync_key_banner:contains(Stored mail secrets cannot be decrypted):contains(Connected Mailbox (1))",
        },
        {
            content: "The mailboxes are listed below it",
            trigger: ".o_list_renderer .o_data_row",
        },
        {
            content: "Open the Mail Sync settings from the banner",
            trigger: ".o_crm_mail_sync_key_banner button:contains(Open Mail Sync Settings)",
            run: "click",
        },
        {
            content: "The settings show the same error",
            trigger: "#crm_mail_sync_keys .alert-danger:contains(Stored mail secrets cannot be decrypted)",
        },
        {
            content: "and the re-encryption button",
            trigger: "#crm_mail_sync_keys button[name=action_crm_mail_sync_reencrypt]",
        },
    ],
});
