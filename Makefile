# The two commands a newcomer needs: `make run` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
# Database tests run on SQLite and on this PostgreSQL database (CI's, and the dev machine's).
TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export FLASK_APP := bot

.PHONY: run test lint format system-deps extract-locales update-locales compile-locales migrate

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# Debian's chromium (for the browser tests), a Thai font and a colour emoji font (so Thai and
# the bot's 🙏 render, not boxes).
system-deps:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list | grep -qi tlwg || ! fc-list | grep -qi "color emoji"; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		$$SUDO apt-get install -y -qq chromium fonts-thai-tlwg fonts-noto-color-emoji >/dev/null; \
	fi

compile-locales: $(BIN)/.installed
	$(BIN)/pybabel compile --domain messages --directory locales --statistics

extract-locales: $(BIN)/.installed
	$(BIN)/pybabel extract --mapping babel.cfg --keywords Msg --keywords say --keywords translate \
		--no-location --sort-output --output-file locales/messages.pot survey_flows bot

update-locales: extract-locales
	$(BIN)/pybabel update --input-file locales/messages.pot --output-dir locales --domain messages \
		--no-fuzzy-matching --ignore-obsolete

migrate: $(BIN)/.installed
	$(BIN)/flask migrate

# The web app and the delivery worker together; Ctrl-C stops both. The simulator is on here,
# for trying the bot; the Procfile's web: leaves it off.
# Calendar links in the chat point at this server unless PUBLIC_BASE_URL says otherwise.
run: export PUBLIC_BASE_URL := $(or $(PUBLIC_BASE_URL),http://127.0.0.1:$(PORT))
run: $(BIN)/.installed compile-locales migrate
	$(BIN)/flask load-demo
	$(BIN)/flask demo-admin
	$(BIN)/flask worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	SIMULATOR_ENABLED=1 $(BIN)/gunicorn --bind 127.0.0.1:$(PORT) --workers 2 --threads 4 --access-logfile - 'bot:create_app()'

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(BIN)/.installed system-deps compile-locales lint
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest
