# The two commands of the README, and a few for development.
.PHONY: test run lint bench i18n wheel pytest screenshots

test:  ## lint + engine suite + Odoo suites (installs what it needs first)
	bash scripts/test.sh

run:  ## a demo database, a demo mailbox and SMTP catcher, and Odoo on http://127.0.0.1:8069
	bash scripts/run.sh

lint:  ## ruff (style) and pylint-odoo (the OCA's Odoo checks, .pylintrc)
	bash -c 'source scripts/env.sh && ensure_venv && "$$VENV/bin/ruff" check . && "$$VENV/bin/ruff" format --check .'
	bash scripts/pylint-odoo.sh

i18n:  ## export translatable terms to i18n/*.pot and merge them into fr.po and es.po
	bash scripts/i18n.sh

bench:  ## sync, matching, Exchange, chatter and queue benchmarks against real Dovecot and Odoo (figures in bench/RESULTS.md); ARGS="--messages 2000", EXCHANGE_ARGS="--messages 500" (default 2000), CHATTER_ARGS="--messages 100000", QUEUE_ARGS="--messages 5000"
	bash -c 'source scripts/env.sh && ensure_venv && CRM_MAIL_SYNC_ADDONS="$$(addons_link_dir)" "$$PY" bench/run.py $(ARGS) && "$$PY" bench/exchange_bench.py $(EXCHANGE_ARGS) && CRM_MAIL_SYNC_ADDONS="$$(addons_link_dir)" "$$PY" bench/chatter.py $(CHATTER_ARGS) && CRM_MAIL_SYNC_ADDONS="$$(addons_link_dir)" "$$PY" bench/queue_bench.py --output bench/RESULTS.md $(QUEUE_ARGS)'

wheel:  ## the addon's wheel, the OCA way (whool), from the last commit: dist/odoo_addon_crm_mail_sync-*.whl
	bash scripts/wheel.sh dist

pytest:  ## the Odoo suites under pytest-odoo in a throwaway database; ARGS="tests/test_interaction_log.py -k sharing"
	bash scripts/pytest-odoo.sh $(ARGS)

screenshots:  ## the Apps page's and README's screenshots (static/description/screenshot_*.png), from a throwaway demo database in headless Chromium
	bash scripts/screenshots.sh
