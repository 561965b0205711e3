import datetime
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from odoo.tests import HttpCase, tagged

from .common import TOUR_TAG, InteractionCase, load_language
from .mail_samples import raw_email

# A 1x1 transparent GIF.
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


class PixelServer:
    """A tracking-pixel server on 127.0.0.1: counts the requests for
    ``/pixel.gif``; ``/hits`` answers ``{"pixel": n}`` to any origin (CORS),
    so a tour can ask it during its run."""

    def __init__(self):
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.startswith("/pixel.gif"):
                    outer.hits += 1
                    body, kind = PIXEL, "image/gif"
                else:
                    body, kind = json.dumps({"pixel": outer.hits}).encode(), "application/json"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@tagged("post_install", "-at_install", TOUR_TAG)
class TestChatterTourFrench(HttpCase, InteractionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        load_language(cls.env, "fr_FR")
        cls.sam.write({"lang": "fr_FR", "tz": "Europe/Paris"})

    def test_french_salesperson_creates_an_opportunity_from_the_chatter(self):
        self.opportunity.action_set_lost()
        self.ingest(
            self.sam_box,
            raw_email(
                "Bea <bea@customer.example>",
                self.sam.email,
                subject="Commande de 500 chaises",
                date=datetime.datetime(2026, 11, 25, 6, 42, 56, tzinfo=datetime.UTC),
            ),
        )
        # Otto's mailbox is private: Sam never sees its email.
        self.ingest(self.otto_box, raw_email("bea@customer.example", self.otto.email, subject="Tarif confidentiel"))
        self.start_tour(f"/odoo/contacts/{self.customer.id}", "crm_mail_sync_chatter_fr", login="sam")
        lead = self.env["crm.lead"].search([("name", "=", "Commande de 500 chaises")])
        self.assertEqual((lead.type, lead.partner_id, lead.user_id), ("opportunity", self.customer, self.sam))


@tagged("post_install", "-at_install", TOUR_TAG)
class TestRemoteImagesTour(HttpCase, InteractionCase):
    def test_no_request_leaves_for_a_remote_image_until_show_images(self):
        with PixelServer() as pixels:
            html = (
                f'<p>Our new catalogue <img src="{pixels.url}/pixel.gif?u=bea" alt="pixel"></p>'
                f'<p><a href="{pixels.url}/hits">statistics</a></p>'
            )
            self.ingest(self.sam_box, raw_email("bea@customer.example", self.sam.email, subject="Catalogue", html=html))
            self.start_tour(f"/odoo/contacts/{self.customer.id}", "crm_mail_sync_remote_images", login="sam")
            self.assertEqual(pixels.hits, 1, "the image was loaded once, after Show images")
