import { registry } from "@web/core/registry";

import { choose, openPreferences } from "@crm_mail_sync/../tests/tours/utils/steps";

/**
 * A salesperson working in Spanish connects their mailbox with the setup
 * wizard and declares an alias as another From address. The outgoing server
 * (a scripted SMTP server started by the Python test) refuses that alias at
 * MAIL FROM, as Postfix does for an address the login does not own: the
 * connection test names the refused address and says what to do, in Spanish,
 * and the wizard stays on the step.
 */

registry.category("web_tour.tours").add("crm_mail_sync_refused_sender_es", {
    steps: () => [
        ...openPreferences(),
        {
            content: "Connect my mailbox (in Spanish)",
            trigger: ".modal button[name=action_connect_my_mailbox]:contains(Conectar mi buzón de correo)",
            run: "click",
        },
        {
            content: "My own address is proposed",
            trigger: ".modal div[name=email] input:value(info@example.com)",
        },
        {
            content: "Next",
            trigger: ".modal footer button[name=action_detect]:contains(Siguiente)",
            run: "click",
        },
        {
            content: "The domain is unknown: the wizard says so, in Spanish",
            trigger: ".modal div[name=detection_note]:contains(introdúzcalos abajo)",
        },
        {
            trigger: ".modal div[name=imap_host] input",
            run: "edit 127.0.0.1",
        },
        ...choose("imap_security", "Ninguna (sin encriptar)"),
        {
            trigger: ".modal div[name=smtp_host] input",
            run: "edit 127.0.0.1",
        },
        ...choose("smtp_security", "Ninguna (sin encriptar)"),
        {
            trigger: ".modal div[name=password]:visible input",
            run: "edit Secret-Pa55word",
        },
        {
            content: "An alias the server will not let this login send as",
            trigger: ".modal div[name=extra_from] input",
            run: "edit ventas@example.com",
        },
        {
            content: "Test both servers",
            trigger: ".modal footer button[name=action_test]:contains(Probar conexión)",
            run: "click",
        },
        {
            content: "The refused address is named, with what to do, in Spanish",
            trigger:
                ".modal div[name=smtp_result]:contains(no permite que este usuario envíe como ventas@example.com):contains(Enviar como)",
        },
        {
            content: "The server's own words are shown beneath",
            trigger: ".modal div[name=smtp_result]:contains(Respuesta del servidor):contains(not owned by user)",
        },
        {
            content: "The mailbox's own address was accepted: the incoming server is connected",
            trigger: ".modal div[name=imap_result]:contains(Conectado)",
        },
        {
            content: "Still on the sign-in step: nothing was saved",
            trigger: ".modal footer button[name=action_test]",
        },
    ],
});
