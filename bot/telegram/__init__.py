"""The Telegram channel: webhook (or long polling), rendering and delivery through the Bot API."""
