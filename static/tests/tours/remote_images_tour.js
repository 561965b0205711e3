import { registry } from "@web/core/registry";

/**
 * A logged email holds a remote image (a tracking pixel served on 127.0.0.1
 * by the Python test, which counts its requests and answers the count on
 * /hits, whose link is in the email). Opening the contact sends no request
 * for it; "Show images" loads it.
 */
const ENTRY = ".o-mail-Message:has(.o_crm_mail_sync_email):contains(Catalogue)";
const BODY = `${ENTRY} div.overflow-x-auto`;

/** @param {ShadowRoot} root the email's body, where its /hits link is */
async function pixelHits(root) {
    const response = await fetch(root.querySelector("a[href$='/hits']").href, { cache: "no-store" });
    return (await response.json()).pixel;
}

registry.category("web_tour.tours").add("crm_mail_sync_remote_images", {
    steps: () => [
        {
            content: "The email is shown, its image blocked",
            timeout: 30000, // the chatter loads after the form; the machine may be busy
            trigger: `${BODY}:shadow img.o_crm_mail_blocked`,
        },
        {
            content: "No request left for the remote image",
            trigger: `${BODY}:shadow a[href$='/hits']`,
            async run() {
                const root = this.anchor.getRootNode();
                if (root.querySelector("img[src*='pixel.gif']")) {
                    throw new Error("the remote image is in the chatter before Show images");
                }
                await new Promise((resolve) => setTimeout(resolve, 1000));
                const hits = await pixelHits(root);
                if (hits !== 0) {
                    throw new Error(`the remote image was requested ${hits} time(s) before Show images`);
                }
            },
        },
        {
            content: "Show images, for this email",
            trigger: `${ENTRY} button.o_crm_mail_sync_show_images`,
            run: "click",
        },
        {
            content: "The image is there and was requested",
            trigger: `${BODY}:shadow img[src*='pixel.gif']`,
            async run() {
                const root = this.anchor.getRootNode();
                for (let attempt = 0; attempt < 50; attempt++) {
                    if ((await pixelHits(root)) > 0) {
                        return;
                    }
                    await new Promise((resolve) => setTimeout(resolve, 100));
                }
                throw new Error("the image was not loaded after Show images");
            },
        },
        {
            trigger: `${ENTRY}:not(:has(button.o_crm_mail_sync_show_images))`,
        },
    ],
});
